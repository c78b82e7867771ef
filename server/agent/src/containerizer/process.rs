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
//!
//! A container launched with a checkpoint directory outlives the agent: its
//! main process is a [supervisor](super::supervisor) that records how the
//! command ended, and its PID is recorded ([`super::identity`]). After a
//! restart, [`Containerizer::recover`] takes such containers back: the agent
//! is no longer their parent, so it polls `/proc` every
//! [`RECOVERED_POLL`] until the supervisor is gone, then reads the
//! termination file.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use meseta_proto::v1;
use tokio::sync::watch;

use super::identity::ProcessRecord;
use super::program::Program;
use super::spawn::{recorded_termination, signal_group, spawn, termination_of, Spawned};
use super::{
    container_key, Containerizer, LaunchRequest, RecoverRequest, RecoveredContainer, Signal,
    Termination,
};
use crate::error::AgentError;

/// How many ended containers are remembered for late `wait` calls.
pub const RETAINED_TERMINATIONS: usize = 4096;
/// How often a recovered container's main process is checked for.
pub const RECOVERED_POLL: Duration = Duration::from_millis(200);

#[derive(Debug)]
struct Entry {
    pgid: i32,
    /// The main process is a supervisor (left out of usage figures).
    supervised: bool,
    ended: watch::Receiver<Option<Termination>>,
    /// SIGKILL was sent: a recovered container that ends unrecorded (the
    /// supervisor died with the group) ended by it.
    killed: Arc<AtomicBool>,
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
    switch_user: bool,
}

impl ProcessContainerizer {
    /// A containerizer with no containers, running every command as the
    /// agent's user.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs each command as its user (`--switch-user`) when the agent is
    /// root.
    pub fn with_switch_user(mut self, switch_user: bool) -> Self {
        // SAFETY: geteuid has no preconditions.
        self.switch_user = switch_user && unsafe { libc::geteuid() } == 0;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn(&self, request: LaunchRequest) -> Result<(), AgentError> {
        let key = container_key(&request.container_id);
        super::refuse_unsupported(&key, request.container.as_ref())?;
        super::refuse_image(
            &key,
            request.container.as_ref(),
            "this agent runs tasks as plain processes; images need the Linux containerizer (the agent as root with --isolation including filesystem/linux, docker/runtime and namespaces/pid)",
        )?;
        if self.lock().containers.contains_key(&key) {
            return Err(AgentError::container(
                &key,
                "a container with this ID exists",
            ));
        }
        let supervised = request.checkpoint_dir.is_some();
        let mut program = Program::default();
        if let Some(user) = request
            .user
            .as_deref()
            .filter(|u| self.switch_user && !u.is_empty())
        {
            let credentials =
                super::users::credentials(user).map_err(|e| AgentError::container(&key, e))?;
            super::users::chown_tree(&request.sandbox, &credentials).map_err(|e| {
                AgentError::container(
                    &key,
                    format!("cannot give the sandbox to user {user:?}: {e}"),
                )
            })?;
            program.credentials = Some(credentials);
        }
        let Spawned {
            mut child,
            pid: pgid,
        } = spawn(&key, &request, program, &[])?;
        let (tx, rx) = watch::channel(None);
        self.lock().containers.insert(
            key.clone(),
            Entry {
                pgid,
                supervised,
                ended: rx,
                killed: Arc::default(),
            },
        );
        tracing::debug!(container = %key, pgid, supervised, "container started");
        let table = Arc::clone(&self.table);
        tokio::spawn(async move {
            let status = child.wait().await;
            // The main process is gone: destroy whatever it left behind.
            signal_group(pgid, libc::SIGKILL);
            let termination = termination_of(status);
            tracing::debug!(container = %key, ?termination, "container ended");
            let _ = tx.send(Some(termination));
            retire(&table, key);
        });
        Ok(())
    }

    /// Takes back one container of an earlier run (see the module docs).
    fn adopt(&self, request: &RecoverRequest) -> Option<RecoveredContainer> {
        let key = container_key(&request.container_id);
        let dir = &request.checkpoint_dir;
        let Some(record) = ProcessRecord::recover(dir) else {
            tracing::info!(container = %key, "no process recorded for the container; it never started");
            return None;
        };
        let running = record.is_alive();
        let (tx, rx) = watch::channel(None);
        if !running {
            let _ = tx.send(Some(recorded_termination(dir, false)));
        }
        let killed = Arc::new(AtomicBool::new(false));
        self.lock().containers.insert(
            key.clone(),
            Entry {
                pgid: record.pid,
                supervised: true,
                ended: rx,
                killed: Arc::clone(&killed),
            },
        );
        tracing::info!(container = %key, pid = record.pid, running, "recovered container");
        if running {
            let table = Arc::clone(&self.table);
            let dir = dir.clone();
            tokio::spawn(async move {
                while record.is_alive() {
                    tokio::time::sleep(RECOVERED_POLL).await;
                }
                signal_group(record.pid, libc::SIGKILL);
                let termination = recorded_termination(&dir, killed.load(Ordering::SeqCst));
                tracing::debug!(container = %key, ?termination, "recovered container ended");
                let _ = tx.send(Some(termination));
                retire(&table, key);
            });
        }
        Some(RecoveredContainer {
            container_id: request.container_id.clone(),
            running,
        })
    }

    fn receiver(&self, container_id: &v1::ContainerId) -> Result<Handle, AgentError> {
        let key = container_key(container_id);
        let table = self.lock();
        let entry = table
            .containers
            .get(&key)
            .ok_or_else(|| AgentError::container(&key, "unknown container"))?;
        Ok(Handle {
            pgid: entry.pgid,
            supervised: entry.supervised,
            ended: entry.ended.clone(),
            killed: Arc::clone(&entry.killed),
        })
    }
}

/// What the operations need of an [`Entry`], taken out of the lock.
struct Handle {
    pgid: i32,
    supervised: bool,
    ended: watch::Receiver<Option<Termination>>,
    killed: Arc<AtomicBool>,
}

/// Remembers an ended container, forgetting the oldest ones.
fn retire(table: &Mutex<Table>, key: String) {
    let mut table = table.lock().unwrap_or_else(|p| p.into_inner());
    table.ended_order.push_back(key);
    while table.ended_order.len() > RETAINED_TERMINATIONS {
        if let Some(old) = table.ended_order.pop_front() {
            table.containers.remove(&old);
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
            let mut rx = found?.ended;
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
            let handle = found?;
            if handle.ended.borrow().is_none() {
                let number = match signal {
                    Signal::Terminate => libc::SIGTERM,
                    Signal::Kill => {
                        handle.killed.store(true, Ordering::SeqCst);
                        libc::SIGKILL
                    }
                };
                signal_group(handle.pgid, number);
            }
            Ok(())
        }
        .boxed()
    }

    fn recover(
        &self,
        containers: Vec<RecoverRequest>,
    ) -> BoxFuture<'_, Result<Vec<RecoveredContainer>, AgentError>> {
        async move { Ok(containers.iter().filter_map(|c| self.adopt(c)).collect()) }.boxed()
    }

    fn pid(&self, container_id: &v1::ContainerId) -> Option<u32> {
        let table = self.lock();
        u32::try_from(table.containers.get(&container_key(container_id))?.pgid).ok()
    }

    fn usage(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<v1::ResourceStatistics, AgentError>> {
        let found = self.receiver(container_id);
        async move {
            let handle = found?;
            Ok(group_usage(handle.pgid, handle.supervised))
        }
        .boxed()
    }
}

/// Sums `/proc/<pid>/stat` over the processes of a group (without the
/// supervisor, a copy of the agent that shares its memory).
fn group_usage(pgid: i32, supervised: bool) -> v1::ResourceStatistics {
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
            if field(2) != i64::from(pgid) || (supervised && i64::from(pid) == i64::from(pgid)) {
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
