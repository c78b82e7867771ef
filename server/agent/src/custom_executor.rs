//! Custom executors: a framework's own process, speaking the executor HTTP
//! API back to this agent.
//!
//! Lifecycle of one executor run:
//! 1. fetch the executor's URIs into its sandbox and start its command with
//!    the `MESOS_*` environment the executor libraries expect;
//! 2. wait for it to `SUBSCRIBE` (see [`crate::executor_api`]); if it has not
//!    within `executor_registration_timeout`, destroy it;
//! 3. when its container ends — for whatever reason — every task it had not
//!    finished becomes `TASK_FAILED` (`REASON_EXECUTOR_TERMINATED`, or
//!    `REASON_EXECUTOR_REGISTRATION_TIMEOUT`), and the master is told with
//!    `ExecutorExited`.
//!
//! Shutting an executor down sends `SHUTDOWN` and destroys the container
//! after the executor's shutdown grace period.
//!
//! Executors of checkpointing frameworks get `MESOS_CHECKPOINT=1`: when the
//! agent goes away they keep trying to subscribe again. A restarted agent
//! takes such an executor back (`run_recovered_custom_executor`) and gives
//! it `executor_reregistration_timeout` to do so.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meseta_proto::cluster::{self, agent_message::Kind};
use meseta_proto::v1::{self, task_status::Reason, TaskState};

use crate::builtin_executor::command_environment;
use crate::config::mesos_duration;
use crate::containerizer::{LaunchRequest, Signal, Termination};
use crate::executor_api::events;
use crate::inner::Inner;
use crate::state::{Executor, ExecutorPhase};
use crate::status_updates::is_terminal;

/// What is needed to start a custom executor.
#[derive(Debug, Clone)]
pub(crate) struct CustomLaunch {
    pub framework_id: v1::FrameworkId,
    pub info: v1::ExecutorInfo,
    pub container_id: v1::ContainerId,
    /// Where the containerizer records the executor's process.
    pub checkpoint_dir: PathBuf,
    pub sandbox: PathBuf,
    pub user: Option<String>,
    /// The framework checkpoints: the executor should wait for a restarting
    /// agent rather than exit (`MESOS_CHECKPOINT`).
    pub checkpoint: bool,
}

impl Executor {
    /// The tasks of a recovered executor that subscribed again without
    /// listing them although they are still staging: they never reached
    /// it before the agent restarted.
    pub(crate) fn never_received(&self, listed: &[v1::TaskInfo]) -> Vec<v1::TaskId> {
        self.tasks
            .values()
            .filter(|t| t.state == TaskState::TaskStaging as i32)
            .filter(|t| !listed.iter().any(|l| l.task_id == t.info.task_id))
            .map(|t| t.info.task_id.clone())
            .collect()
    }
}

/// How long a checkpointing executor keeps trying to reach a restarting
/// agent before it gives up (Mesos's default `--recovery_timeout`).
pub const RECOVERY_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The longest pause between an executor's subscription attempts: half the
/// re-registration timeout, so that an executor tries at least twice before
/// a restarted agent gives up on it.
fn subscription_backoff_max(inner: &Inner) -> Duration {
    (inner.settings.config.executor_reregistration_timeout / 2).max(Duration::from_millis(100))
}

/// The executor's shutdown grace period: its own, or the agent's.
pub(crate) fn shutdown_grace(inner: &Inner, info: &v1::ExecutorInfo) -> Duration {
    info.shutdown_grace_period
        .as_ref()
        .map(|d| Duration::from_nanos(u64::try_from(d.nanoseconds).unwrap_or(0)))
        .unwrap_or(inner.settings.config.executor_shutdown_grace_period)
}

/// The environment Mesos gives an HTTP executor.
pub(crate) fn executor_environment(inner: &Inner, launch: &CustomLaunch) -> Vec<(String, String)> {
    let sandbox = launch.sandbox.display().to_string();
    let agent_id = inner.agent_id().map(|a| a.value).unwrap_or_default();
    let grace = shutdown_grace(inner, &launch.info);
    let mut env = vec![
        ("MESOS_AGENT_ENDPOINT".to_string(), inner.endpoint()),
        (
            "MESOS_FRAMEWORK_ID".to_string(),
            launch.framework_id.value.clone(),
        ),
        (
            "MESOS_EXECUTOR_ID".to_string(),
            launch.info.executor_id.value.clone(),
        ),
        ("MESOS_DIRECTORY".to_string(), sandbox.clone()),
        ("MESOS_SANDBOX".to_string(), sandbox),
        (
            "MESOS_CHECKPOINT".to_string(),
            if launch.checkpoint { "1" } else { "0" }.to_string(),
        ),
        (
            "MESOS_RECOVERY_TIMEOUT".to_string(),
            mesos_duration(RECOVERY_TIMEOUT),
        ),
        (
            "MESOS_SUBSCRIPTION_BACKOFF_MAX".to_string(),
            mesos_duration(subscription_backoff_max(inner)),
        ),
        ("MESOS_HTTP_COMMAND_EXECUTOR".to_string(), "0".to_string()),
        ("MESOS_AGENT_ID".to_string(), agent_id.clone()),
        ("MESOS_SLAVE_ID".to_string(), agent_id),
        (
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".to_string(),
            mesos_duration(grace),
        ),
    ];
    if let Some(command) = &launch.info.command {
        env.extend(command_environment(command));
    }
    env
}

impl Inner {
    /// Starts a custom executor and watches it until its container ends.
    pub(crate) async fn run_custom_executor(self: Arc<Self>, launch: CustomLaunch) {
        let fid = launch.framework_id.value.clone();
        let eid = launch.info.executor_id.value.clone();
        let command = launch.info.command.clone().unwrap_or_default();
        let fetched = self.fetcher.fetch_all(&command.uris, &launch.sandbox).await;
        if !self.begin_launch() {
            let message = "The agent is shutting down".to_string();
            return self.executor_ended(&launch, None, Reason::ContainerLaunchFailed, message);
        }
        let started = match fetched {
            Ok(()) => {
                let request = LaunchRequest {
                    container_id: launch.container_id.clone(),
                    command,
                    environment: executor_environment(&self, &launch),
                    sandbox: launch.sandbox.clone(),
                    user: launch
                        .info
                        .command
                        .as_ref()
                        .and_then(|c| c.user.clone())
                        .filter(|u| !u.is_empty())
                        .or_else(|| launch.user.clone()),
                    resources: launch.info.resources.clone(),
                    container: launch.info.container.clone(),
                    checkpoint_dir: Some(launch.checkpoint_dir.clone()),
                };
                self.containerizer.launch(request).await
            }
            Err(e) => Err(e),
        };
        self.end_launch();
        if let Err(e) = started {
            self.lock()
                .checkpoint
                .remove_container(&launch.container_id);
            tracing::warn!(framework_id = %fid, executor_id = %eid, error = %e, "executor failed to start");
            let message = format!("Failed to launch container: {e}");
            return self.executor_ended(&launch, None, Reason::ContainerLaunchFailed, message);
        }
        tracing::info!(framework_id = %fid, executor_id = %eid, "executor started; waiting for it to subscribe");
        let shut_down_meanwhile = self.lock().executor(&fid, &eid).is_none_or(|e| {
            matches!(
                e.phase,
                ExecutorPhase::Terminating | ExecutorPhase::Terminated
            )
        });
        if shut_down_meanwhile {
            let _ = self
                .containerizer
                .kill(&launch.container_id, Signal::Kill)
                .await;
        }

        let timed_out = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let inner = Arc::clone(&self);
            let launch = launch.clone();
            let timed_out = Arc::clone(&timed_out);
            let timeout = self.settings.config.executor_registration_timeout;
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                let registering = inner
                    .lock()
                    .executor(&launch.framework_id.value, &launch.info.executor_id.value)
                    .is_some_and(|e| {
                        e.phase == ExecutorPhase::Registering
                            && e.container_id == launch.container_id
                    });
                if registering {
                    tracing::warn!(framework_id = %launch.framework_id.value, executor_id = %launch.info.executor_id.value, ?timeout, "executor did not subscribe in time; destroying it");
                    timed_out.store(true, Ordering::SeqCst);
                    let _ = inner
                        .containerizer
                        .kill(&launch.container_id, Signal::Kill)
                        .await;
                }
            })
        };
        let termination = self.containerizer.wait(&launch.container_id).await;
        watchdog.abort();
        let termination = match termination {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(framework_id = %fid, executor_id = %eid, error = %e, "cannot learn how the executor ended");
                None
            }
        };
        let description = termination
            .as_ref()
            .map_or_else(|| "unknown".to_string(), Termination::describe);
        let (reason, message) = if timed_out.load(Ordering::SeqCst) {
            (
                Reason::ExecutorRegistrationTimeout,
                "Executor did not subscribe in time".to_string(),
            )
        } else {
            (
                Reason::ExecutorTerminated,
                format!("Executor terminated: {description}"),
            )
        };
        tracing::info!(framework_id = %fid, executor_id = %eid, ended = %description, "executor ended");
        self.executor_ended(&launch, termination, reason, message);
    }

    /// Fails the executor's unfinished tasks, tells the master, retires it.
    fn executor_ended(
        &self,
        launch: &CustomLaunch,
        termination: Option<Termination>,
        reason: Reason,
        message: String,
    ) {
        let fid = launch.framework_id.value.as_str();
        let eid = launch.info.executor_id.value.as_str();
        let ended_known = termination.is_some();
        let unfinished: Vec<v1::TaskId> = {
            let mut state = self.lock();
            let Some(executor) = state.executor_mut(fid, eid) else {
                return;
            };
            executor.phase = ExecutorPhase::Terminated;
            executor.recovered = false;
            executor.events = None;
            executor.pending_launches.clear();
            let unfinished = executor
                .tasks
                .values()
                .filter(|t| !is_terminal(t.state))
                .map(|t| t.info.task_id.clone())
                .collect();
            state.counters.executors_terminated += 1;
            unfinished
        };
        let limitation = termination.as_ref().and_then(|t| t.limitation.clone());
        for task_id in unfinished {
            let mut status = v1::TaskStatus {
                task_id,
                state: TaskState::TaskFailed as i32,
                source: Some(v1::task_status::Source::Agent as i32),
                reason: Some(reason as i32),
                message: Some(message.clone()),
                ..Default::default()
            };
            if let Some(limitation) = &limitation {
                status.reason = Some(limitation.reason as i32);
                status.message = Some(limitation.message.clone());
                status.limitation = Some(v1::TaskResourceLimitation {
                    resources: limitation.resources.clone(),
                });
            }
            let _ = self.report(&launch.framework_id, status);
        }
        self.master
            .send(Kind::ExecutorExited(cluster::ExecutorExited {
                framework_id: launch.framework_id.clone(),
                executor_id: launch.info.executor_id.clone(),
                status: termination.and_then(|t| t.wait_status),
            }));
        let mut state = self.lock();
        if ended_known {
            // Its end is accounted for: a restart need not look for it. (An
            // unknown end keeps the record: its process may still run.)
            state.checkpoint.remove_container(&launch.container_id);
        }
        state.retire_if_done(fid, eid);
    }

    /// Watches a custom executor taken back after a restart: it has
    /// `executor_reregistration_timeout` to subscribe again, else it is
    /// destroyed; when its container ends, its unfinished tasks fail.
    pub(crate) async fn run_recovered_custom_executor(self: Arc<Self>, launch: CustomLaunch) {
        let fid = launch.framework_id.value.clone();
        let eid = launch.info.executor_id.value.clone();
        let timeout = self.settings.config.executor_reregistration_timeout;
        let timed_out = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let inner = Arc::clone(&self);
            let timed_out = Arc::clone(&timed_out);
            let (fid, eid) = (fid.clone(), eid.clone());
            let container_id = launch.container_id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                let waiting = inner
                    .lock()
                    .executor(&fid, &eid)
                    .is_some_and(|e| e.recovered && e.phase == ExecutorPhase::Registering);
                if waiting {
                    tracing::warn!(framework_id = %fid, executor_id = %eid, ?timeout, "recovered executor did not subscribe again in time; destroying it");
                    timed_out.store(true, Ordering::SeqCst);
                    let _ = inner.containerizer.kill(&container_id, Signal::Kill).await;
                }
            })
        };
        let termination = self.containerizer.wait(&launch.container_id).await;
        watchdog.abort();
        let termination = termination.ok();
        let (reason, message) = if timed_out.load(Ordering::SeqCst) {
            (
                Reason::ExecutorReregistrationTimeout,
                "Executor did not subscribe again after the agent restarted".to_string(),
            )
        } else {
            let ended = termination
                .as_ref()
                .filter(|t| t.exit_code.is_some() || t.signal.is_some())
                .map_or_else(|| "unknown".to_string(), Termination::describe);
            (
                Reason::ExecutorTerminated,
                format!("Executor terminated: {ended}"),
            )
        };
        tracing::info!(framework_id = %fid, executor_id = %eid, %message, "recovered executor ended");
        self.executor_ended(&launch, termination, reason, message);
    }

    /// Reports tasks a recovered executor never received as gone
    /// (`TASK_DROPPED` to partition-aware frameworks, else `TASK_LOST`).
    pub(crate) fn never_received(
        &self,
        framework_id: &v1::FrameworkId,
        executor_id: &str,
        tasks: Vec<v1::TaskId>,
    ) {
        let partition_aware = self
            .lock()
            .frameworks
            .get(&framework_id.value)
            .is_some_and(|f| {
                f.has_capability(v1::framework_info::capability::Type::PartitionAware)
            });
        let gone = if partition_aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };
        for task_id in tasks {
            tracing::warn!(framework_id = %framework_id.value, executor_id, task_id = %task_id.value, "the executor never received this task before the agent restarted");
            self.report_from_agent(
                framework_id,
                &task_id,
                gone,
                Some(Reason::AgentRestarted),
                "The task had not reached its executor when the agent restarted".into(),
            );
        }
    }

    /// Asks a custom executor to shut down; destroys it after its grace
    /// period (at once if it never subscribed).
    pub(crate) fn shutdown_custom_executor(
        self: &Arc<Self>,
        framework_id: &str,
        executor_id: &str,
    ) {
        let (container_id, grace, subscribed) = {
            let mut state = self.lock();
            let Some(executor) = state.executor_mut(framework_id, executor_id) else {
                return;
            };
            if !executor.is_live() {
                return;
            }
            executor.phase = ExecutorPhase::Terminating;
            let subscribed = executor
                .events
                .as_ref()
                .is_some_and(|events| events.try_send(events::shutdown()).is_ok());
            let grace = shutdown_grace(self, &executor.info);
            (executor.container_id.clone(), grace, subscribed)
        };
        tracing::info!(
            framework_id,
            executor_id,
            subscribed,
            ?grace,
            "shutting down executor"
        );
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            if subscribed {
                let ended =
                    tokio::time::timeout(grace, inner.containerizer.wait(&container_id)).await;
                if ended.is_ok() {
                    return;
                }
            }
            let _ = inner.containerizer.kill(&container_id, Signal::Kill).await;
        });
    }
}
