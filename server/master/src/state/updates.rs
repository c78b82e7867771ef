//! Task status updates and the calls that act on running tasks: KILL,
//! SHUTDOWN, ACKNOWLEDGE, and MESSAGE in both directions.
//!
//! Reliability lives on the agent: it keeps each update until the framework
//! acknowledges it and resends it otherwise. The master forwards updates as
//! they come, tracks the latest state of each task, gives resources back
//! once a task is terminal, and forwards acknowledgements to the agent.

use std::sync::Arc;
use std::time::Duration;

use meseta_proto::cluster::{self, master_message, MasterMessage};
use meseta_proto::scheduler::{call, event, Event};
use meseta_proto::v1::{self, task_status::Reason, task_status::Source, TaskState};

use super::{is_terminal, seconds, Action, CallError, Master, TaskRecord};

/// The state a framework may be told: the states added after Mesos 1.0 go
/// only to partition-aware frameworks; the others get TASK_LOST.
pub(super) fn visible_state(state: TaskState, partition_aware: bool) -> TaskState {
    use TaskState::*;
    match state {
        TaskDropped | TaskUnreachable | TaskGone | TaskGoneByOperator | TaskUnknown
            if !partition_aware =>
        {
            TaskLost
        }
        other => other,
    }
}

impl Master {
    /// An update made up by the master (no uuid: not to be acknowledged).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn master_update(
        &mut self,
        now: Duration,
        framework_id: &str,
        task_id: &str,
        agent_id: Option<&str>,
        state: TaskState,
        reason: Reason,
        message: &str,
        actions: &mut Vec<Action>,
    ) {
        let partition_aware = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.partition_aware());
        let status = v1::TaskStatus {
            task_id: v1::TaskId {
                value: task_id.to_string(),
            },
            state: visible_state(state, partition_aware) as i32,
            message: Some(message.to_string()),
            source: Some(Source::Master as i32),
            reason: Some(reason as i32),
            agent_id: agent_id.map(|a| v1::AgentId {
                value: a.to_string(),
            }),
            timestamp: Some(seconds(now)),
            ..Default::default()
        };
        // Operators hear of tasks the master tracks (not of launches it
        // refused), in their real state.
        let tracked = self.frameworks.get(framework_id).is_some_and(|f| {
            f.tasks.contains_key(task_id)
                || f.completed_tasks
                    .back()
                    .is_some_and(|t| t.task_id.value == task_id)
        });
        if tracked {
            let real = v1::TaskStatus {
                state: state as i32,
                ..status.clone()
            };
            self.observe_task_updated(framework_id, &real, state, actions);
        }
        self.send(framework_id, update_event(status), now, actions);
    }

    /// A status update from an agent.
    pub(super) fn status_update(
        &mut self,
        now: Duration,
        agent_id: &str,
        update: cluster::StatusUpdate,
        actions: &mut Vec<Action>,
    ) {
        self.counters.status_updates += 1;
        self.counters.message("messages_status_update");
        let framework_id = update.framework_id.value.clone();
        let mut status = update.status;
        let task_id = status.task_id.value.clone();
        status.agent_id = Some(v1::AgentId {
            value: agent_id.to_string(),
        });
        let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskLost);
        let latest = update
            .latest_state
            .and_then(|s| TaskState::try_from(s).ok())
            .unwrap_or(state);
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            tracing::warn!(
                framework_id,
                task_id,
                "status update for an unknown framework; dropped"
            );
            return;
        };
        let partition_aware = framework.partition_aware();
        if let Some(record) = framework.tasks.get_mut(&task_id) {
            let was_terminal = is_terminal(record.state());
            let task = Arc::make_mut(&mut record.task);
            task.state = latest as i32;
            // Updates without a uuid (reconciliation answers) need no
            // acknowledgement and must not replace the one awaited.
            if status.uuid.is_some() {
                task.status_update_state = Some(state as i32);
                task.status_update_uuid = status.uuid.clone();
                record.unacknowledged = status.uuid.clone();
            }
            // Most tasks see two or three updates: grow one at a time
            // until then, not to four (a status is 352 bytes, and there
            // may be 500,000 tasks).
            if task.statuses.len() < 4 {
                task.statuses.reserve_exact(1);
            }
            task.statuses.push(status_for_history(&status));
            if is_terminal(latest) && !was_terminal {
                *self
                    .counters
                    .terminal
                    .entry(latest.as_str_name())
                    .or_default() += 1;
            }
            if is_terminal(latest) && !record.resources_recovered {
                record.resources_recovered = true;
                record.release_to(&mut self.allocator, &framework_id, now);
                self.allocation_wanted = true;
            }
            self.observe_task_updated(&framework_id, &status, latest, actions);
        } else {
            tracing::debug!(
                framework_id,
                task_id,
                "status update for a task the master does not track"
            );
        }
        status.state = visible_state(state, partition_aware) as i32;
        self.send(&framework_id, update_event(status), now, actions);
        if is_terminal(latest) {
            self.check_drained(now, agent_id, actions);
        }
    }

    /// ACKNOWLEDGE: forwarded to the agent; a terminal task then completes.
    pub(super) fn acknowledge(
        &mut self,
        _now: Duration,
        framework_id: &str,
        ack: Option<call::Acknowledge>,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let ack = ack
            .ok_or_else(|| CallError::BadRequest("Expecting 'acknowledge' to be present".into()))?;
        if ack.uuid.len() != 16 {
            return Err(CallError::BadRequest(format!(
                "Invalid UUID in acknowledgement for task {}: expected 16 bytes, got {}",
                ack.task_id.value,
                ack.uuid.len()
            )));
        }
        let agent_id = ack.agent_id.value.clone();
        let task_id = ack.task_id.value.clone();
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            let complete = match framework.tasks.get_mut(&task_id) {
                Some(record) => {
                    if record.unacknowledged.as_deref() == Some(ack.uuid.as_slice()) {
                        record.unacknowledged = None;
                    }
                    record.unacknowledged.is_none()
                        && is_terminal(record.state())
                        && record
                            .task
                            .status_update_state
                            .is_some_and(|s| TaskState::try_from(s).is_ok_and(is_terminal))
                }
                None => false,
            };
            if complete {
                if let Some(record) = framework.tasks.remove(&task_id) {
                    framework.completed_tasks.push_back(record.task);
                    while framework.completed_tasks.len()
                        > self.settings.max_completed_tasks_per_framework
                    {
                        framework.completed_tasks.pop_front();
                    }
                }
                if let Some(agent) = self.agents.get_mut(&agent_id) {
                    agent
                        .tasks
                        .remove(&(framework_id.to_string(), task_id.clone()));
                }
            }
        }
        self.send_agent(
            &agent_id,
            MasterMessage {
                kind: Some(master_message::Kind::Acknowledge(cluster::Acknowledge {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_string(),
                    },
                    task_id: ack.task_id,
                    uuid: ack.uuid,
                })),
            },
            actions,
        );
        Ok(())
    }

    /// KILL: asks the task's agent to kill it. An unknown task is reported
    /// lost (unknown, to partition-aware frameworks), as Mesos does.
    pub(super) fn kill(
        &mut self,
        now: Duration,
        framework_id: &str,
        kill: Option<call::Kill>,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let kill =
            kill.ok_or_else(|| CallError::BadRequest("Expecting 'kill' to be present".into()))?;
        let task_id = kill.task_id.value.clone();
        let record = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.tasks.get(&task_id))
            .map(|r| (r.task.agent_id.value.clone(), r.task.kill_policy));
        match record {
            Some((agent_id, policy)) => {
                self.send_agent(
                    &agent_id,
                    MasterMessage {
                        kind: Some(master_message::Kind::KillTask(cluster::KillTask {
                            framework_id: v1::FrameworkId {
                                value: framework_id.to_string(),
                            },
                            task_id: kill.task_id,
                            kill_policy: kill.kill_policy.or(policy),
                        })),
                    },
                    actions,
                );
            }
            None => {
                let agent = kill.agent_id.as_ref().map(|a| a.value.as_str());
                self.master_update(
                    now,
                    framework_id,
                    &task_id,
                    agent,
                    TaskState::TaskUnknown,
                    Reason::Reconciliation,
                    "Attempted to kill an unknown task",
                    actions,
                );
            }
        }
        Ok(())
    }

    /// SHUTDOWN of an executor: every task it runs is killed.
    pub(super) fn shutdown_executor(
        &mut self,
        framework_id: &str,
        shutdown: Option<call::Shutdown>,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let shutdown = shutdown
            .ok_or_else(|| CallError::BadRequest("Expecting 'shutdown' to be present".into()))?;
        let Some(framework) = self.frameworks.get(framework_id) else {
            return Ok(());
        };
        let mut tasks: Vec<&TaskRecord> = framework
            .tasks
            .values()
            .filter(|r| {
                r.task.agent_id.value == shutdown.agent_id.value
                    && r.task.executor_id.as_ref() == Some(&shutdown.executor_id)
                    && !is_terminal(r.state())
            })
            .collect();
        tasks.sort_unstable_by(|a, b| a.task.task_id.value.cmp(&b.task.task_id.value));
        let kills: Vec<MasterMessage> = tasks
            .into_iter()
            .map(|r| MasterMessage {
                kind: Some(master_message::Kind::KillTask(cluster::KillTask {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_string(),
                    },
                    task_id: r.task.task_id.clone(),
                    kill_policy: None,
                })),
            })
            .collect();
        for message in kills {
            self.send_agent(&shutdown.agent_id.value, message, actions);
        }
        Ok(())
    }

    /// MESSAGE from a framework to one of its executors.
    pub(super) fn framework_message(
        &mut self,
        framework_id: &str,
        message: Option<call::Message>,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let message = message
            .ok_or_else(|| CallError::BadRequest("Expecting 'message' to be present".into()))?;
        if !self.agents.contains_key(&message.agent_id.value) {
            return Err(CallError::BadRequest(format!(
                "Agent {} is not registered",
                message.agent_id.value
            )));
        }
        self.send_agent(
            &message.agent_id.value.clone(),
            MasterMessage {
                kind: Some(master_message::Kind::FrameworkMessage(
                    cluster::FrameworkMessage {
                        framework_id: v1::FrameworkId {
                            value: framework_id.to_string(),
                        },
                        executor_id: message.executor_id,
                        data: message.data,
                    },
                )),
            },
            actions,
        );
        Ok(())
    }

    /// A message from an executor, for its framework.
    pub(super) fn executor_message(
        &mut self,
        now: Duration,
        agent_id: &str,
        message: cluster::ExecutorMessage,
        actions: &mut Vec<Action>,
    ) {
        let event = Event {
            r#type: Some(event::Type::Message as i32),
            message: Some(event::Message {
                agent_id: v1::AgentId {
                    value: agent_id.to_string(),
                },
                executor_id: message.executor_id,
                data: message.data,
            }),
            ..Default::default()
        };
        self.send(&message.framework_id.value, event, now, actions);
    }

    /// An executor ended: FAILURE to the framework.
    pub(super) fn executor_exited(
        &mut self,
        now: Duration,
        agent_id: &str,
        exited: cluster::ExecutorExited,
        actions: &mut Vec<Action>,
    ) {
        let framework_id = exited.framework_id.value.clone();
        if let Some(framework) = self.frameworks.get_mut(&framework_id) {
            framework
                .executors
                .remove(&(agent_id.to_string(), exited.executor_id.value.clone()));
        }
        let event = Event {
            r#type: Some(event::Type::Failure as i32),
            failure: Some(event::Failure {
                agent_id: Some(v1::AgentId {
                    value: agent_id.to_string(),
                }),
                executor_id: Some(exited.executor_id),
                status: exited.status,
            }),
            ..Default::default()
        };
        self.send(&framework_id, event, now, actions);
    }
}

/// An UPDATE event.
pub(super) fn update_event(status: v1::TaskStatus) -> Event {
    Event {
        r#type: Some(event::Type::Update as i32),
        update: Some(event::Update { status }),
        ..Default::default()
    }
}

/// What the master keeps of a status in `Task.statuses` (no data payload).
fn status_for_history(status: &v1::TaskStatus) -> v1::TaskStatus {
    v1::TaskStatus {
        data: None,
        ..status.clone()
    }
}
