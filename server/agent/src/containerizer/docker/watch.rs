//! A running Docker container's life as the agent sees it: one watcher
//! per container waits for its end and says how it ended; kills and
//! usage go through the engine, each bounded.
//!
//! The watcher long-polls the engine's "wait" (no deadline: it is its own
//! task) and then asks the engine how the container stands, so an
//! engine restart or a dropped connection only means asking again, with
//! a growing pause; a container whose init the agent killed from the host
//! (the engine did not answer a forced kill) ends once that process is
//! gone, engine or not. Once the container stopped, its output is given a
//! moment to reach the sandbox files before the termination is published:
//! a task's terminal update comes after its last output line.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    KillContainerOptionsBuilder, StatsOptionsBuilder, StopContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use futures::StreamExt;
use meseta_proto::v1::{self, task_status::Reason};
use tokio::sync::watch as channel;

use super::config::{API_TIMEOUT, USAGE_TIMEOUT};
use super::engine::EngineError;
use super::recover::Record;
use super::{launch, logs, Entry, Shared};
use crate::containerizer::isolators::{bytes_text, scalar_resource};
use crate::containerizer::{Limitation, Signal, Termination};

/// How long a stopped container's output may take to reach the sandbox.
const LOG_DRAIN: Duration = Duration::from_secs(10);
/// The longest pause between two looks at a container the engine could
/// not be asked about.
const MAX_PAUSE: Duration = Duration::from_secs(10);
/// How often a container killed from the host is looked for.
const HOST_KILL_CHECK: Duration = Duration::from_secs(2);

/// Registers `entry` and starts its watcher and output follower.
pub(super) fn start(
    shared: Arc<Shared>,
    key: String,
    entry: Entry,
    record: Record,
    ended: channel::Sender<Option<Termination>>,
) {
    let name = entry.name.clone();
    let killed = Arc::clone(&entry.killed);
    let pid = entry.pid;
    shared.lock().containers.insert(key.clone(), entry);
    let mut follower = tokio::spawn(logs::follow(
        Arc::clone(&shared),
        name.clone(),
        record.sandbox.clone(),
        (record.stdout_offset, record.stderr_offset),
    ));
    tokio::spawn(async move {
        let termination = wait_for_end(&shared, &name, &killed, pid).await;
        if tokio::time::timeout(LOG_DRAIN, &mut follower)
            .await
            .is_err()
        {
            tracing::warn!(container = %key, "the container's output did not all reach the sandbox in time");
            follower.abort();
        }
        tracing::info!(container = %key, ?termination, "Docker container ended");
        let _ = ended.send(Some(termination));
        shared.retire(key);
        remove_later(shared, name);
    });
}

/// Removes an ended container after `--docker-remove-delay`.
pub(super) fn remove_later(shared: Arc<Shared>, name: String) {
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.remove_delay).await;
        launch::remove(&shared, &name).await;
    });
}

/// The engine's description of a container.
pub(crate) async fn inspect(
    shared: &Shared,
    name: &str,
) -> Result<ContainerInspectResponse, EngineError> {
    shared
        .engine
        .quick(&format!("inspect the container {name}"), |c| {
            let name = name.to_string();
            async move { c.inspect_container(&name, None).await }
        })
        .await
}

/// True while the engine says the container runs (paused counts).
pub(crate) fn is_running(info: &ContainerInspectResponse) -> bool {
    info.state.as_ref().and_then(|s| s.running).unwrap_or(false)
}

async fn wait_for_end(
    shared: &Shared,
    name: &str,
    killed: &AtomicBool,
    pid: Option<u32>,
) -> Termination {
    let mut pause = Duration::from_millis(250);
    loop {
        let waited = async {
            if let Ok(client) = shared.engine.long_poll().await {
                let options = WaitContainerOptionsBuilder::new()
                    .condition("not-running")
                    .build();
                let mut waiting = client.wait_container(name, Some(options));
                let _ = waiting.next().await;
            }
        };
        tokio::select! {
            () = waited => {}
            () = killed_from_the_host(killed, pid) => {
                tracing::warn!(%name, "the Docker container was killed from the host and the engine does not answer; it ended");
                return gone(true);
            }
        }
        match inspect(shared, name).await {
            Ok(info) if !is_running(&info) => {
                return termination_of(&info, killed.load(Ordering::SeqCst))
            }
            Ok(_) => {}
            Err(e) if e.not_found() => {
                tracing::warn!(%name, "the Docker container was removed behind the agent's back");
                return gone(killed.load(Ordering::SeqCst));
            }
            Err(error) => {
                tracing::warn!(%name, %error, "cannot learn whether the Docker container still runs; asking again")
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Resolves once a forced kill went to the container's init from the host
/// (the engine did not answer) and that process has been gone for a
/// while, long enough for an engine that answers to have said so first.
async fn killed_from_the_host(killed: &AtomicBool, pid: Option<u32>) {
    let Some(pid) = pid else {
        return std::future::pending().await;
    };
    let proc_dir = format!("/proc/{pid}");
    let mut gone_checks = 0;
    loop {
        tokio::time::sleep(HOST_KILL_CHECK).await;
        let dead = killed.load(Ordering::SeqCst) && !std::path::Path::new(&proc_dir).exists();
        gone_checks = if dead { gone_checks + 1 } else { 0 };
        if gone_checks >= 2 {
            return;
        }
    }
}

/// How a stopped container ended, from the engine's `State`: its exit
/// code, and a memory limitation when the kernel's OOM killer ended it.
pub(crate) fn termination_of(info: &ContainerInspectResponse, killed: bool) -> Termination {
    let state = info.state.clone().unwrap_or_default();
    let Some(code) = state.exit_code.and_then(|c| i32::try_from(c).ok()) else {
        return gone(killed);
    };
    let limitation = (state.oom_killed == Some(true)).then(|| {
        let limit = info
            .host_config
            .as_ref()
            .and_then(|h| h.memory)
            .and_then(|m| u64::try_from(m).ok())
            .filter(|m| *m > 0);
        let mut message = String::from("Memory limit exceeded:");
        if let Some(limit) = limit {
            message.push_str(&format!(" Requested: {}", bytes_text(limit)));
        }
        message.push_str(" (the Docker engine reports the container killed for lack of memory)");
        Limitation {
            reason: Reason::ContainerLimitationMemory,
            message,
            resources: vec![scalar_resource(
                "mem",
                limit.unwrap_or(0) as f64 / (1024.0 * 1024.0),
            )],
        }
    });
    Termination {
        exit_code: Some(code),
        signal: None,
        wait_status: Some((code & 0xff) << 8),
        limitation,
    }
}

/// A container that vanished: SIGKILL if the agent forced it, else unknown.
fn gone(killed: bool) -> Termination {
    if killed {
        Termination {
            exit_code: None,
            signal: Some(libc::SIGKILL),
            wait_status: Some(libc::SIGKILL),
            limitation: None,
        }
    } else {
        Termination::unknown()
    }
}

/// Terminate: SIGTERM through the engine. Kill: the engine's stop with
/// `--docker-stop-timeout` (SIGKILL at once by default); if the engine
/// does not answer, SIGKILL to the container's init from the host.
pub(super) async fn signal(
    shared: &Shared,
    name: &str,
    pid: Option<u32>,
    signal: Signal,
) -> Result<(), String> {
    let owned = name.to_string();
    let result = match signal {
        Signal::Terminate => kill(shared, name, "SIGTERM").await,
        Signal::Kill if shared.config.stop_timeout.is_zero() => kill(shared, name, "SIGKILL").await,
        Signal::Kill => {
            let grace = shared.config.stop_timeout;
            let seconds = i32::try_from(grace.as_secs() + u64::from(grace.subsec_nanos() > 0))
                .unwrap_or(i32::MAX);
            let options = StopContainerOptionsBuilder::new().t(seconds).build();
            shared
                .engine
                .call("stop the container", grace + API_TIMEOUT, |c| async move {
                    c.stop_container(&owned, Some(options)).await
                })
                .await
        }
    };
    match result {
        Ok(()) => Ok(()),
        // Not running (409) or gone (404): nothing left to signal.
        Err(e) if matches!(e.status, Some(404 | 409)) => Ok(()),
        Err(e) => match (signal, pid) {
            (Signal::Kill, Some(pid)) => {
                tracing::warn!(%name, pid, error = %e, "the Docker engine did not stop the container; killing its init from the host");
                // SAFETY: kill has no memory effects; the PID is the
                // container's init, recorded while it runs.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                Ok(())
            }
            _ => Err(e.to_string()),
        },
    }
}

async fn kill(shared: &Shared, name: &str, signal: &str) -> Result<(), EngineError> {
    let options = KillContainerOptionsBuilder::new().signal(signal).build();
    shared
        .engine
        .quick(&format!("send {signal} to the container"), |c| {
            let name = name.to_string();
            async move { c.kill_container(&name, Some(options)).await }
        })
        .await
}

/// The container's usage, from the engine's statistics (one sample).
pub(super) async fn usage(shared: &Shared, name: &str) -> Result<v1::ResourceStatistics, String> {
    let options = StatsOptionsBuilder::new()
        .stream(false)
        .one_shot(true)
        .build();
    let sample = shared
        .engine
        .call("read the container's statistics", USAGE_TIMEOUT, |c| {
            let name = name.to_string();
            async move { c.stats(&name, Some(options)).next().await.transpose() }
        })
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the engine sent no statistics".to_string())?;
    let seconds = |nanos: Option<u64>| nanos.map(|n| n as f64 / 1e9);
    let cpu = sample
        .cpu_stats
        .and_then(|c| c.cpu_usage)
        .unwrap_or_default();
    let memory = sample.memory_stats.unwrap_or_default();
    let rss = memory
        .stats
        .as_ref()
        .and_then(|s| s.get("rss").or_else(|| s.get("anon")).copied());
    Ok(v1::ResourceStatistics {
        timestamp: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default(),
        processes: sample
            .pids_stats
            .and_then(|p| p.current)
            .and_then(|c| u32::try_from(c).ok()),
        cpus_user_time_secs: seconds(cpu.usage_in_usermode),
        cpus_system_time_secs: seconds(cpu.usage_in_kernelmode),
        mem_total_bytes: memory.usage,
        mem_rss_bytes: rss.or(memory.usage),
        mem_limit_bytes: memory.limit,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerState, HostConfig};

    #[test]
    fn the_engines_verdict_becomes_the_termination() {
        let stopped = |code: i64, oom: bool| ContainerInspectResponse {
            state: Some(ContainerState {
                running: Some(false),
                exit_code: Some(code),
                oom_killed: Some(oom),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                memory: Some(64 << 20),
                ..Default::default()
            }),
            ..Default::default()
        };
        let finished = termination_of(&stopped(0, false), false);
        assert!(finished.succeeded());
        assert_eq!(finished.limitation, None);
        let failed = termination_of(&stopped(3, false), false);
        assert_eq!(failed.describe(), "Command exited with status 3");
        assert_eq!(failed.wait_status, Some(3 << 8));
        let oom = termination_of(&stopped(137, true), false);
        let limitation = oom.limitation.expect("a memory limitation");
        assert_eq!(limitation.reason, Reason::ContainerLimitationMemory);
        assert!(
            limitation.message.contains("Requested: 64MB"),
            "{}",
            limitation.message
        );
        let unknown = termination_of(&ContainerInspectResponse::default(), true);
        assert_eq!(unknown.signal, Some(libc::SIGKILL));
    }
}
