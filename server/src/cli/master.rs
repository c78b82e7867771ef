//! `meseta master`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use meseta_master::config::{parse_duration, Settings};
use meseta_master::{MasterConfig, MasterServer};

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
    /// Interval of HEARTBEAT events on scheduler streams.
    #[arg(long, default_value = "15secs", value_parser = parse_duration)]
    heartbeat_interval: Duration,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let config = MasterConfig {
            ip: args.ip,
            port: args.port,
            hostname: args.hostname,
            work_dir: args.work_dir.clone(),
            cluster: args.cluster,
            allocation_interval: args.allocation_interval,
            settings: Settings {
                heartbeat_interval: args.heartbeat_interval,
                agent_ping_timeout: args.agent_ping_timeout,
                max_agent_ping_timeouts: args.max_agent_ping_timeouts,
                ..Settings::default()
            },
        };
        let mut server = MasterServer::start(config).await?;
        let address = server.address().to_string();
        super::publish_address(&args.work_dir, &address)?;
        tracing::info!(%address, "master ready; scheduler API at http://{address}/api/v1/scheduler");
        tokio::select! {
            _ = super::shutdown_signal() => tracing::info!("shutting down"),
            _ = server.wait() => anyhow::bail!("master server stopped unexpectedly"),
        }
        server.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}
