//! How the agent runs a process tree: the [`Containerizer`] trait.
//!
//! The agent's logic (executors, kills, status updates) talks only to
//! `Arc<dyn Containerizer>`: it launches a container from a
//! [`LaunchRequest`], waits for its [`Termination`], signals it and asks for
//! its usage. Each way of isolating work is one implementation:
//! [`ProcessContainerizer`] (plain processes in their own process group),
//! [`LinuxContainerizer`] (cgroups + namespaces) and
//! [`DockerContainerizer`] (a Docker engine), combined by
//! [`CompositeContainerizer`] when `--containerizers` names several,
//! without the agent changing.
//!
//! Contract every implementation keeps:
//! * `launch` returns once the container runs (or failed to start);
//! * `wait` may be called any number of times, before or after the end, and
//!   always yields the same [`Termination`];
//! * `kill` reaches every process of the container, and is a no-op for a
//!   container that already ended;
//! * when a container's main process ends, the rest of the container is
//!   destroyed too: nothing outlives a container;
//! * a container launched with a `checkpoint_dir` survives the agent's
//!   death, and a restarted agent takes it back with `recover` (the
//!   containerizer owns what it keeps in that directory).

pub mod cgroups;
mod choose;
mod composite;
pub mod docker;
pub(crate) mod enter;
pub mod identity;
pub mod isolators;
mod linux;
mod new_root;
mod process;
mod program;
mod provisioner;
mod spawn;
pub mod supervisor;
mod users;

use std::path::PathBuf;

use futures::future::BoxFuture;
use meseta_proto::v1;

use crate::error::AgentError;

pub use choose::{choose, Chosen};
pub use composite::CompositeContainerizer;
pub use docker::{DockerConfig, DockerContainerizer};
pub use linux::LinuxContainerizer;
pub use process::ProcessContainerizer;
pub(crate) use spawn::{signal_group, termination_of};

/// Everything needed to start a container.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    /// The container's ID (nested containers have a `parent`).
    pub container_id: v1::ContainerId,
    /// What to run: `shell` + `value` + `arguments` (URIs are already fetched).
    pub command: v1::CommandInfo,
    /// Variables added to the agent's own environment, later ones winning.
    pub environment: Vec<(String, String)>,
    /// The working directory, and where `stdout` and `stderr` are written.
    pub sandbox: PathBuf,
    /// The user to run as, for containerizers that switch users.
    pub user: Option<String>,
    /// The resources allotted, for containerizers that enforce limits.
    pub resources: Vec<v1::Resource>,
    /// How the framework asked for the container to be set up (hostname,
    /// rlimits, images); `None` for a plain command.
    pub container: Option<v1::ContainerInfo>,
    /// Where the containerizer records what it needs to take the container
    /// back after an agent restart (and how it ended). `None`: the
    /// container cannot be recovered.
    pub checkpoint_dir: Option<PathBuf>,
}

/// A container of an earlier agent run, to take back.
#[derive(Debug, Clone)]
pub struct RecoverRequest {
    /// The container's ID.
    pub container_id: v1::ContainerId,
    /// The `checkpoint_dir` it was launched with.
    pub checkpoint_dir: PathBuf,
}

/// A container [`Containerizer::recover`] took back.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveredContainer {
    /// The container's ID.
    pub container_id: v1::ContainerId,
    /// False when it ended while the agent was away (`wait` says how).
    pub running: bool,
}

/// Graceful or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ask the container to stop (SIGTERM).
    Terminate,
    /// Stop it now (SIGKILL).
    Kill,
}

/// A limit a container went past, which ended it (Mesos's
/// `ContainerLimitation`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limitation {
    /// `REASON_CONTAINER_LIMITATION_MEMORY`, `..._DISK`, or
    /// `REASON_CONTAINER_LIMITATION` (ports).
    pub reason: v1::task_status::Reason,
    /// What happened, for `TaskStatus.message`.
    pub message: String,
    /// The resources concerned, for `TaskStatus.limitation`.
    pub resources: Vec<v1::Resource>,
}

/// What a running container shows of itself in its `TASK_RUNNING`,
/// beyond its ID and PID.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunningStatus {
    /// `ContainerStatus.network_infos`: its addresses on a network of its
    /// own (a Docker bridge or user network).
    pub network_infos: Vec<v1::NetworkInfo>,
    /// `TaskStatus.data`: Mesos's Docker executor sends the engine's
    /// description of the container (`docker inspect`).
    pub data: Option<Vec<u8>>,
}

/// How a container ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Termination {
    /// The main process's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended the main process, when one did.
    pub signal: Option<i32>,
    /// The raw wait status (as Mesos reports it in `ExecutorExited`).
    pub wait_status: Option<i32>,
    /// The limit that ended it, when the containerizer ended it for one.
    pub limitation: Option<Limitation>,
}

impl Termination {
    /// A termination nobody recorded (neither code nor signal known).
    pub fn unknown() -> Self {
        Self {
            exit_code: None,
            signal: None,
            wait_status: None,
            limitation: None,
        }
    }

    /// True when the main process exited with code 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// "Command exited with status 3" / "Command terminated with signal Killed".
    pub fn describe(&self) -> String {
        match (self.exit_code, self.signal) {
            (Some(code), _) => format!("Command exited with status {code}"),
            (None, Some(signal)) => {
                format!("Command terminated with signal {}", signal_name(signal))
            }
            (None, None) => "Command terminated for an unknown reason".to_string(),
        }
    }
}

/// The description `strsignal` gives, e.g. "Terminated" for SIGTERM.
pub fn signal_name(signal: i32) -> String {
    // SAFETY: strsignal returns a pointer to a static or thread-local string
    // (or NULL); it is copied out at once, before any other call could
    // overwrite it.
    let text = unsafe {
        let ptr = libc::strsignal(signal);
        if ptr.is_null() {
            return format!("signal {signal}");
        }
        std::ffi::CStr::from_ptr(ptr).to_string_lossy().into_owned()
    };
    text
}

/// Refuses a Docker container in a containerizer that does not run them
/// (the Docker containerizer takes them when `--containerizers` names
/// it), instead of running its command on the host with the container
/// ignored.
pub(crate) fn refuse_unsupported(
    key: &str,
    info: Option<&v1::ContainerInfo>,
) -> Result<(), AgentError> {
    let Some(info) = info else {
        return Ok(());
    };
    use v1::container_info::Type;
    match Type::try_from(info.r#type).unwrap_or(Type::Mesos) {
        Type::Docker => Err(AgentError::container(
            key,
            "Docker containers (ContainerInfo.type DOCKER) need the docker containerizer: start the agent with --containerizers=docker,mesos",
        )),
        Type::Mesos => Ok(()),
    }
}

/// The image a container is to run from (`ContainerInfo.mesos.image`).
pub(crate) fn image_of(info: Option<&v1::ContainerInfo>) -> Option<&v1::Image> {
    info?.mesos.as_ref()?.image.as_ref()
}

/// Refuses a container from an image where images cannot run, saying why
/// (`why`: what this containerizer lacks), instead of running its command
/// on the host's filesystem.
pub(crate) fn refuse_image(
    key: &str,
    info: Option<&v1::ContainerInfo>,
    why: &str,
) -> Result<(), AgentError> {
    match image_of(info) {
        Some(_) => Err(AgentError::container(
            key,
            format!("container images (ContainerInfo.mesos.image) cannot run here: {why}"),
        )),
        None => Ok(()),
    }
}

/// The text form of a container ID (`parent.child` for nested ones), used as
/// a map key and in logs.
pub fn container_key(id: &v1::ContainerId) -> String {
    match &id.parent {
        Some(parent) => format!("{}.{}", container_key(parent), id.value),
        None => id.value.clone(),
    }
}

/// Runs and controls containers. See the module docs for the contract.
pub trait Containerizer: Send + Sync + 'static {
    /// Starts a container; returns once it runs.
    fn launch(&self, request: LaunchRequest) -> BoxFuture<'_, Result<(), AgentError>>;

    /// Resolves when the container has ended (at once if it already has).
    fn wait(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<Termination, AgentError>>;

    /// Sends `signal` to every process of the container.
    fn kill(
        &self,
        container_id: &v1::ContainerId,
        signal: Signal,
    ) -> BoxFuture<'_, Result<(), AgentError>>;

    /// Takes back containers an earlier agent run launched with a
    /// checkpoint directory. Each one it has a record of is returned —
    /// still running, or ended (with the recorded termination, or one with
    /// neither code nor signal when none was recorded) — and can then be
    /// waited on, killed and measured like a container launched now.
    /// Containers without a record (they never started) are left out.
    fn recover(
        &self,
        containers: Vec<RecoverRequest>,
    ) -> BoxFuture<'_, Result<Vec<RecoveredContainer>, AgentError>>;

    /// Sets the resources a running container is limited to: a custom
    /// executor's grow and shrink with its tasks. For a container with no
    /// process of its own (the default executor's, whose tasks are its
    /// nested containers) the first update creates it. Containerizers
    /// that enforce nothing accept and ignore it.
    fn update(
        &self,
        container_id: &v1::ContainerId,
        resources: Vec<v1::Resource>,
    ) -> BoxFuture<'_, Result<(), AgentError>> {
        let _ = (container_id, resources);
        Box::pin(async { Ok(()) })
    }

    /// The PID of a running container's first process, as the agent sees
    /// it.
    fn pid(&self, container_id: &v1::ContainerId) -> Option<u32> {
        let _ = container_id;
        None
    }

    /// What `TASK_RUNNING` reports of a running container beyond its ID
    /// and PID (its addresses, the engine's description), if anything.
    fn running_status(&self, container_id: &v1::ContainerId) -> Option<RunningStatus> {
        let _ = container_id;
        None
    }

    /// Counters for the agent's `/metrics/snapshot`: (key, value).
    fn metrics(&self) -> Vec<(String, f64)> {
        Vec::new()
    }

    /// Resource usage of a running container.
    fn usage(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<v1::ResourceStatistics, AgentError>>;
}
