//! `meseta master`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use meseta_master::config::{RegistryConfig, Settings};
use meseta_master::{MasterConfig, MasterServer};
use meseta_proto::duration::{format as format_duration, parse as parse_duration};
use meseta_proto::verbosity::VerbosityControl;

/// Flags of `meseta master` (Mesos's names where Mesos has the flag).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// Port to listen on (HTTP API and agents); 0 picks a free port, written to `<work-dir>/address`.
    #[arg(long, default_value_t = 5050)]
    port: u16,
    /// Directory for the master's state.
    #[arg(long, default_value = "/var/lib/meseta/master")]
    work_dir: PathBuf,
    /// Hostname to advertise (defaults to the IP).
    #[arg(long)]
    hostname: Option<String>,
    /// Cluster name shown in the endpoints.
    #[arg(long)]
    cluster: Option<String>,
    /// Time between allocation cycles, e.g. `1secs`, `200ms`.
    #[arg(long, default_value = "1secs", value_parser = parse_duration)]
    allocation_interval: Duration,
    /// How often agents are pinged; an unanswered ping counts as a timeout.
    #[arg(long, default_value = "15secs", value_parser = parse_duration)]
    agent_ping_timeout: Duration,
    /// Ping timeouts in a row before an agent is marked unreachable.
    #[arg(long, default_value_t = 5)]
    max_agent_ping_timeouts: u32,
    /// ZooKeeper group for leader election among several masters,
    /// `zk://HOST:PORT[,HOST:PORT]/PATH` (Mesos's layout). Without it this
    /// master leads alone.
    #[arg(long)]
    zk: Option<String>,
    /// Size of the masters' replicated-log quorum (Mesos's flag). Accepted with
    /// --zk for compatibility; the registry is kept in ZooKeeper, which has
    /// its own quorum, so the value is not used.
    #[arg(long)]
    quorum: Option<u32>,
    /// ZooKeeper session timeout (for the election and the registry). A
    /// leader cut off from ZooKeeper this long steps down.
    #[arg(long, default_value = "10secs", value_parser = parse_duration)]
    zk_session_timeout: Duration,
    /// Where the registry (admitted, unreachable and gone agents; frameworks)
    /// is kept: `zookeeper` (default with --zk), `local` (files under
    /// `<work-dir>/registry`, the default without --zk) or `in_memory`
    /// (nothing survives a restart).
    #[arg(long, value_parser = ["zookeeper", "local", "in_memory", "replicated_log"])]
    registry: Option<String>,
    /// After a failover or restart, how long agents have to re-register
    /// before they are marked unreachable.
    #[arg(long, default_value = "10mins", value_parser = parse_duration)]
    agent_reregister_timeout: Duration,
    /// Rescind offers a framework holds longer than this and offer their
    /// resources again (e.g. `5mins`); by default offers never time out.
    #[arg(long, value_parser = parse_duration)]
    offer_timeout: Option<Duration>,
    /// Interval of HEARTBEAT events on scheduler streams.
    #[arg(long, default_value = "15secs", value_parser = parse_duration)]
    heartbeat_interval: Duration,
    /// Offer agents that have GPUs only to frameworks with the
    /// GPU_RESOURCES capability, so that GPU machines stay free for GPU
    /// work (`--filter-gpu-resources=false` offers them to everyone).
    #[arg(long, num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    filter_gpu_resources: bool,
    /// Role weights for a new cluster, `ROLE=WEIGHT[,ROLE=WEIGHT...]`
    /// (e.g. `eng=2,ops=0.5`): a role of weight 2 gets twice the fair share
    /// of a role of weight 1; roles not named weigh 1. The first leader
    /// stores them in the registry; from then on they are changed with
    /// `PUT /weights` or the operator API's UPDATE_WEIGHTS, and this flag is
    /// ignored (with a warning), as in Mesos.
    #[arg(long, value_parser = parse_weights_flag)]
    weights: Option<String>,
    /// Also write the log to `meseta-master.log` in this directory
    /// (appended), served at `/master/log` by `/files/*` and the operator
    /// API's LIST_FILES and READ_FILE.
    #[arg(long)]
    log_dir: Option<PathBuf>,
}

/// Checks `--weights` as it is parsed, so that a typo stops the master
/// with clap's usage message.
fn parse_weights_flag(text: &str) -> Result<String, String> {
    meseta_proto::roles::parse_weights(text).map(|_| text.to_string())
}

impl Args {
    /// Every flag with its value in force (given or default), by Mesos's
    /// names and in Mesos's notation, as `/master/state` and GET_FLAGS show them.
    fn flags(&self) -> BTreeMap<String, String> {
        let duration = |d: Duration| format_duration(d);
        let mut flags = BTreeMap::new();
        let mut put = |name: &str, value: String| {
            flags.insert(name.to_string(), value);
        };
        put("ip", self.ip.to_string());
        put("port", self.port.to_string());
        put("work_dir", self.work_dir.display().to_string());
        if let Some(hostname) = &self.hostname {
            put("hostname", hostname.clone());
        }
        if let Some(cluster) = &self.cluster {
            put("cluster", cluster.clone());
        }
        put("allocation_interval", duration(self.allocation_interval));
        put("agent_ping_timeout", duration(self.agent_ping_timeout));
        put(
            "max_agent_ping_timeouts",
            self.max_agent_ping_timeouts.to_string(),
        );
        if let Some(zk) = &self.zk {
            put("zk", zk.clone());
        }
        if let Some(quorum) = self.quorum {
            put("quorum", quorum.to_string());
        }
        put("zk_session_timeout", duration(self.zk_session_timeout));
        let registry = match (&self.registry, &self.zk) {
            (Some(registry), _) => registry.clone(),
            (None, Some(_)) => "zookeeper".into(),
            (None, None) => "local".into(),
        };
        put("registry", registry);
        put(
            "agent_reregister_timeout",
            duration(self.agent_reregister_timeout),
        );
        if let Some(timeout) = self.offer_timeout {
            put("offer_timeout", duration(timeout));
        }
        put("heartbeat_interval", duration(self.heartbeat_interval));
        put(
            "filter_gpu_resources",
            self.filter_gpu_resources.to_string(),
        );
        if let Some(weights) = &self.weights {
            put("weights", weights.clone());
        }
        if let Some(dir) = &self.log_dir {
            put("log_dir", dir.display().to_string());
        }
        flags
    }
}

pub fn run(args: Args, verbosity: VerbosityControl) -> anyhow::Result<ExitCode> {
    let log_file = args
        .log_dir
        .as_deref()
        .map(|dir| crate::logging::log_to(dir, "meseta-master"))
        .transpose()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let zk = args
        .zk
        .as_deref()
        .map(meseta_core::zookeeper::ZkUrl::parse)
        .transpose()
        .context("bad --zk")?;
    if args.quorum.is_some() && zk.is_none() {
        anyhow::bail!("--quorum only makes sense with --zk");
    }
    let registry = match (args.registry.as_deref(), &args.zk) {
        (Some("in_memory"), _) => RegistryConfig::InMemory,
        (None | Some("zookeeper" | "replicated_log"), Some(url)) => RegistryConfig::ZooKeeper {
            url: url.clone(),
            session_timeout: args.zk_session_timeout,
        },
        (Some("zookeeper"), None) => anyhow::bail!("--registry=zookeeper needs --zk"),
        (None | Some("local" | "replicated_log"), None) => RegistryConfig::Local,
        (Some(other), Some(_)) => anyhow::bail!(
            "--registry={other} cannot be shared by several masters; use zookeeper or in_memory with --zk"
        ),
        (Some(other), None) => anyhow::bail!("unknown --registry={other}"),
    };
    let weights = match args.weights.as_deref() {
        Some(text) => meseta_proto::roles::parse_weights(text)
            .map_err(|e| anyhow::anyhow!("bad --weights: {e}"))?,
        None => BTreeMap::new(),
    };
    runtime.block_on(async move {
        let config = MasterConfig {
            flags: args.flags(),
            verbosity: Some(verbosity),
            log_file,
            start_as_leader: zk.is_none(),
            registry,
            ip: args.ip,
            port: args.port,
            hostname: args.hostname,
            work_dir: args.work_dir.clone(),
            cluster: args.cluster,
            allocation_interval: args.allocation_interval,
            filter_gpu_resources: args.filter_gpu_resources,
            settings: Settings {
                heartbeat_interval: args.heartbeat_interval,
                agent_ping_timeout: args.agent_ping_timeout,
                max_agent_ping_timeouts: args.max_agent_ping_timeouts,
                agent_reregister_timeout: args.agent_reregister_timeout,
                offer_timeout: args.offer_timeout,
                weights,
                ..Settings::default()
            },
        };
        let mut server = MasterServer::start(config).await?;
        let address = server.address().to_string();
        super::publish_address(&args.work_dir, &address)?;
        tracing::info!(%address, "master ready; scheduler API at http://{address}/api/v1/scheduler");
        let handle = server.handle();
        let session_timeout = args.zk_session_timeout;
        let election = async move {
            match zk {
                Some(url) => contend_on_own_thread(url, session_timeout, handle).await,
                None => std::future::pending().await,
            }
        };
        let code = tokio::select! {
            _ = super::shutdown_signal() => {
                tracing::info!("shutting down");
                ExitCode::SUCCESS
            }
            stopped = server.wait() => anyhow::bail!("{stopped}"),
            error = election => {
                tracing::error!(%error, "leaving the cluster");
                ExitCode::FAILURE
            }
        };
        server.stop().await;
        Ok(code)
    })
}

/// Runs the election, and with it the ZooKeeper session that holds this
/// master's leadership, on a thread and runtime of its own: a leader busy
/// with tens of thousands of agents re-registering must not starve its
/// session (a 2 s session expired under that load, and a healthy leader
/// stepped down).
async fn contend_on_own_thread(
    url: meseta_core::zookeeper::ZkUrl,
    session_timeout: std::time::Duration,
    handle: meseta_master::MasterHandle,
) -> meseta_master::election::ElectionError {
    use meseta_master::election::{contend, ElectionError};
    let (done, result) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("meseta-election".into())
        .spawn(move || {
            let error = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(contend(url, session_timeout, handle)),
                Err(e) => {
                    ElectionError::ZooKeeper(format!("cannot start the election's runtime: {e}"))
                }
            };
            let _ = done.send(error);
        });
    if let Err(e) = spawned {
        return ElectionError::ZooKeeper(format!("cannot start the election's thread: {e}"));
    }
    result
        .await
        .unwrap_or_else(|_| ElectionError::ZooKeeper("the election's thread stopped".into()))
}
