//! Stopping work: `KillTask`, `ShutdownFramework`, framework messages to
//! executors, and stopping everything when the agent itself stops.
//!
//! * A built-in executor's task is signalled through its control channel
//!   (SIGTERM, SIGKILL after the kill policy's grace period).
//! * A custom executor's task is killed by the executor: it gets `KILL`.
//!   A task still queued for an executor that has not subscribed is dropped
//!   at once with `TASK_KILLED`; an executor left with nothing to run is
//!   shut down.
//! * A kill of a task the agent does not know answers `TASK_LOST`.
//! * `ShutdownFramework` marks the framework terminating (its updates are no
//!   longer sent), sends `SHUTDOWN` to its custom executors and kills the
//!   tasks of its built-in ones.

use std::sync::Arc;
use std::time::Duration;

use meseta_proto::cluster;
use meseta_proto::v1::{self, task_status, TaskState};

use crate::containerizer::Signal;
use crate::executor_api::events;
use crate::inner::Inner;
use crate::launch::{policy_grace, DEFAULT_KILL_GRACE};
use crate::state::{Control, ExecutorKind};
use crate::status_updates::is_terminal;

/// How long the agent's shutdown waits for containers being started.
const LAUNCH_WAIT: Duration = Duration::from_secs(5);

/// What a kill turned into, decided under the lock, done after it.
enum KillAction {
    Unknown,
    Nothing,
    DroppedQueued { shutdown_executor: Option<String> },
}

impl Inner {
    /// Handles the master's `KillTask`.
    pub(crate) fn kill_task(self: &Arc<Self>, request: cluster::KillTask) {
        let fid = request.framework_id.value.as_str();
        let tid = request.task_id.value.as_str();
        let action = {
            let mut state = self.lock();
            let checkpoint = state.checkpoint.clone();
            let checkpointing = state.frameworks.get(fid).is_some_and(|f| f.checkpoints());
            match state.executor_of_task_mut(fid, tid) {
                None => KillAction::Unknown,
                Some(executor) => {
                    let eid = executor.id().value.clone();
                    let Some(task) = executor.tasks.get_mut(tid) else {
                        return;
                    };
                    let grace = policy_grace(request.kill_policy.as_ref())
                        .or_else(|| policy_grace(task.info.kill_policy.as_ref()))
                        .unwrap_or(DEFAULT_KILL_GRACE);
                    if is_terminal(task.state) {
                        KillAction::Nothing
                    } else if executor.kind != ExecutorKind::Custom {
                        if checkpointing {
                            checkpoint.mark_kill_requested(fid, tid);
                        }
                        if let Some(control) = &task.control {
                            let _ = control.send(Control::Kill { grace });
                        }
                        KillAction::Nothing
                    } else if task.queued {
                        for (_, ids) in &mut executor.pending_launches {
                            ids.retain(|id| id != tid);
                        }
                        executor.pending_launches.retain(|(_, ids)| !ids.is_empty());
                        let idle = executor
                            .tasks
                            .values()
                            .all(|t| t.info.task_id.value == tid || is_terminal(t.state));
                        KillAction::DroppedQueued {
                            shutdown_executor: idle.then_some(eid),
                        }
                    } else {
                        let event = events::kill(&request.task_id, request.kill_policy);
                        let delivered = executor
                            .events
                            .as_ref()
                            .is_some_and(|e| e.try_send(event).is_ok());
                        if !delivered {
                            tracing::warn!(
                                framework_id = %fid,
                                task_id = %tid,
                                "executor is not subscribed; kill not delivered"
                            );
                        }
                        KillAction::Nothing
                    }
                }
            }
        };
        tracing::info!(framework_id = %fid, task_id = %tid, "kill requested");
        match action {
            KillAction::Nothing => {}
            KillAction::Unknown => {
                tracing::warn!(framework_id = %fid, task_id = %tid, "kill of an unknown task");
                self.send_unreliable(
                    &request.framework_id,
                    v1::TaskStatus {
                        task_id: request.task_id.clone(),
                        state: TaskState::TaskLost as i32,
                        source: Some(task_status::Source::Agent as i32),
                        reason: Some(task_status::Reason::TaskUnknown as i32),
                        message: Some("Cannot kill a task the agent does not know".into()),
                        ..Default::default()
                    },
                );
            }
            KillAction::DroppedQueued { shutdown_executor } => {
                self.report_from_agent(
                    &request.framework_id,
                    &request.task_id,
                    TaskState::TaskKilled,
                    Some(task_status::Reason::TaskKilledDuringLaunch),
                    "Task was killed before delivery to the executor".into(),
                );
                if let Some(eid) = shutdown_executor {
                    self.shutdown_custom_executor(fid, &eid);
                }
            }
        }
    }

    /// Passes a scheduler's message to its (subscribed) custom executor.
    pub(crate) fn framework_message(&self, message: cluster::FrameworkMessage) {
        let fid = message.framework_id.value.as_str();
        let eid = message.executor_id.value.as_str();
        let mut state = self.lock();
        let delivered = state.executor(fid, eid).is_some_and(|executor| {
            executor
                .events
                .as_ref()
                .is_some_and(|e| e.try_send(events::message(message.data.clone())).is_ok())
        });
        if delivered {
            state.counters.valid_framework_messages += 1;
        } else {
            state.counters.invalid_framework_messages += 1;
            tracing::warn!(
                framework_id = %fid,
                executor_id = %eid,
                "framework message for an executor that is not subscribed; dropped"
            );
        }
    }

    /// Handles the master's `ShutdownFramework`.
    pub(crate) fn shutdown_framework(self: &Arc<Self>, framework_id: &v1::FrameworkId) {
        let fid = framework_id.value.as_str();
        {
            let mut state = self.lock();
            state.updates.remove_framework(framework_id);
            // Nothing of it is to be taken back after a restart any more; a
            // process of it still found then is killed as an orphan.
            state.checkpoint.remove_framework(fid);
            match state.frameworks.get_mut(fid) {
                Some(framework) => framework.terminating = true,
                None => return,
            }
            // Nobody will acknowledge their terminal updates any more.
            state.complete_terminal_tasks(fid);
        }
        tracing::info!(framework_id = %fid, "shutting down framework");
        let grace = self.settings.config.executor_shutdown_grace_period;
        self.stop_executors(Some(fid), grace);
    }

    /// Stops the executors of one framework (or of all): `SHUTDOWN` to
    /// custom executors, kills to the tasks of built-in ones.
    pub(crate) fn stop_executors(self: &Arc<Self>, framework_id: Option<&str>, grace: Duration) {
        let mut custom = Vec::new();
        {
            let state = self.lock();
            let frameworks = state
                .frameworks
                .values()
                .filter(|f| framework_id.is_none_or(|id| f.id.value == id));
            for framework in frameworks {
                for executor in framework.executors.values().filter(|e| e.is_live()) {
                    if executor.kind == ExecutorKind::Custom {
                        custom.push((framework.id.value.clone(), executor.id().value.clone()));
                        continue;
                    }
                    for task in executor.tasks.values() {
                        if let Some(control) = &task.control {
                            let _ = control.send(Control::Kill { grace });
                        }
                    }
                }
            }
        }
        for (fid, eid) in custom {
            self.shutdown_custom_executor(&fid, &eid);
        }
    }

    /// Containers of executors and built-in tasks that may still run.
    pub(crate) fn live_containers(&self) -> Vec<v1::ContainerId> {
        let state = self.lock();
        let mut ids = Vec::new();
        for executor in state.frameworks.values().flat_map(|f| f.executors.values()) {
            match executor.kind {
                ExecutorKind::Custom | ExecutorKind::Command => {
                    ids.push(executor.container_id.clone());
                }
                // The default executor's own container is virtual: only its
                // tasks run.
                ExecutorKind::Default => ids.extend(
                    executor
                        .tasks
                        .values()
                        .filter(|t| !is_terminal(t.state))
                        .filter_map(|t| t.container_id.clone()),
                ),
            }
        }
        ids
    }

    /// Stops everything the agent launched: graceful first, then SIGKILL.
    pub(crate) async fn stop_everything(self: &Arc<Self>) {
        let grace = self.settings.config.executor_shutdown_grace_period;
        self.lock().shutting_down = true;
        // Containers being started now would escape the list below: let
        // them start (nothing new starts once `shutting_down` is set).
        let deadline = tokio::time::Instant::now() + LAUNCH_WAIT;
        while self.lock().launching > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.stop_executors(None, grace);
        let ids = self.live_containers();
        let all_ended =
            || futures::future::join_all(ids.iter().map(|id| self.containerizer.wait(id)));
        let limit = grace + Duration::from_secs(1);
        if tokio::time::timeout(limit, all_ended()).await.is_ok() {
            return;
        }
        tracing::warn!("containers still running after the grace period; killing them");
        for id in &ids {
            let _ = self.containerizer.kill(id, Signal::Kill).await;
        }
        if tokio::time::timeout(Duration::from_secs(5), all_ended())
            .await
            .is_err()
        {
            tracing::error!("some containers did not end after SIGKILL");
        }
    }
}
