//! Agent health: pings, and agents that go away — unreachable (silent for
//! `agent_ping_timeout × max_agent_ping_timeouts`; they may come back) or
//! gone (replaced by a restart with another configuration; they may not).
//!
//! Partition-aware frameworks keep an unreachable agent's tasks as
//! TASK_UNREACHABLE; the others are told TASK_LOST and the tasks are
//! forgotten. Every framework gets a FAILURE (`slave_lost`) either way.

use std::sync::Arc;
use std::time::Duration;

use meseta_proto::cluster::{self, master_message, MasterMessage};
use meseta_proto::scheduler::{event, Event};
use meseta_proto::v1::{self, task_status::Reason, TaskState};

use super::{is_terminal, Action, Master, UnreachableAgent};
use crate::registry::ops;

impl Master {
    /// Pings connected agents and declares silent ones unreachable.
    pub(super) fn check_agents(&mut self, now: Duration, actions: &mut Vec<Action>) {
        let timeout = self.settings.agent_ping_timeout;
        let limit = timeout * self.settings.max_agent_ping_timeouts.max(1);
        let mut silent = Vec::new();
        let mut pings = Vec::new();
        for agent in self.agents.values_mut() {
            if now.saturating_sub(agent.last_seen) > limit {
                silent.push(agent.id.clone());
                continue;
            }
            if let Some(link) = agent.link {
                if now.saturating_sub(agent.last_ping) >= timeout {
                    agent.last_ping = now;
                    pings.push(link);
                }
            }
        }
        pings.sort_unstable();
        for link in pings {
            actions.push(Action::ToAgent {
                link,
                message: MasterMessage {
                    kind: Some(master_message::Kind::Ping(cluster::Ping { sequence: None })),
                },
            });
        }
        silent.sort_unstable();
        for agent_id in silent {
            self.mark_unreachable(now, &agent_id, actions);
        }
    }

    /// Declares an agent unreachable.
    pub fn mark_unreachable(&mut self, now: Duration, agent_id: &str, actions: &mut Vec<Action>) {
        self.take_agent_down(now, agent_id, Removal::Unreachable, actions);
    }

    /// Removes a registered agent that went silent (`gone == false`: it may
    /// come back, partition-aware frameworks keep its tasks as
    /// TASK_UNREACHABLE) or that is gone for good (its tasks are TASK_GONE).
    /// Frameworks get a FAILURE (`slave_lost`) either way.
    pub(super) fn take_agent_down(
        &mut self,
        now: Duration,
        agent_id: &str,
        removal: Removal,
        actions: &mut Vec<Action>,
    ) {
        let gone = removal != Removal::Unreachable;
        self.rescind_agent_offers(agent_id, now, actions);
        let Some(agent) = self.agents.remove(agent_id) else {
            return;
        };
        self.hosts.remove(&agent.info.hostname, agent_id);
        if gone {
            tracing::warn!(agent_id, "agent is gone");
        } else {
            tracing::warn!(agent_id, "agent is unreachable");
            self.counters.agents_unreachable += 1;
            actions.push(Action::Persist(ops::mark_unreachable(&agent.info, now)));
        }
        if let Some(link) = agent.link {
            self.links.remove(&link);
            actions.push(Action::CloseAgent { link });
        }
        self.allocator.remove_agent(agent_id);
        self.observe_agent_removed(agent_id, actions);
        let mut tasks: Vec<&(String, String)> = agent.tasks.iter().collect();
        tasks.sort_unstable();
        for (framework_id, task_id) in tasks {
            let partition_aware = self
                .frameworks
                .get(framework_id)
                .is_some_and(|f| f.partition_aware());
            let active = self
                .frameworks
                .get(framework_id)
                .and_then(|f| f.tasks.get(task_id))
                .is_some_and(|r| !is_terminal(r.state()));
            if !active {
                continue;
            }
            if partition_aware && !gone {
                if let Some(record) = self
                    .frameworks
                    .get_mut(framework_id)
                    .and_then(|f| f.tasks.get_mut(task_id))
                {
                    Arc::make_mut(&mut record.task).state = TaskState::TaskUnreachable as i32;
                    record.resources_recovered = true;
                }
                self.master_update(
                    now,
                    framework_id,
                    task_id,
                    Some(agent_id),
                    TaskState::TaskUnreachable,
                    Reason::AgentRemoved,
                    "Agent is unreachable",
                    actions,
                );
            } else {
                let (state, reason, message) = removal.task_outcome();
                self.fail_task(
                    now,
                    framework_id,
                    task_id,
                    state,
                    reason,
                    message,
                    false,
                    actions,
                );
            }
        }
        if !gone {
            self.unreachable.insert(
                agent_id.to_string(),
                UnreachableAgent {
                    info: Arc::unwrap_or_clone(agent.info),
                    since: now,
                },
            );
        }
        self.agent_lost(now, agent_id, actions);
    }

    /// Tells every framework that an agent was lost.
    pub(super) fn agent_lost(&mut self, now: Duration, agent_id: &str, actions: &mut Vec<Action>) {
        let mut framework_ids: Vec<String> = self.frameworks.keys().cloned().collect();
        framework_ids.sort_unstable();
        for framework_id in framework_ids {
            let event = Event {
                r#type: Some(event::Type::Failure as i32),
                failure: Some(event::Failure {
                    agent_id: Some(v1::AgentId {
                        value: agent_id.to_string(),
                    }),
                    executor_id: None,
                    status: None,
                }),
                ..Default::default()
            };
            self.send(&framework_id, event, now, actions);
        }
    }
}

/// Why an agent is taken down, and so what its tasks become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Silent too long: it may come back.
    Unreachable,
    /// Gone for good (replaced by a restart under another ID).
    Gone,
    /// Marked gone by an operator (MARK_AGENT_GONE, or a drain that asked).
    GoneByOperator,
}

impl Removal {
    /// The state, reason and message of a task that was on the agent (for
    /// frameworks that are not partition-aware an unreachable agent's
    /// tasks are lost).
    pub(super) fn task_outcome(self) -> (TaskState, Reason, &'static str) {
        match self {
            Removal::Unreachable => (
                TaskState::TaskLost,
                Reason::AgentRemoved,
                "Agent is unreachable",
            ),
            Removal::Gone => (TaskState::TaskGone, Reason::AgentRemoved, "Agent is gone"),
            Removal::GoneByOperator => (
                TaskState::TaskGoneByOperator,
                Reason::AgentRemovedByOperator,
                "Agent was marked gone by an operator",
            ),
        }
    }
}
