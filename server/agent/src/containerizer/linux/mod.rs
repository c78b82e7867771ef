//! [`LinuxContainerizer`]: every container in cgroups of its own, in
//! namespaces of its own, with the [isolators](super::isolators) the
//! operator chose (`--isolation`); Mesos's "mesos" containerizer.
//!
//! A container's life:
//! 1. **launch** (`launch.rs`): the isolators prepare it (namespaces,
//!    mounts, environment, rlimits), its cgroup is created with its limits
//!    (devices, CPU, memory, pids), and its first process joins the cgroup
//!    before anything of it runs ([`super::program`]); so do all its
//!    descendants, daemons included.
//! 2. **watch** (`monitor.rs`): one task per container waits for its first
//!    process, wakes on OOM events and runs the isolators' periodic checks;
//!    a [`Limitation`](super::Limitation) found kills the container and is
//!    part of how it ended.
//! 3. **end**: whatever is left in the cgroup is killed (freezer or
//!    `cgroup.kill`), the cgroup removed, the isolators cleaned up, and only
//!    then does `wait` resolve: nothing of a container outlives its
//!    termination.
//!
//! A default executor's tasks are nested containers: their cgroups sit
//! inside a *group* cgroup for the executor, which has no process of its
//! own and carries the limits of the executor and all its tasks (set with
//! `update`); the group goes when its last task does.
//!
//! After an agent restart `recover.rs` takes back the containers named by
//! the checkpoint (their limits never left the kernel) and removes every
//! other cgroup under the root: orphans of a crash.
//!
//! A container from an image (`ContainerInfo.mesos.image`) gets its root
//! filesystem from the [provisioner](super::provisioner) before anything
//! else, enters it at launch (`image.rs`), and loses it when it ends.

mod image;
mod launch;
mod monitor;
mod recover;
mod root_lock;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use meseta_proto::v1;
use tokio::sync::{watch, Notify};

use super::cgroups::{Cgroup, Hierarchy};
use super::isolators::{self, Container, Isolation, IsolationConfig, Isolator};
use super::spawn::signal_group;
use super::{
    container_key, Containerizer, LaunchRequest, Limitation, RecoverRequest, RecoveredContainer,
    Signal, Termination,
};
use crate::error::AgentError;

/// How many ended containers are remembered for late `wait` calls.
const RETAINED_TERMINATIONS: usize = 4096;
/// How long killing every process of a container may take.
const KILL_TIMEOUT: Duration = Duration::from_secs(30);

/// What runs in a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A process tree; `pid` is its first process (a supervisor when it
    /// has one), also its process group.
    Process { pid: i32 },
    /// No process of its own: the cgroup of a default executor, holding
    /// its tasks' (nested) containers.
    Group,
}

#[derive(Debug)]
struct Entry {
    id: v1::ContainerId,
    kind: Kind,
    cgroup: Cgroup,
    /// The group a nested container belongs to.
    parent: Option<String>,
    resources: Vec<v1::Resource>,
    sandbox: PathBuf,
    info: Option<v1::ContainerInfo>,
    ended: watch::Receiver<Option<Termination>>,
    /// SIGKILL was sent (a recovered container that ends unrecorded was
    /// killed).
    killed: Arc<AtomicBool>,
    /// The limit that ended (or is ending) it.
    limitation: Arc<Mutex<Option<Limitation>>>,
    /// Nested containers still running (groups).
    members: usize,
    /// Wakes a group's monitor when it may be empty.
    changed: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Table {
    containers: HashMap<String, Entry>,
    ended_order: VecDeque<String>,
    /// Resources given by `update` before the container exists.
    pending_limits: HashMap<String, Vec<v1::Resource>>,
}

/// Runs each container in cgroups and namespaces of its own.
#[derive(Debug, Clone)]
pub struct LinuxContainerizer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    hierarchy: Hierarchy,
    isolators: Vec<Box<dyn Isolator>>,
    isolation: Isolation,
    config: IsolationConfig,
    table: Mutex<Table>,
    /// Serialises creating and removing container groups.
    groups: Mutex<()>,
    /// This agent's claim on its cgroup root.
    _root: root_lock::RootLock,
    /// The provisioner of containers' images, or why there is none.
    images: Result<Arc<super::provisioner::Provisioner>, String>,
}

impl LinuxContainerizer {
    /// Builds the isolators `isolation` names and finds (and creates) the
    /// cgroups they need; fails when this host cannot give them.
    pub fn new(
        isolation: Isolation,
        config: IsolationConfig,
        agent_resources: &[v1::Resource],
    ) -> Result<Self, AgentError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(AgentError::CannotIsolate(
                "isolation needs the agent to run as root".into(),
            ));
        }
        let isolators =
            isolators::build(&isolation, &config, agent_resources).map_err(AgentError::Config)?;
        let mut controllers: Vec<_> = isolators
            .iter()
            .flat_map(|i| i.controllers().iter().copied())
            .collect();
        controllers.sort();
        controllers.dedup();
        let hierarchy = Hierarchy::detect(
            &config.cgroups_hierarchy,
            &config.cgroups_root,
            &controllers,
        )
        .map_err(|e| AgentError::CannotIsolate(format!("cgroups: {e}")))?;
        let root = root_lock::RootLock::acquire(&hierarchy, &config.cgroups_root)?;
        let images = image::images(&isolation, &config)?;
        tracing::info!(
            isolation = %isolation.text(),
            cgroups = ?hierarchy.version(),
            base = ?hierarchy.base_dirs(),
            "containers are isolated"
        );
        Ok(Self {
            shared: Arc::new(Shared {
                hierarchy,
                isolators,
                isolation,
                config,
                table: Mutex::default(),
                groups: Mutex::default(),
                _root: root,
                images,
            }),
        })
    }

    /// The isolators in use, as `--isolation` names them.
    pub fn isolation(&self) -> String {
        self.shared.isolation.text()
    }

    /// The cgroup version in use.
    pub fn cgroups_version(&self) -> super::cgroups::Version {
        self.shared.hierarchy.version()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the isolators' view of a container, if it is known.
    fn with_container<T>(&self, key: &str, f: impl FnOnce(&Container<'_>) -> T) -> Option<T> {
        let table = self.lock();
        let entry = table.containers.get(key)?;
        let container = Container {
            id: &entry.id,
            cgroup: &entry.cgroup,
            sandbox: &entry.sandbox,
            resources: &entry.resources,
            info: entry.info.as_ref(),
            nested: entry.parent.is_some(),
            image: None,
            command: None,
        };
        Some(f(&container))
    }

    /// Applies `resources` as the container's limits (every isolator).
    fn apply_limits(&self, cgroup: &Cgroup, resources: &[v1::Resource]) -> Result<(), String> {
        for isolator in &self.isolators {
            isolator.update(cgroup, resources)?;
        }
        Ok(())
    }

    /// Remembers an ended container, forgetting the oldest ones.
    fn retire(&self, key: String) {
        let mut table = self.lock();
        table.ended_order.push_back(key);
        while table.ended_order.len() > RETAINED_TERMINATIONS {
            if let Some(old) = table.ended_order.pop_front() {
                table.containers.remove(&old);
            }
        }
    }

    fn handle(&self, container_id: &v1::ContainerId) -> Result<Handle, AgentError> {
        let key = container_key(container_id);
        let table = self.lock();
        let entry = table
            .containers
            .get(&key)
            .ok_or_else(|| AgentError::container(&key, "unknown container"))?;
        Ok(Handle {
            key: key.clone(),
            kind: entry.kind,
            cgroup: entry.cgroup.clone(),
            ended: entry.ended.clone(),
            killed: Arc::clone(&entry.killed),
        })
    }
}

impl Drop for Shared {
    /// An agent that stops leaves no empty root cgroup behind (one with
    /// containers in it stays: they outlive the agent on purpose).
    fn drop(&mut self) {
        for dir in self.hierarchy.base_dirs() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// What the operations need of an [`Entry`], taken out of the lock.
struct Handle {
    key: String,
    kind: Kind,
    cgroup: Cgroup,
    ended: watch::Receiver<Option<Termination>>,
    killed: Arc<AtomicBool>,
}

/// Adds a container group with its first member counted, and watches it
/// until its last member has gone.
fn add_group(
    shared: &Arc<Shared>,
    table: &mut Table,
    key: &str,
    id: v1::ContainerId,
    cgroup: Cgroup,
    resources: Vec<v1::Resource>,
    sandbox: PathBuf,
) {
    let (tx, rx) = watch::channel(None);
    let changed = Arc::new(Notify::new());
    let entry = Entry {
        id,
        kind: Kind::Group,
        cgroup,
        parent: None,
        resources,
        sandbox,
        info: None,
        ended: rx,
        killed: Arc::default(),
        limitation: Arc::default(),
        members: 1,
        changed: Arc::clone(&changed),
    };
    table.containers.insert(key.to_string(), entry);
    tokio::spawn(monitor::watch_group(
        Arc::clone(shared),
        key.to_string(),
        changed,
        tx,
    ));
}

/// A nested task's sandbox is `<executor>/tasks/<task>`: the executor's.
fn executor_directory(sandbox: &std::path::Path) -> PathBuf {
    match sandbox.parent() {
        Some(tasks) if tasks.file_name().is_some_and(|n| n == "tasks") => {
            tasks.parent().unwrap_or(sandbox).to_path_buf()
        }
        _ => sandbox.to_path_buf(),
    }
}

/// Kills every process of `cgroup` off the async threads.
async fn kill_cgroup(key: &str, cgroup: Cgroup) {
    let killed = tokio::task::spawn_blocking(move || cgroup.kill_all(KILL_TIMEOUT)).await;
    match killed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(container = %key, error = %e, "cannot kill every process of the container")
        }
        Err(e) => tracing::error!(container = %key, error = %e, "the kill task failed"),
    }
}

/// The time now, as `ResourceStatistics.timestamp` wants it.
fn timestamp() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl Containerizer for LinuxContainerizer {
    fn launch(&self, request: LaunchRequest) -> BoxFuture<'_, Result<(), AgentError>> {
        let shared = Arc::clone(&self.shared);
        async move { launch::launch(shared, request).await }.boxed()
    }

    fn wait(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<Termination, AgentError>> {
        let found = self.shared.handle(container_id);
        async move {
            let handle = found?;
            let mut rx = handle.ended;
            let ended = rx.wait_for(Option::is_some).await.map_err(|_| {
                AgentError::container(&handle.key, "the container's watcher is gone")
            })?;
            (*ended)
                .clone()
                .ok_or_else(|| AgentError::container(&handle.key, "no termination recorded"))
        }
        .boxed()
    }

    fn kill(
        &self,
        container_id: &v1::ContainerId,
        signal: Signal,
    ) -> BoxFuture<'_, Result<(), AgentError>> {
        let found = self.shared.handle(container_id);
        async move {
            let handle = found?;
            if handle.ended.borrow().is_some() {
                return Ok(());
            }
            match (signal, handle.kind) {
                (Signal::Terminate, Kind::Process { pid }) => signal_group(pid, libc::SIGTERM),
                (Signal::Terminate, Kind::Group) => {
                    let cgroup = handle.cgroup.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        super::cgroups::v1::signal_tree(&cgroup.tracking_dir(), libc::SIGTERM)
                    })
                    .await;
                }
                (Signal::Kill, kind) => {
                    handle.killed.store(true, Ordering::SeqCst);
                    kill_cgroup(&handle.key, handle.cgroup).await;
                    // A container taken back from a run without isolation
                    // has no cgroup: its process group is all there is.
                    if let Kind::Process { pid } = kind {
                        signal_group(pid, libc::SIGKILL);
                    }
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn recover(
        &self,
        containers: Vec<RecoverRequest>,
    ) -> BoxFuture<'_, Result<Vec<RecoveredContainer>, AgentError>> {
        let shared = Arc::clone(&self.shared);
        async move { Ok(recover::recover(shared, containers).await) }.boxed()
    }

    fn update(
        &self,
        container_id: &v1::ContainerId,
        resources: Vec<v1::Resource>,
    ) -> BoxFuture<'_, Result<(), AgentError>> {
        let key = container_key(container_id);
        let shared = Arc::clone(&self.shared);
        async move {
            let cgroup = {
                let mut table = shared.lock();
                match table.containers.get_mut(&key) {
                    Some(entry) if entry.parent.is_none() && entry.ended.borrow().is_none() => {
                        entry.resources = resources.clone();
                        Some(entry.cgroup.clone())
                    }
                    Some(_) => None,
                    None => {
                        table.pending_limits.insert(key.clone(), resources.clone());
                        None
                    }
                }
            };
            if let Some(cgroup) = cgroup {
                tracing::debug!(container = %key, resources = %meseta_proto::resources::describe(&resources), "updating limits");
                shared
                    .apply_limits(&cgroup, &resources)
                    .map_err(|e| AgentError::container(&key, e))?;
            }
            Ok(())
        }
        .boxed()
    }

    fn pid(&self, container_id: &v1::ContainerId) -> Option<u32> {
        let table = self.shared.lock();
        match table.containers.get(&container_key(container_id))?.kind {
            Kind::Process { pid } => u32::try_from(pid).ok(),
            Kind::Group => None,
        }
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let mut metrics: Vec<(String, f64)> = self
            .shared
            .isolators
            .iter()
            .flat_map(|i| i.metrics())
            .collect();
        if let Ok(provisioner) = &self.shared.images {
            metrics.extend(provisioner.metrics());
        }
        metrics
    }

    fn usage(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<v1::ResourceStatistics, AgentError>> {
        let key = container_key(container_id);
        let name = key.clone();
        let shared = Arc::clone(&self.shared);
        async move {
            let found = tokio::task::spawn_blocking(move || {
                shared.with_container(&key, |container| {
                    let mut stats = v1::ResourceStatistics {
                        timestamp: timestamp(),
                        ..Default::default()
                    };
                    container.cgroup.stats().fill(&mut stats);
                    let cpus = isolators::scalar(container.resources, "cpus");
                    let mem = isolators::scalar(container.resources, "mem");
                    if cpus > 0.0 {
                        stats.cpus_limit = Some(cpus);
                        stats.cpus_soft_limit = Some(cpus);
                    }
                    if mem > 0.0 {
                        stats.mem_soft_limit_bytes = Some((mem * 1024.0 * 1024.0) as u64);
                    }
                    for isolator in &shared.isolators {
                        isolator.usage(container, &mut stats);
                    }
                    stats
                })
            })
            .await
            .map_err(|e| AgentError::container(&name, e.to_string()))?;
            found.ok_or_else(|| AgentError::container(&name, "unknown container"))
        }
        .boxed()
    }
}
