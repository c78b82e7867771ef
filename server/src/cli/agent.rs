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
use meseta_agent::{Agent, AgentConfig, RecoverMode};
use meseta_master::config::parse_duration;

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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
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
