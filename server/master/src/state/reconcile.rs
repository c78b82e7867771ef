//! RECONCILE: the master tells a framework what it believes of its tasks.
//!
//! Explicit reconciliation names tasks; the answer for each is its latest
//! state, or what can be said of a task the master does not track (its
//! agent is unreachable, or the agent is known and the task gone, or
//! nothing is known; or nothing at all while the agent may still
//! re-register after a master failover). Implicit reconciliation (no tasks named) returns the
//! latest state of every task the master tracks for the framework.

use std::time::Duration;

use meseta_proto::scheduler::call;
use meseta_proto::v1::{self, task_status::Reason, task_status::Source, TaskState};

use super::updates::{update_event, visible_state};
use super::{seconds, Action, CallError, Master};

impl Master {
    pub(super) fn reconcile(
        &mut self,
        now: Duration,
        framework_id: &str,
        reconcile: Option<call::Reconcile>,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let reconcile = reconcile.unwrap_or_default();
        let Some(framework) = self.frameworks.get(framework_id) else {
            return Ok(());
        };
        let partition_aware = framework.partition_aware();
        let mut statuses = Vec::new();
        if reconcile.tasks.is_empty() {
            let mut task_ids: Vec<&String> = framework.tasks.keys().collect();
            task_ids.sort_unstable();
            for task_id in task_ids {
                statuses.push(latest_status(&framework.tasks[task_id].task, now));
            }
        } else {
            for wanted in &reconcile.tasks {
                let task_id = &wanted.task_id.value;
                let agent_id = wanted.agent_id.as_ref().map(|a| a.value.clone());
                if let Some(record) = framework.tasks.get(task_id) {
                    statuses.push(latest_status(&record.task, now));
                    continue;
                }
                let state = match &agent_id {
                    // It may still re-register with the task: say nothing yet.
                    Some(agent) if self.recovered.contains_key(agent) => continue,
                    Some(agent) if self.gone.contains_key(agent) => TaskState::TaskGone,
                    Some(agent) if self.unreachable.contains_key(agent) => {
                        TaskState::TaskUnreachable
                    }
                    Some(agent) if self.agents.contains_key(agent) => TaskState::TaskGone,
                    _ => TaskState::TaskUnknown,
                };
                statuses.push(v1::TaskStatus {
                    task_id: wanted.task_id.clone(),
                    state: state as i32,
                    agent_id: agent_id.map(|value| v1::AgentId { value }),
                    source: Some(Source::Master as i32),
                    reason: Some(Reason::Reconciliation as i32),
                    message: Some("Reconciliation: task is not known to the master".into()),
                    timestamp: Some(seconds(now)),
                    ..Default::default()
                });
            }
        }
        for mut status in statuses {
            let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskLost);
            status.state = visible_state(state, partition_aware) as i32;
            self.send(framework_id, update_event(status), now, actions);
        }
        Ok(())
    }
}

/// A reconciliation status carrying a task's latest state (no uuid).
fn latest_status(task: &v1::Task, now: Duration) -> v1::TaskStatus {
    let last = task.statuses.last();
    v1::TaskStatus {
        task_id: task.task_id.clone(),
        state: task.state,
        agent_id: Some(task.agent_id.clone()),
        executor_id: task.executor_id.clone(),
        source: Some(Source::Master as i32),
        reason: Some(Reason::Reconciliation as i32),
        message: Some("Reconciliation: latest task state".into()),
        timestamp: Some(seconds(now)),
        container_status: last.and_then(|s| s.container_status.clone()),
        labels: last.and_then(|s| s.labels.clone()),
        healthy: last.and_then(|s| s.healthy),
        ..Default::default()
    }
}
