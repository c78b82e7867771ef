//! `meseta local`: a master and N agents on loopback, as real processes,
//! each agent with its own work dir and a share of the machine. With a
//! command after `--`, runs it against the cluster (`{master}` in its
//! arguments and `MESOS_MASTER` in its environment name the master) and
//! exits with its status; with `--control`, is driven by a program through
//! stdin and stdout (the other languages' test harnesses: see `control`);
//! otherwise runs until Ctrl-C.

mod control;
mod protocol;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::Context;
use meseta::launcher::{Cluster, ClusterSpec};
use meseta::zookeeper::ZooKeeper;

/// Flags of `meseta local`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of agents.
    #[arg(long, default_value_t = 2)]
    agents: usize,
    /// Number of masters. With more than one they elect a leader through
    /// ZooKeeper: `--zk`, or else a private ZooKeeper server started here
    /// (needs Debian's `zookeeperd` and java).
    #[arg(long, default_value_t = 1)]
    masters: usize,
    /// ZooKeeper group for the masters, `zk://HOST:PORT/PATH`.
    #[arg(long)]
    zk: Option<String>,
    /// Master port (0 picks a free one).
    #[arg(long, default_value_t = 5050)]
    port: u16,
    /// Root of the cluster's work dirs and logs (default: a new temporary directory).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// `--resources` of each agent (default: an equal share of this machine).
    #[arg(long)]
    resources: Option<String>,
    /// One more argument for every master's command line, after the usual
    /// ones; repeat it for each (`--master-arg=--allocation-interval
    /// --master-arg=100ms`).
    #[arg(long = "master-arg", value_name = "ARG", allow_hyphen_values = true)]
    master_args: Vec<String>,
    /// One more argument for every agent's command line, like `--master-arg`.
    #[arg(long = "agent-arg", value_name = "ARG", allow_hyphen_values = true)]
    agent_args: Vec<String>,
    /// Be driven by a program (a test harness) through stdin and stdout.
    ///
    /// Stdout carries only JSON lines, each one flat object (no nesting)
    /// with an "event": first a "process" event per master and agent (name,
    /// role, address, pid, running, work_dir, log), then "ready" (leader,
    /// master, root, masters, agents) once a master leads with every agent.
    ///
    /// Stdin takes one command a line, VERB NAME with VERB one of kill
    /// (SIGKILL), start (a process not running, on its work dir; `start
    /// agent-N` with N the number of agents adds one), restart (kill, then
    /// start; a master keeps its port), pause (SIGSTOP), resume (SIGCONT) or
    /// status, and NAME as in the events (master, master-N, agent-N); or
    /// `stop`. Each command gets one reply line: the process afterwards
    /// (event "killed", "started", "restarted", "paused", "resumed",
    /// "status"), or an "error" with a "message", which leaves the cluster
    /// running.
    ///
    /// `stop`, EOF on stdin (the harness closed it or died), Ctrl-C or
    /// SIGTERM stop every process; "stopped" is the last line.
    #[arg(long, conflicts_with = "command")]
    control: bool,
    /// Command to run against the cluster, after `--`.
    #[arg(last = true)]
    command: Vec<String>,
}

/// A cluster that is up, and what it needs kept alive.
struct Running {
    /// Dropped first: stops every master and agent.
    cluster: Cluster,
    /// A private ZooKeeper, kept only to be stopped after the masters.
    _zookeeper: Option<ZooKeeper>,
    /// The elected master's `host:port`.
    leader: String,
    /// What frameworks use: the ZooKeeper group when there is one.
    master: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut running = match start(&args) {
        Ok(running) => running,
        Err(error) => {
            if args.control {
                control::emit(&protocol::error_event(None, &format!("{error:#}")));
            }
            return Err(error);
        }
    };
    if args.control {
        eprintln!("meseta local: reading commands on stdin; EOF stops the cluster");
        let (leader, master) = (running.leader.clone(), running.master.clone());
        control::announce(&mut running.cluster, &leader, &master);
        control::serve(&mut running.cluster);
        drop(running);
        control::emit(&protocol::stopped_event());
        eprintln!("meseta local: cluster stopped");
        return Ok(ExitCode::SUCCESS);
    }
    if args.command.is_empty() {
        eprintln!("meseta local: press Ctrl-C to stop");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(super::shutdown_signal());
        eprintln!("meseta local: stopping");
        drop(running);
        return Ok(ExitCode::SUCCESS);
    }
    let argv: Vec<String> = args
        .command
        .iter()
        .map(|a| a.replace("{master}", &running.master))
        .collect();
    eprintln!("meseta local: running {}", argv.join(" "));
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .env("MESOS_MASTER", &running.master)
        .status()
        .with_context(|| format!("cannot run {}", argv[0]))?;
    drop(running);
    let code = status.code().unwrap_or(1);
    eprintln!("meseta local: command exited with status {code}; cluster stopped");
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Starts the cluster (and ZooKeeper, if it needs one of its own) and waits
/// until a master leads with every agent.
fn start(args: &Args) -> anyhow::Result<Running> {
    let binary = std::env::current_exe().context("cannot find the meseta binary")?;
    let root = match &args.work_dir {
        Some(dir) => std::path::absolute(dir)?,
        None => std::env::temp_dir().join(format!("meseta-local-{}", std::process::id())),
    };
    let mut spec = ClusterSpec::new(binary, &root, args.agents);
    spec.master_port = args.port;
    spec.agent_resources = args.resources.clone();
    spec.masters = args.masters.max(1);
    spec.master_args = args.master_args.clone();
    spec.agent_args = args.agent_args.clone();
    let mut zookeeper = None;
    if args.masters > 1 || args.zk.is_some() {
        spec.zk = Some(match &args.zk {
            Some(url) => url.clone(),
            None => {
                if let Some(reason) = ZooKeeper::unavailable() {
                    anyhow::bail!(
                        "--masters {} needs ZooKeeper: {reason}; or pass --zk",
                        args.masters
                    );
                }
                let server = ZooKeeper::start(&root.join("zookeeper"))?;
                let url = server.url("/meseta");
                zookeeper = Some(server);
                url
            }
        });
    }
    eprintln!(
        "meseta local: starting {} master(s) and {} agent(s) under {}",
        spec.masters,
        args.agents,
        root.display()
    );
    let mut cluster = Cluster::start(spec.clone())?;
    let addresses: Vec<String> = cluster.masters_mut().map(|m| m.address.clone()).collect();
    let leader = wait_for_leader(&addresses, args.agents, Duration::from_secs(60))?;
    // What frameworks should be given: the group when there is one.
    let master = spec.zk.clone().unwrap_or_else(|| leader.clone());
    std::fs::write(root.join("master_url"), format!("{master}\n"))?;
    for agent in &cluster.agents {
        let state = http_get_json(&agent.address, "/state").unwrap_or_default();
        let isolation = state["flags"]["isolation"].as_str().unwrap_or("unknown");
        match state["flags"]["isolation_fallback"].as_str() {
            Some(why) => eprintln!("meseta local: {}: NOT ISOLATED ({why})", agent.name),
            None => eprintln!("meseta local: {}: isolation {isolation}", agent.name),
        }
    }
    eprintln!(
        "meseta local: leading master at http://{leader}; frameworks use {master}; {} agent(s); logs in {}",
        args.agents,
        root.display()
    );
    Ok(Running {
        cluster,
        _zookeeper: zookeeper,
        leader,
        master,
    })
}

/// Polls the masters' `/metrics/snapshot` until one is elected and has
/// `agents` active agents; returns its address.
fn wait_for_leader(masters: &[String], agents: usize, timeout: Duration) -> anyhow::Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        for master in masters {
            if let Ok(metrics) = http_get_json(master, "/metrics/snapshot") {
                let elected = metrics["master/elected"].as_f64() == Some(1.0);
                let active = metrics["master/slaves_active"].as_f64().unwrap_or(0.0) as usize;
                if elected && active >= agents {
                    return Ok(master.clone());
                }
            }
        }
        if Instant::now() > deadline {
            anyhow::bail!("no master was elected with {agents} agent(s) within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A minimal blocking HTTP GET returning JSON (for readiness checks).
pub fn http_get_json(address: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200"),
        "GET {path}: {}",
        head.lines().next().unwrap_or("")
    );
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(serde_json::from_str(&body)?)
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}
