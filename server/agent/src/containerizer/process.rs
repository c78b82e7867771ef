//! [`ProcessContainerizer`]: a container is a process group, nothing more.
//!
//! The main process is started in a new process group (its PID is the group
//! ID), with the sandbox as working directory and `stdout`/`stderr` appended
//! to the sandbox files. Signals go to the whole group. When the main process
//! ends, the group is sent SIGKILL so that nothing it started in the
//! background survives the container. No resource limits are enforced.
//!
//! Ended containers are remembered (up to [`RETAINED_TERMINATIONS`]) so that
//! a late `wait` still learns how they ended.

use std::collections::{HashMap, VecDeque};
use std::os::unix::process::ExitStatusExt;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use meseta_proto::v1;
use tokio::sync::watch;

use super::{container_key, Containerizer, LaunchRequest, Signal, Termination};
use crate::error::AgentError;

/// How many ended containers are remembered for late `wait` calls.
pub const RETAINED_TERMINATIONS: usize = 4096;

#[derive(Debug)]
struct Entry {
    pgid: i32,
    ended: watch::Receiver<Option<Termination>>,
}

#[derive(Debug, Default)]
struct Table {
    containers: HashMap<String, Entry>,
    ended_order: VecDeque<String>,
}

/// Runs each container as a process group of the agent's machine.
#[derive(Debug, Default, Clone)]
pub struct ProcessContainerizer {
    table: Arc<Mutex<Table>>,
}

impl ProcessContainerizer {
    /// A containerizer with no containers.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn(&self, request: LaunchRequest) -> Result<(), AgentError> {
        let key = container_key(&request.container_id);
        if self.lock().containers.contains_key(&key) {
            return Err(AgentError::container(
                &key,
                "a container with this ID exists",
            ));
        }
        let open = |name: &str| {
            let path = request.sandbox.join(name);
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| AgentError::io("cannot open", &path, e))
        };
        let (stdout, stderr) = (open("stdout")?, open("stderr")?);
        let command = &request.command;
        let mut cmd = if command.shell() {
            let mut cmd = tokio::process::Command::new("/bin/sh");
            cmd.arg("-c").arg(command.value());
            cmd
        } else {
            let program = command.value();
            if program.is_empty() {
                return Err(AgentError::container(
                    &key,
                    "the command has no value to execute",
                ));
            }
            let mut cmd = tokio::process::Command::new(program);
            if let Some((first, rest)) = command.arguments.split_first() {
                cmd.arg0(first).args(rest);
            }
            cmd
        };
        cmd.current_dir(&request.sandbox)
            .envs(request.environment.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(false);
        let mut child = cmd
            .spawn()
            .map_err(|e| AgentError::container(&key, format!("cannot start the command: {e}")))?;
        let pgid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| AgentError::container(&key, "the process ended before it had a PID"))?;
        let (tx, rx) = watch::channel(None);
        self.lock()
            .containers
            .insert(key.clone(), Entry { pgid, ended: rx });
        tracing::debug!(container = %key, pgid, "container started");
        let table = Arc::clone(&self.table);
        tokio::spawn(async move {
            let status = child.wait().await;
            // The main process is gone: destroy whatever it left behind.
            signal_group(pgid, libc::SIGKILL);
            let termination = match status {
                Ok(status) => Termination {
                    exit_code: status.code(),
                    signal: status.signal(),
                    wait_status: Some(status.into_raw()),
                },
                Err(e) => {
                    tracing::warn!(container = %key, error = %e, "cannot wait for the container");
                    Termination {
                        exit_code: None,
                        signal: None,
                        wait_status: None,
                    }
                }
            };
            tracing::debug!(container = %key, ?termination, "container ended");
            let _ = tx.send(Some(termination));
            let mut table = table.lock().unwrap_or_else(|p| p.into_inner());
            table.ended_order.push_back(key);
            while table.ended_order.len() > RETAINED_TERMINATIONS {
                if let Some(old) = table.ended_order.pop_front() {
                    table.containers.remove(&old);
                }
            }
        });
        Ok(())
    }

    fn receiver(
        &self,
        container_id: &v1::ContainerId,
    ) -> Result<(i32, watch::Receiver<Option<Termination>>), AgentError> {
        let key = container_key(container_id);
        let table = self.lock();
        let entry = table
            .containers
            .get(&key)
            .ok_or_else(|| AgentError::container(&key, "unknown container"))?;
        Ok((entry.pgid, entry.ended.clone()))
    }
}

/// Sends `signal` to a process group; a group that is already gone is fine.
fn signal_group(pgid: i32, signal: i32) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: killpg has no memory effects; pgid > 1 is a group we created.
    let rc = unsafe { libc::killpg(pgid, signal) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ESRCH) {
            tracing::warn!(pgid, signal, %error, "cannot signal process group");
        }
    }
}

impl Containerizer for ProcessContainerizer {
    fn launch(&self, request: LaunchRequest) -> BoxFuture<'_, Result<(), AgentError>> {
        async move { self.spawn(request) }.boxed()
    }

    fn wait(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<Termination, AgentError>> {
        let found = self.receiver(container_id);
        let key = container_key(container_id);
        async move {
            let (_, mut rx) = found?;
            let ended = rx
                .wait_for(Option::is_some)
                .await
                .map_err(|_| AgentError::container(&key, "the container's watcher is gone"))?;
            (*ended)
                .clone()
                .ok_or_else(|| AgentError::container(&key, "no termination recorded"))
        }
        .boxed()
    }

    fn kill(
        &self,
        container_id: &v1::ContainerId,
        signal: Signal,
    ) -> BoxFuture<'_, Result<(), AgentError>> {
        let found = self.receiver(container_id);
        async move {
            let (pgid, rx) = found?;
            if rx.borrow().is_none() {
                let number = match signal {
                    Signal::Terminate => libc::SIGTERM,
                    Signal::Kill => libc::SIGKILL,
                };
                signal_group(pgid, number);
            }
            Ok(())
        }
        .boxed()
    }

    fn recover(&self) -> BoxFuture<'_, Result<Vec<v1::ContainerId>, AgentError>> {
        // Nothing is checkpointed yet, so an earlier run's processes are not
        // known to us: report none.
        async { Ok(Vec::new()) }.boxed()
    }

    fn usage(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<v1::ResourceStatistics, AgentError>> {
        let found = self.receiver(container_id);
        async move {
            let (pgid, _) = found?;
            Ok(group_usage(pgid))
        }
        .boxed()
    }
}

/// Sums `/proc/<pid>/stat` over the processes of a group.
fn group_usage(pgid: i32) -> v1::ResourceStatistics {
    // SAFETY: sysconf only reads configuration values.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    let mut stats = v1::ResourceStatistics {
        timestamp: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default(),
        ..Default::default()
    };
    let (mut processes, mut threads, mut user, mut system, mut rss) =
        (0u32, 0u32, 0u64, 0u64, 0u64);
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(fields) = text.rsplit_once(')').map(|(_, rest)| rest) else {
                continue;
            };
            let fields: Vec<&str> = fields.split_whitespace().collect();
            let field = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<i64>().ok())
                    .unwrap_or(0)
            };
            if field(2) != i64::from(pgid) {
                continue;
            }
            processes += 1;
            threads += u32::try_from(field(17)).unwrap_or(0);
            user += u64::try_from(field(11)).unwrap_or(0);
            system += u64::try_from(field(12)).unwrap_or(0);
            rss += u64::try_from(field(21)).unwrap_or(0) * page;
        }
    }
    stats.processes = Some(processes);
    stats.threads = Some(threads);
    stats.cpus_user_time_secs = Some(user as f64 / ticks);
    stats.cpus_system_time_secs = Some(system as f64 / ticks);
    stats.mem_rss_bytes = Some(rss);
    stats
}
