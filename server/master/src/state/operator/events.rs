//! The events of the operator API's SUBSCRIBE stream. The state machine
//! builds them where the change happens, only while someone watches (the
//! shell says so with [`Master::set_observed`]), and hands them out as
//! [`Action::ToOperators`]; the shell fans them out to the subscribers.

use std::time::Duration;

use meseta_proto::master::{event, Event};
use meseta_proto::v1;

use super::views;
use crate::state::snapshot::{AgentView, FrameworkView, Snapshot};
use crate::state::{Action, Master};

fn of(kind: event::Type) -> Event {
    Event {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

/// SUBSCRIBED: the whole state (from a sorted snapshot, outside the loop),
/// then the events that follow it.
pub(crate) fn subscribed(state: &Snapshot, heartbeat: Duration) -> Event {
    Event {
        subscribed: Some(event::Subscribed {
            get_state: Some(views::state(state)),
            heartbeat_interval_seconds: Some(heartbeat.as_secs_f64()),
        }),
        ..of(event::Type::Subscribed)
    }
}

/// HEARTBEAT.
pub(crate) fn heartbeat() -> Event {
    of(event::Type::Heartbeat)
}

impl Master {
    /// Whether operators watch the master: while they do, every change
    /// also produces its [`Action::ToOperators`] event.
    pub fn set_observed(&mut self, observed: bool) {
        self.observed = observed;
    }

    fn observe(&self, actions: &mut Vec<Action>, event: Event) {
        actions.push(Action::ToOperators(Box::new(event)));
    }

    /// TASK_ADDED for tasks the master just launched.
    pub(crate) fn observe_tasks_added(&self, tasks: Vec<v1::Task>, actions: &mut Vec<Action>) {
        for task in tasks {
            self.observe(
                actions,
                Event {
                    task_added: Some(event::TaskAdded { task }),
                    ..of(event::Type::TaskAdded)
                },
            );
        }
    }

    /// TASK_UPDATED: the task's new latest state and the status saying so.
    pub(crate) fn observe_task_updated(
        &self,
        framework_id: &str,
        status: &v1::TaskStatus,
        state: v1::TaskState,
        actions: &mut Vec<Action>,
    ) {
        if !self.observed {
            return;
        }
        self.observe(
            actions,
            Event {
                task_updated: Some(event::TaskUpdated {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_string(),
                    },
                    status: status.clone(),
                    state: state as i32,
                }),
                ..of(event::Type::TaskUpdated)
            },
        );
    }

    /// AGENT_ADDED.
    pub(crate) fn observe_agent_added(&self, agent_id: &str, actions: &mut Vec<Action>) {
        let Some(agent) = self.agents.get(agent_id).filter(|_| self.observed) else {
            return;
        };
        self.observe(
            actions,
            Event {
                agent_added: Some(event::AgentAdded {
                    agent: views::agent(&AgentView::alone(self, agent)),
                }),
                ..of(event::Type::AgentAdded)
            },
        );
    }

    /// AGENT_REMOVED (unreachable or gone).
    pub(crate) fn observe_agent_removed(&self, agent_id: &str, actions: &mut Vec<Action>) {
        if !self.observed {
            return;
        }
        self.observe(
            actions,
            Event {
                agent_removed: Some(event::AgentRemoved {
                    agent_id: v1::AgentId {
                        value: agent_id.to_string(),
                    },
                }),
                ..of(event::Type::AgentRemoved)
            },
        );
    }

    /// FRAMEWORK_ADDED (`added`) or FRAMEWORK_UPDATED.
    pub(crate) fn observe_framework(
        &self,
        framework_id: &str,
        added: bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(framework) = self.frameworks.get(framework_id).filter(|_| self.observed) else {
            return;
        };
        let framework = views::framework(&FrameworkView::alone(self, framework));
        let event = if added {
            Event {
                framework_added: Some(event::FrameworkAdded { framework }),
                ..of(event::Type::FrameworkAdded)
            }
        } else {
            Event {
                framework_updated: Some(event::FrameworkUpdated { framework }),
                ..of(event::Type::FrameworkUpdated)
            }
        };
        self.observe(actions, event);
    }

    /// FRAMEWORK_REMOVED.
    pub(crate) fn observe_framework_removed(
        &self,
        info: &v1::FrameworkInfo,
        actions: &mut Vec<Action>,
    ) {
        if !self.observed {
            return;
        }
        self.observe(
            actions,
            Event {
                framework_removed: Some(event::FrameworkRemoved {
                    framework_info: info.clone(),
                }),
                ..of(event::Type::FrameworkRemoved)
            },
        );
    }
}
