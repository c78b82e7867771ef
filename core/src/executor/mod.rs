//! The executor driver: an executor's connection to its agent over the v1
//! executor HTTP API (`/api/v1/executor`).
//!
//! An executor implements [`Executor`] and runs an [`ExecutorDriver`], which
//! reads the `MESOS_*` environment the agent set ([`ExecutorConfig`]),
//! subscribes, and turns events into callbacks.
//!
//! Reliability, as the API asks: every status update gets a fresh 16-byte
//! UUID, source `SOURCE_EXECUTOR` and a timestamp, and is kept until the
//! agent sends `ACKNOWLEDGED`; unacknowledged updates and tasks are resent in
//! the next `SUBSCRIBE`. Updates made while disconnected are kept (and sent
//! with that `SUBSCRIBE`); framework messages made while disconnected are
//! dropped (they are best effort).
//!
//! When the agent goes away: with framework checkpointing, resubscribe with
//! a backoff bounded by `MESOS_SUBSCRIPTION_BACKOFF_MAX` for up to
//! `MESOS_RECOVERY_TIMEOUT`; without it (or when time runs out), call
//! `shutdown` and abort. After a `SHUTDOWN` event the driver calls
//! `shutdown`, then stops itself once it returns, flushing the updates sent
//! meanwhile; `join` then returns `Stopped` and the executor can exit.
//!
//! Liveness is left to the TCP connection (the agent is local and closes
//! the stream when it exits); heartbeat events are accepted and ignored.

mod config;
mod connection;
mod driver;
mod session;
mod shared;

use meseta_proto::v1;

pub use config::{
    parse_duration, ExecutorConfig, DEFAULT_RECOVERY_TIMEOUT, DEFAULT_SUBSCRIPTION_BACKOFF_MAX,
};
pub use driver::ExecutorDriver;
pub use session::{Action, Decision, Reconnect, Session};

/// An executor: the callbacks an [`ExecutorDriver`] invokes.
///
/// Callbacks run one at a time, in event order, on the driver's callback
/// thread, and may call any driver method except
/// [`ExecutorDriver::join`]/[`ExecutorDriver::run`]. Long work (running a
/// task) belongs on threads of the executor's own. A callback that panics
/// aborts the driver. Every method has a default body.
#[allow(unused_variables)]
pub trait Executor: Send + 'static {
    /// Subscribed to the agent for the first time.
    fn registered(
        &mut self,
        driver: &ExecutorDriver,
        executor_info: &v1::ExecutorInfo,
        framework_info: &v1::FrameworkInfo,
        agent_info: &v1::AgentInfo,
    ) {
    }

    /// Subscribed again after the agent restarted.
    fn reregistered(&mut self, driver: &ExecutorDriver, agent_info: &v1::AgentInfo) {}

    /// The connection to the agent broke.
    fn disconnected(&mut self, driver: &ExecutorDriver) {}

    /// Run a task; report it with
    /// [`send_status_update`](ExecutorDriver::send_status_update).
    fn launch_task(&mut self, driver: &ExecutorDriver, task: &v1::TaskInfo) {}

    /// Run a task group; by default each task goes to
    /// [`launch_task`](Self::launch_task).
    fn launch_task_group(&mut self, driver: &ExecutorDriver, task_group: &v1::TaskGroupInfo) {
        for task in &task_group.tasks {
            self.launch_task(driver, task);
        }
    }

    /// Kill a task, then send a terminal update for it.
    fn kill_task(&mut self, driver: &ExecutorDriver, task_id: &v1::TaskId) {}

    /// The scheduler sent a message.
    fn framework_message(&mut self, driver: &ExecutorDriver, data: &[u8]) {}

    /// Kill every task (sending `TASK_KILLED` updates) and clean up; the
    /// driver stops once this returns.
    fn shutdown(&mut self, driver: &ExecutorDriver) {}

    /// A fatal error; the driver is aborted before this is called (or, for
    /// a rejected call, an error while still running).
    fn error(&mut self, driver: &ExecutorDriver, message: &str) {}
}

/// One callback invocation (one variant per [`Executor`] method).
#[allow(
    clippy::large_enum_variant,
    reason = "built once and moved through a channel; boxing would only add an allocation"
)]
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// [`Executor::registered`].
    Registered {
        /// This executor.
        executor_info: v1::ExecutorInfo,
        /// Its framework.
        framework_info: v1::FrameworkInfo,
        /// The agent.
        agent_info: v1::AgentInfo,
    },
    /// [`Executor::reregistered`].
    Reregistered {
        /// The agent.
        agent_info: v1::AgentInfo,
    },
    /// [`Executor::disconnected`].
    Disconnected,
    /// [`Executor::launch_task`].
    LaunchTask(v1::TaskInfo),
    /// [`Executor::launch_task_group`].
    LaunchTaskGroup(v1::TaskGroupInfo),
    /// [`Executor::kill_task`].
    KillTask(v1::TaskId),
    /// [`Executor::framework_message`].
    FrameworkMessage(Vec<u8>),
    /// [`Executor::shutdown`].
    Shutdown,
    /// [`Executor::error`].
    Error(String),
}

impl Callback {
    /// Calls the matching [`Executor`] method.
    pub fn invoke(&self, executor: &mut dyn Executor, driver: &ExecutorDriver) {
        match self {
            Self::Registered {
                executor_info,
                framework_info,
                agent_info,
            } => executor.registered(driver, executor_info, framework_info, agent_info),
            Self::Reregistered { agent_info } => executor.reregistered(driver, agent_info),
            Self::Disconnected => executor.disconnected(driver),
            Self::LaunchTask(task) => executor.launch_task(driver, task),
            Self::LaunchTaskGroup(group) => executor.launch_task_group(driver, group),
            Self::KillTask(task_id) => executor.kill_task(driver, task_id),
            Self::FrameworkMessage(data) => executor.framework_message(driver, data),
            Self::Shutdown => executor.shutdown(driver),
            Self::Error(message) => executor.error(driver, message),
        }
    }
}
