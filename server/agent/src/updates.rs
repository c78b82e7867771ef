//! The I/O shell around the [status update manager](crate::status_updates):
//! accepting updates from executors, acknowledgements from the master, the
//! retry timer, and reconciliation answers.
//!
//! Reliable updates (with a UUID, retried until acknowledged) go through the
//! manager. Answers that need no acknowledgement — reconciliation, and a
//! kill of a task the agent does not know — carry no UUID and are sent once.
//! Updates of a framework the master shut down are recorded in the task
//! table but not sent: nobody would acknowledge them. Updates of a
//! framework that checkpoints are journaled before they count as accepted.

use std::sync::Arc;

use meseta_proto::cluster::{self, agent_message::Kind};
use meseta_proto::v1::{self, task_status, TaskState};

use crate::error::AgentError;
use crate::inner::Inner;
use crate::status_updates::{is_terminal, stamp, state_name, Accepted};

/// The current time on tokio's clock (paused in tests), as a std `Instant`.
pub(crate) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl Inner {
    /// Accepts a status update for delivery to the master. The update is
    /// stamped (UUID, time, agent and executor IDs) if the executor left
    /// those out.
    pub(crate) fn report(
        &self,
        framework_id: &v1::FrameworkId,
        mut status: v1::TaskStatus,
    ) -> Result<Accepted, AgentError> {
        let fid = framework_id.value.as_str();
        let mut state = self.lock();
        let executor_id = status.executor_id.clone().or_else(|| {
            state
                .executor_of_task(fid, &status.task_id.value)
                .map(|e| e.id().clone())
        });
        let agent_id = state.agent_id.clone();
        stamp(&mut status, agent_id.as_ref(), executor_id.as_ref());
        let terminating = state.frameworks.get(fid).is_some_and(|f| f.terminating);
        let journaled = state.frameworks.get(fid).is_some_and(|f| f.checkpoints());
        if state.is_completed(fid, &status.task_id.value) {
            // An executor repeating an update the agent accepted and the
            // master acknowledged (it subscribed again before hearing so).
            return Ok(Accepted::Duplicate);
        }
        if terminating {
            state.record_status(fid, &status);
            if is_terminal(status.state) {
                state.complete_task(fid, &status.task_id.value);
            }
            return Ok(Accepted::Queued);
        }
        let accepted =
            state
                .updates
                .update_journaled(now(), framework_id, status.clone(), journaled);
        let mut limits = None;
        match &accepted {
            Ok(Accepted::Duplicate) => {}
            Ok(_) => {
                state.counters.valid_status_updates += 1;
                if state.record_status(fid, &status) {
                    limits = executor_id
                        .as_ref()
                        .and_then(|eid| state.executor_limits(fid, &eid.value));
                }
            }
            Err(_) => state.counters.invalid_status_updates += 1,
        }
        drop(state);
        self.update_limits(limits);
        match &accepted {
            Ok(Accepted::Forward(update)) => {
                tracing::info!(
                    framework_id = %fid,
                    task_id = %update.status.task_id.value,
                    state = %state_name(update.status.state),
                    "forwarding status update"
                );
                self.master.send(Kind::StatusUpdate((**update).clone()));
                self.updates_wake.notify_one();
            }
            Ok(Accepted::Queued) => tracing::debug!(
                framework_id = %fid,
                task_id = %status.task_id.value,
                state = %state_name(status.state),
                "status update queued behind an unacknowledged one"
            ),
            Ok(Accepted::Duplicate) => {}
            Err(e) => tracing::warn!(framework_id = %fid, error = %e, "status update refused"),
        }
        accepted
    }

    /// A status the agent generates itself (`source: SOURCE_AGENT`).
    pub(crate) fn report_from_agent(
        &self,
        framework_id: &v1::FrameworkId,
        task_id: &v1::TaskId,
        state: TaskState,
        reason: Option<task_status::Reason>,
        message: String,
    ) {
        let status = v1::TaskStatus {
            task_id: task_id.clone(),
            state: state as i32,
            source: Some(task_status::Source::Agent as i32),
            reason: reason.map(|r| r as i32),
            message: Some(message),
            ..Default::default()
        };
        let _ = self.report(framework_id, status);
    }

    /// The master acknowledged an update.
    pub(crate) fn acknowledge(&self, ack: cluster::Acknowledge) {
        let fid = ack.framework_id.value.clone();
        let mut state = self.lock();
        match state
            .updates
            .acknowledge(now(), &ack.framework_id, &ack.task_id, &ack.uuid)
        {
            Ok(outcome) => {
                tracing::debug!(
                    framework_id = %fid,
                    task_id = %ack.task_id.value,
                    state = %state_name(outcome.status.state),
                    "status update acknowledged"
                );
                if outcome.stream_closed {
                    state.complete_task(&fid, &ack.task_id.value);
                }
                drop(state);
                if let Some(next) = outcome.next {
                    self.master.send(Kind::StatusUpdate(next));
                }
                self.updates_wake.notify_one();
            }
            Err(e) => tracing::debug!(framework_id = %fid, error = %e, "ignoring acknowledgement"),
        }
    }

    /// After (re-)registration: every update in flight goes out again.
    pub(crate) fn resend_updates(&self) {
        let heads = self.lock().updates.resend_all(now());
        if !heads.is_empty() {
            tracing::info!(
                count = heads.len(),
                "resending unacknowledged status updates"
            );
        }
        for update in heads {
            self.master.send(Kind::StatusUpdate(update));
        }
        self.updates_wake.notify_one();
    }

    /// Sends a status that needs no acknowledgement (no UUID).
    pub(crate) fn send_unreliable(
        &self,
        framework_id: &v1::FrameworkId,
        mut status: v1::TaskStatus,
    ) {
        let agent_id = self.agent_id();
        status.uuid = None;
        stamp(&mut status, agent_id.as_ref(), None);
        status.uuid = None;
        let latest_state = Some(status.state);
        self.master.send(Kind::StatusUpdate(cluster::StatusUpdate {
            framework_id: framework_id.clone(),
            status,
            latest_state,
        }));
    }

    /// Answers `ReconcileTasks`: the latest status of each named task (all
    /// tasks of the framework when none is named); `TASK_LOST` for tasks the
    /// agent never heard of.
    pub(crate) fn reconcile(&self, request: cluster::ReconcileTasks) {
        let fid = request.framework_id.value.as_str();
        let mut answers = Vec::new();
        {
            let state = self.lock();
            let frameworks = state.frameworks.get(fid).into_iter().chain(
                state
                    .completed_frameworks
                    .iter()
                    .filter(|f| f.id.value == fid),
            );
            let mut known = Vec::new();
            for framework in frameworks {
                for executor in framework
                    .executors
                    .values()
                    .chain(&framework.completed_executors)
                {
                    for task in executor.tasks.values().chain(&executor.completed_tasks) {
                        let named = request.task_ids.is_empty()
                            || request
                                .task_ids
                                .iter()
                                .any(|t| t.value == task.info.task_id.value);
                        if !named {
                            continue;
                        }
                        let mut status =
                            task.statuses
                                .last()
                                .cloned()
                                .unwrap_or_else(|| v1::TaskStatus {
                                    task_id: task.info.task_id.clone(),
                                    state: task.state,
                                    executor_id: Some(executor.id().clone()),
                                    ..Default::default()
                                });
                        status.state = task.state;
                        known.push(task.info.task_id.value.clone());
                        answers.push(status);
                    }
                }
            }
            for task_id in &request.task_ids {
                if !known.contains(&task_id.value) {
                    answers.push(v1::TaskStatus {
                        task_id: task_id.clone(),
                        state: TaskState::TaskLost as i32,
                        message: Some("Task is unknown to the agent".into()),
                        ..Default::default()
                    });
                }
            }
        }
        for mut status in answers {
            status.reason = Some(task_status::Reason::Reconciliation as i32);
            status.source = Some(task_status::Source::Agent as i32);
            status.timestamp = None;
            status.data = None;
            if status.message.is_none() {
                status.message = Some("Reconciliation: latest task state".into());
            }
            self.send_unreliable(&request.framework_id, status);
        }
    }

    /// Resends unacknowledged heads when their retry time comes.
    pub(crate) async fn run_update_retries(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            let deadline = self.lock().updates.next_deadline();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                () = self.updates_wake.notified() => continue,
                _ = stop.changed() => return,
            }
            let due = self.lock().updates.due(now());
            for update in due {
                tracing::info!(
                    framework_id = %update.framework_id.value,
                    task_id = %update.status.task_id.value,
                    state = %state_name(update.status.state),
                    "retrying unacknowledged status update"
                );
                self.master.send(Kind::StatusUpdate(update));
            }
        }
    }
}
