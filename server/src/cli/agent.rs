//! `meseta agent`.
//!
//! SIGTERM (or Ctrl-C) stops the agent gracefully: its tasks are killed. A
//! crash (or SIGKILL) leaves the tasks of checkpointing frameworks running,
//! and `meseta agent` started again on the same `--work-dir` takes them
//! back (see `--recover`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use meseta_agent::containerizer::isolators::IsolationConfig;
use meseta_agent::containerizer::DockerConfig;
use meseta_agent::{Agent, AgentConfig, RecoverMode};
use meseta_proto::duration::parse as parse_duration;

/// Flags of `meseta agent` (Mesos's names where Mesos has the flag).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The master, `HOST:PORT`.
    #[arg(long, env = "MESETA_MASTER")]
    master: String,
    /// IP address to listen on (executor API, files, state).
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// Port to listen on; 0 picks a free port, written to `<work-dir>/address`.
    #[arg(long, default_value_t = 5051)]
    port: u16,
    /// Directory for sandboxes and the agent's metadata.
    #[arg(long, default_value = "/var/lib/meseta/agent")]
    work_dir: PathBuf,
    /// Hostname to report (defaults to the machine's).
    #[arg(long)]
    hostname: Option<String>,
    /// Resources to offer, e.g. `cpus:4;mem:8192;disk:10000;ports:[31000-32000]`.
    /// Anything left out is detected from the machine.
    #[arg(long)]
    resources: Option<String>,
    /// Attributes, e.g. `rack:r1;zone:a`.
    #[arg(long)]
    attributes: Option<String>,
    /// First retry interval of an unacknowledged status update.
    #[arg(long, default_value = "10secs", value_parser = parse_duration)]
    status_update_retry_interval: Duration,
    /// How long an executor has to exit after being told to shut down.
    #[arg(long, default_value = "5secs", value_parser = parse_duration)]
    executor_shutdown_grace_period: Duration,
    /// How long a custom executor has to subscribe after it starts.
    #[arg(long, default_value = "1mins", value_parser = parse_duration)]
    executor_registration_timeout: Duration,
    /// How long an executor that survived an agent restart has to subscribe
    /// again before it is killed and its tasks fail.
    #[arg(long, default_value = "2secs", value_parser = parse_duration)]
    executor_reregistration_timeout: Duration,
    /// After a restart: `reconnect` takes back the tasks of frameworks that
    /// checkpoint (same agent ID); `cleanup` kills everything the previous
    /// run left and registers as a new agent.
    #[arg(long, default_value = "reconnect")]
    recover: RecoverMode,
    /// Before (re-)registering with a new master the agent waits a random
    /// time in `[0, this]`, the bound doubling after each failed attempt (up
    /// to a minute), so that a large cluster's agents do not reach a new
    /// leader all at once.
    #[arg(long, default_value = "1secs", value_parser = parse_duration)]
    registration_backoff_factor: Duration,
    /// Also write the log to `meseta-agent.log` in this directory
    /// (appended), served at `/slave/log` by `/files/*` and the operator
    /// API's LIST_FILES and READ_FILE.
    #[arg(long)]
    log_dir: Option<PathBuf>,
    #[command(flatten)]
    isolation: IsolationArgs,
}

/// How tasks are contained (Mesos's containerizer and isolator flags).
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Containers and isolation")]
pub struct IsolationArgs {
    /// How tasks run: `mesos` (isolated as --isolation says) or `process`
    /// (plain processes, nothing enforced); add `docker` (`docker,mesos`)
    /// to run ContainerInfo.type=DOCKER containers through a Docker engine
    /// (see --docker-socket).
    #[arg(long, default_value = "mesos", value_delimiter = ',')]
    containerizers: Vec<String>,
    /// Isolators, comma-separated, as Mesos names them: cgroups/cpu,
    /// cgroups/mem, cgroups/pids, cgroups/devices (or cgroups/all),
    /// namespaces/pid, namespaces/ipc, filesystem/linux, docker/runtime,
    /// network/ports, disk/du, posix/rlimits, gpu/nvidia; posix/cpu,posix/mem
    /// isolates nothing. Default, when the agent runs as root with writable
    /// cgroups: cpu, mem and pids cgroups, a PID namespace,
    /// filesystem/linux, docker/runtime (images' Entrypoint, Cmd, Env,
    /// WorkingDir), and ports and disk watched (not enforced); otherwise plain processes,
    /// said loudly in the log and in /state. An --isolation given here that
    /// cannot be honoured stops the agent.
    #[arg(long)]
    isolation: Option<String>,
    /// Where the cgroup hierarchies are mounted.
    #[arg(long, default_value = "/sys/fs/cgroup")]
    cgroups_hierarchy: PathBuf,
    /// The cgroup, below the agent's own, that holds its containers (one
    /// per agent on a machine).
    #[arg(long, default_value = "meseta")]
    cgroups_root: String,
    /// Cap each container's CPU at its `cpus` with a CFS quota (by default
    /// `cpus` only sets its share under contention).
    #[arg(long, num_args = 0..=1, default_value = "false", default_missing_value = "true")]
    cgroups_enable_cfs: bool,
    /// Processes and threads allowed per container (cgroups/pids): far
    /// above what a task needs, low enough that a fork bomb stays inside.
    #[arg(long, default_value_t = meseta_agent::containerizer::isolators::DEFAULT_MAX_PIDS)]
    cgroups_max_pids: u64,
    /// Kill a container listening on a TCP port it was not given
    /// (network/ports); otherwise the violation is logged and counted.
    #[arg(long, num_args = 0..=1, default_value = "false", default_missing_value = "true")]
    enforce_container_ports: bool,
    /// How often network/ports looks at listening sockets.
    #[arg(long, default_value = "30secs", value_parser = parse_duration)]
    container_ports_watch_interval: Duration,
    /// The ports network/ports watches, e.g. `[31000-32000]` (default: the
    /// agent's `ports` resource).
    #[arg(long)]
    container_ports_isolated_range: Option<String>,
    /// Fail a task whose sandbox grows past its `disk` (disk/du);
    /// otherwise usage is only measured and reported.
    #[arg(long, num_args = 0..=1, default_value = "false", default_missing_value = "true")]
    enforce_container_disk_quota: bool,
    /// How often disk/du measures sandboxes.
    #[arg(long, default_value = "15secs", value_parser = parse_duration)]
    container_disk_watch_interval: Duration,
    /// Run each task as its user (CommandInfo.user, else the framework's)
    /// when the agent is root; `--switch-user=false` runs them as the agent.
    #[arg(long, num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    switch_user: bool,
    /// Where the sandbox is mounted inside a container with its own mount
    /// namespace (filesystem/linux); MESOS_SANDBOX points there.
    #[arg(long, default_value = "/mnt/mesos/sandbox")]
    sandbox_directory: PathBuf,
    /// The GPUs to offer, as comma-separated NVML indices (`0,1`; see
    /// `nvidia-smi`), when not all of them: needs gpu/nvidia in --isolation
    /// and `gpus` in --resources, as many as listed. Without it gpu/nvidia
    /// offers every GPU NVML finds.
    #[arg(long, value_delimiter = ',', value_name = "INDICES")]
    nvidia_gpu_devices: Option<Vec<u32>>,
    /// The NVML library gpu/nvidia loads to find the GPUs (a file name is
    /// looked up where the dynamic linker looks; a path is used as is).
    #[arg(long, default_value = meseta_agent::containerizer::isolators::gpu::DEFAULT_NVML_LIBRARY)]
    nvml_library: PathBuf,
    #[command(flatten)]
    images: ImageArgs,
    #[command(flatten)]
    docker: DockerArgs,
}

/// The Docker containerizer (`--containerizers=docker,mesos`; Mesos's
/// flags).
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Docker containerizer")]
pub struct DockerArgs {
    /// The Docker engine's socket; the agent speaks its HTTP API,
    /// negotiating the version with it. An engine that is down or does
    /// not answer fails Docker tasks with its error (every call is
    /// bounded), never the agent or its other tasks.
    #[arg(long, default_value = meseta_agent::containerizer::docker::config::DEFAULT_SOCKET)]
    docker_socket: PathBuf,
    /// At start, stop and remove containers named `mesos-<ContainerID>`
    /// that no recovered task owns (containers labelled with another
    /// meseta agent's work dir are left alone; set false when a Mesos
    /// agent shares the engine).
    #[arg(long, num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    docker_kill_orphans: bool,
    /// How long the engine waits between SIGTERM and SIGKILL when the agent
    /// itself destroys a container (after a task's kill-policy grace
    /// period, or an orphan); 0 kills at once. Deprecated in Mesos in
    /// favour of kill policies.
    #[arg(long, default_value = "0ns", value_parser = parse_duration)]
    docker_stop_timeout: Duration,
    /// How long an ended container stays in the engine (for `docker logs`
    /// and `docker inspect`) before the agent removes it.
    #[arg(long, default_value = "6hrs", value_parser = parse_duration)]
    docker_remove_delay: Duration,
}

impl DockerArgs {
    fn config(self) -> DockerConfig {
        DockerConfig {
            socket: self.docker_socket,
            kill_orphans: self.docker_kill_orphans,
            stop_timeout: self.docker_stop_timeout,
            remove_delay: self.docker_remove_delay,
        }
    }
}

/// Container images without an engine (Mesos's provisioner flags).
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Container images")]
pub struct ImageArgs {
    /// Image types containers may use: `docker`, as in Mesos. Given, the
    /// agent refuses to start without filesystem/linux, docker/runtime and
    /// namespaces/pid in --isolation; not given, Docker images run whenever
    /// the isolation has them (the default isolation does); empty refuses
    /// images.
    #[arg(long, value_delimiter = ',')]
    image_providers: Option<Vec<String>>,
    /// Where images without a registry in their name come from: a registry
    /// URL (Docker Registry HTTP API v2; anonymous pulls; HTTPS through the
    /// machine's curl), or a directory of `docker save` archives named
    /// `<image>.tar` (e.g. `busybox:latest.tar`).
    #[arg(long, default_value = meseta_agent::containerizer::isolators::DEFAULT_DOCKER_REGISTRY)]
    docker_registry: String,
    /// Where pulled images are kept (layers unpacked once, shared by all
    /// containers). Default: `<work-dir>/store/docker` (Mesos:
    /// /tmp/mesos/store/docker).
    #[arg(long)]
    docker_store_dir: Option<PathBuf>,
    /// How a container's root filesystem is made from its image's layers:
    /// `overlay` or `copy`. Default: overlay where the kernel allows it,
    /// else copy.
    #[arg(long)]
    image_provisioner_backend: Option<String>,
}

impl IsolationArgs {
    fn config(self) -> IsolationConfig {
        IsolationConfig {
            containerizers: self
                .containerizers
                .into_iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
            isolation: self.isolation,
            cgroups_hierarchy: self.cgroups_hierarchy,
            cgroups_root: self.cgroups_root,
            cgroups_enable_cfs: self.cgroups_enable_cfs,
            cgroups_max_pids: self.cgroups_max_pids,
            enforce_container_ports: self.enforce_container_ports,
            container_ports_watch_interval: self.container_ports_watch_interval,
            container_ports_isolated_range: self.container_ports_isolated_range,
            enforce_container_disk_quota: self.enforce_container_disk_quota,
            container_disk_watch_interval: self.container_disk_watch_interval,
            switch_user: self.switch_user,
            sandbox_directory: self.sandbox_directory,
            nvidia_gpu_devices: self.nvidia_gpu_devices,
            nvml_library: self.nvml_library,
            image_providers: self.images.image_providers.map(|providers| {
                providers
                    .into_iter()
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            }),
            docker_registry: self.images.docker_registry,
            docker_store_dir: self.images.docker_store_dir,
            image_provisioner_backend: self.images.image_provisioner_backend,
            docker: self.docker.config(),
            // Set by the agent from --work-dir.
            ..IsolationConfig::default()
        }
    }
}

pub fn run(
    args: Args,
    verbosity: meseta_proto::verbosity::VerbosityControl,
) -> anyhow::Result<ExitCode> {
    let log_file = args
        .log_dir
        .as_deref()
        .map(|dir| crate::logging::log_to(dir, "meseta-agent"))
        .transpose()?;
    // Containers' cgroup work runs on blocking threads; a bounded pool
    // keeps a burst of launches and ends from growing the agent (whose
    // size every container fork copies) by a thread each.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let config = AgentConfig {
            master: args.master.trim_start_matches("http://").to_string(),
            ip: args.ip,
            port: args.port,
            hostname: args.hostname,
            work_dir: args.work_dir.clone(),
            resources: args.resources,
            attributes: args.attributes,
            status_update_retry_initial: args.status_update_retry_interval,
            executor_shutdown_grace_period: args.executor_shutdown_grace_period,
            executor_registration_timeout: args.executor_registration_timeout,
            executor_reregistration_timeout: args.executor_reregistration_timeout,
            recover: args.recover,
            registration_backoff_factor: args.registration_backoff_factor,
            isolation: args.isolation.config(),
            verbosity: Some(verbosity),
            log_file,
            ..AgentConfig::default()
        };
        std::fs::create_dir_all(&args.work_dir)
            .with_context(|| format!("cannot create work dir {}", args.work_dir.display()))?;
        let agent = Agent::start(config).await?;
        let address = agent.http_address().to_string();
        super::publish_address(&args.work_dir, &address)?;
        tracing::info!(%address, "agent ready");
        tokio::select! {
            _ = super::shutdown_signal() => tracing::info!("shutting down"),
            _ = agent.wait() => tracing::error!("agent stopped unexpectedly"),
        }
        agent.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
