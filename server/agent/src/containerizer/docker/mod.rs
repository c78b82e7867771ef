//! The Docker containerizer (`--containerizers=docker,mesos`): containers
//! of `ContainerInfo.type=DOCKER` run by a Docker engine, which the agent
//! drives over its HTTP API on `--docker-socket`.
//!
//! * **Launch** ([`launch`]): the image is pulled when missing (or with
//!   `force_pull_image`), the container created from the request as
//!   [`translate`] says (Mesos's rules for networks, port mappings,
//!   volumes, limits, command) under Mesos's name `mesos-<ContainerID>`
//!   with labels naming this agent, then started; `launch` returns once
//!   the engine says it runs, with its PID and addresses kept for
//!   `TASK_RUNNING`.
//! * **Watching** ([`watch`]): one task per container waits for its end,
//!   follows its output into the sandbox's `stdout` and `stderr` files
//!   (so `/files` shows it live), and turns the engine's verdict
//!   (`State.ExitCode`, `State.OOMKilled`) into the [`Termination`].
//! * **Kill**: SIGTERM through the engine, then a forced stop; if the
//!   engine does not answer in time, the container's init is killed from
//!   the host, as Mesos does when `docker stop` hangs.
//! * **Recovery** ([`recover`]): each container's checkpoint directory
//!   names it; a restarted agent takes running ones back, reports how the
//!   others ended, and removes `mesos-` containers nobody owns
//!   (`--docker-kill-orphans`).
//!
//! Every engine call is bounded ([`engine`]): an engine that is down or
//! hung fails Docker launches with its words, and nothing else of the
//! agent waits on it.

pub mod config;
mod engine;
mod launch;
mod logs;
mod parameters;
mod recover;
mod translate;
mod watch;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use meseta_proto::v1;
use tokio::sync::watch as channel;

pub use config::DockerConfig;
use engine::Engine;

use super::{
    container_key, Containerizer, LaunchRequest, RecoverRequest, RecoveredContainer, RunningStatus,
    Signal, Termination,
};
use crate::error::AgentError;

/// How many ended containers are remembered for late `wait` calls.
const RETAINED_TERMINATIONS: usize = 4096;

/// A container the containerizer knows.
#[derive(Debug, Clone)]
struct Entry {
    /// Its name in the engine.
    name: String,
    ended: channel::Receiver<Option<Termination>>,
    /// Its init process on the host, while it runs.
    pid: Option<u32>,
    running: Option<RunningStatus>,
    /// A forced kill was sent.
    killed: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct Table {
    containers: HashMap<String, Entry>,
    ended_order: VecDeque<String>,
    /// Containers being launched (not yet in `containers`): orphan
    /// removal leaves them alone.
    launching: HashSet<String>,
}

/// What the containerizer's parts share.
#[derive(Debug)]
struct Shared {
    engine: Engine,
    config: DockerConfig,
    /// `--sandbox-directory`: the sandbox's place inside a container.
    mapped_sandbox: PathBuf,
    /// `--cgroups-enable-cfs`.
    enable_cfs: bool,
    /// The agent's work directory, labelled on its containers so that
    /// agents sharing an engine leave each other's alone.
    work_dir: String,
    table: Mutex<Table>,
    pulls: AtomicU64,
    last_pull_ms: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(&self, container_id: &v1::ContainerId) -> Result<Entry, AgentError> {
        let key = container_key(container_id);
        self.lock()
            .containers
            .get(&key)
            .cloned()
            .ok_or_else(|| AgentError::container(&key, "unknown container"))
    }

    /// Remembers an ended container, forgetting the oldest ones.
    fn retire(&self, key: String) {
        let mut table = self.lock();
        if let Some(entry) = table.containers.get_mut(&key) {
            entry.pid = None;
        }
        table.ended_order.push_back(key);
        while table.ended_order.len() > RETAINED_TERMINATIONS {
            if let Some(old) = table.ended_order.pop_front() {
                table.containers.remove(&old);
            }
        }
    }
}

/// Runs `DOCKER` containers through a Docker engine (see the module docs).
#[derive(Debug, Clone)]
pub struct DockerContainerizer {
    shared: Arc<Shared>,
}

impl DockerContainerizer {
    /// A containerizer for the engine `config` names. The engine is not
    /// contacted here: an agent whose engine is down still starts (a
    /// background probe says so loudly, when a runtime is there to run it).
    pub fn new(
        config: DockerConfig,
        mapped_sandbox: PathBuf,
        enable_cfs: bool,
        work_dir: PathBuf,
    ) -> Self {
        let shared = Arc::new(Shared {
            engine: Engine::new(config.socket_path()),
            config,
            mapped_sandbox,
            enable_cfs,
            work_dir: work_dir.display().to_string(),
            table: Mutex::default(),
            pulls: AtomicU64::new(0),
            last_pull_ms: AtomicU64::new(0),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(probe(Arc::clone(&shared)));
        }
        Self { shared }
    }

    /// True when the container's checkpoint directory says this
    /// containerizer launched it.
    pub fn owns(&self, request: &RecoverRequest) -> bool {
        recover::Record::read(&request.checkpoint_dir).is_some()
    }
}

/// Tells the operator at start whether the engine answers.
async fn probe(shared: Arc<Shared>) {
    let answer = shared
        .engine
        .quick(
            "ask the engine's version",
            |c| async move { c.version().await },
        )
        .await;
    match answer {
        Ok(version) => tracing::info!(
            socket = %shared.engine.socket().display(),
            engine = version.version.as_deref().unwrap_or("?"),
            api = version.api_version.as_deref().unwrap_or("?"),
            "the Docker containerizer is ready"
        ),
        Err(error) => tracing::warn!(
            %error,
            "THE DOCKER ENGINE IS NOT AVAILABLE: Docker containers will fail to launch until it is (other containers are not affected)"
        ),
    }
}

impl Containerizer for DockerContainerizer {
    fn launch(&self, request: LaunchRequest) -> BoxFuture<'_, Result<(), AgentError>> {
        launch::launch(Arc::clone(&self.shared), request).boxed()
    }

    fn wait(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<Termination, AgentError>> {
        let found = self.shared.entry(container_id);
        let key = container_key(container_id);
        async move {
            let mut ended = found?.ended;
            let termination = ended
                .wait_for(Option::is_some)
                .await
                .map_err(|_| AgentError::container(&key, "the container's watcher is gone"))?;
            (*termination)
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
        let found = self.shared.entry(container_id);
        let key = container_key(container_id);
        let shared = Arc::clone(&self.shared);
        async move {
            let entry = found?;
            if entry.ended.borrow().is_some() {
                return Ok(());
            }
            if signal == Signal::Kill {
                entry.killed.store(true, Ordering::SeqCst);
            }
            watch::signal(&shared, &entry.name, entry.pid, signal)
                .await
                .map_err(|e| AgentError::container(&key, e))
        }
        .boxed()
    }

    fn recover(
        &self,
        containers: Vec<RecoverRequest>,
    ) -> BoxFuture<'_, Result<Vec<RecoveredContainer>, AgentError>> {
        recover::recover(Arc::clone(&self.shared), containers).boxed()
    }

    fn pid(&self, container_id: &v1::ContainerId) -> Option<u32> {
        self.shared.entry(container_id).ok()?.pid
    }

    fn running_status(&self, container_id: &v1::ContainerId) -> Option<RunningStatus> {
        self.shared.entry(container_id).ok()?.running
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let pulls = self.shared.pulls.load(Ordering::Relaxed);
        let mut metrics = vec![(
            "containerizer/docker/image_pull_ms/count".to_string(),
            pulls as f64,
        )];
        if pulls > 0 {
            metrics.push((
                "containerizer/docker/image_pull_ms".to_string(),
                self.shared.last_pull_ms.load(Ordering::Relaxed) as f64,
            ));
        }
        metrics
    }

    fn usage(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<v1::ResourceStatistics, AgentError>> {
        let found = self.shared.entry(container_id);
        let key = container_key(container_id);
        let shared = Arc::clone(&self.shared);
        async move {
            let entry = found?;
            watch::usage(&shared, &entry.name)
                .await
                .map_err(|e| AgentError::container(&key, e))
        }
        .boxed()
    }
}
