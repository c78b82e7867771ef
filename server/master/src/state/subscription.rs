//! SUBSCRIBE, re-subscription, disconnection, TEARDOWN, and the failover
//! timeout that removes a framework which stays away too long.
//!
//! A framework that re-subscribes with its FrameworkID replaces its previous
//! stream (which is closed); calls carrying the old stream's ID are then
//! refused. A framework the master does not know but which re-subscribes
//! with an ID (the master restarted, its tasks are still on agents) is
//! accepted under that ID, as Mesos does after a failover.
//!
//! `subscribe.suppressed_roles` (a subset of the framework's roles) start
//! suppressed; a re-subscription replaces the framework's role and
//! suppression as UPDATE_FRAMEWORK does (see [`super::update_framework`]),
//! except that it also clears its offer filters, as before.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use meseta_proto::cluster::{master_message, MasterMessage, ShutdownFramework};
use meseta_proto::scheduler::{call, event, Call, Event};
use meseta_proto::v1;

use super::{is_terminal, Action, CallError, ConnId, Framework, Master};
use crate::registry::ops;

/// The result of a successful SUBSCRIBE.
#[derive(Debug)]
pub struct Subscribed {
    /// The stream ID to return in the `Mesos-Stream-Id` header.
    pub stream_id: String,
    /// The framework's ID.
    pub framework_id: String,
    /// Actions to perform (the SUBSCRIBED event first).
    pub actions: Vec<Action>,
}

impl Master {
    /// Handles SUBSCRIBE on the new stream `conn`.
    pub fn subscribe(
        &mut self,
        now: Duration,
        call: Call,
        conn: ConnId,
    ) -> Result<Subscribed, CallError> {
        let subscribe: call::Subscribe = call
            .subscribe
            .ok_or_else(|| CallError::BadRequest("Expecting 'subscribe' to be present".into()))?;
        let mut info = subscribe.framework_info;
        if info.name.is_empty() {
            return Err(CallError::BadRequest(
                "FrameworkInfo.name must be set".into(),
            ));
        }
        let suppressed =
            super::update_framework::checked_suppressed_roles(&info, &subscribe.suppressed_roles)?;
        let offer_constraints =
            super::offer_constraints::checked(&info, subscribe.offer_constraints)?;
        let call_id = call.framework_id.map(|id| id.value);
        self.counters.message(if call_id.is_some() {
            "messages_reregister_framework"
        } else {
            "messages_register_framework"
        });
        let info_id = info.id.as_ref().map(|id| id.value.clone());
        if call_id != info_id {
            return Err(CallError::BadRequest(
                "'framework_id' differs from 'subscribe.framework_info.id'".into(),
            ));
        }
        if let Some(id) = &call_id {
            if self.completed_frameworks.iter().any(|f| &f.id == id) {
                return Err(CallError::Forbidden(format!(
                    "Framework {id} has been removed; it may not re-subscribe"
                )));
            }
        }
        let framework_id = match call_id {
            Some(id) => id,
            None => self.ids.framework_id(&self.info.id),
        };
        info.id = Some(v1::FrameworkId {
            value: framework_id.clone(),
        });
        let stream_id = self.ids.stream_id();
        let mut actions = vec![Action::Persist(ops::save_framework(&info))];
        let roles = super::framework_roles(&info);
        let capabilities = super::allocator_capabilities(&info);
        let mut resubscribed = false;

        if let Some(framework) = self.frameworks.get_mut(&framework_id) {
            if let Some(old) = framework.conn.take() {
                self.conns.remove(&old);
                actions.push(Action::ToFramework {
                    conn: old,
                    event: error_event("Framework failed over"),
                });
                actions.push(Action::CloseFramework { conn: old });
            }
            resubscribed = true;
            framework.info = info;
            framework.conn = Some(conn);
            framework.stream_id = Some(stream_id.clone());
            framework.active = true;
            framework.reregistered_time = Some(now);
            framework.unregistered_time = None;
            framework.failover_deadline = None;
            framework.suppressed_roles = suppressed;
            framework.offer_constraints = offer_constraints;
            framework.recovered = false;
            // Filters go; then roles and suppression as subscribed (this
            // also activates the framework).
            self.allocator.revive(&framework_id);
            self.place_in_roles(&framework_id);
        } else {
            tracing::info!(framework_id, name = %info.name, ?roles, ?suppressed, "framework subscribed");
            let framework = Framework {
                conn: Some(conn),
                stream_id: Some(stream_id.clone()),
                active: true,
                suppressed_roles: suppressed,
                offer_constraints,
                ..Framework::new(framework_id.clone(), info, now)
            };
            self.frameworks.insert(framework_id.clone(), framework);
            self.place_in_roles(&framework_id);
        }
        self.allocator.set_capabilities(&framework_id, capabilities);
        self.conns.insert(conn, framework_id.clone());
        self.observe_framework(&framework_id, !resubscribed, &mut actions);
        self.allocation_wanted = true;

        let subscribed = Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                framework_id: v1::FrameworkId {
                    value: framework_id.clone(),
                },
                heartbeat_interval_seconds: Some(self.settings.heartbeat_interval.as_secs_f64()),
                master_info: Some(self.info.clone()),
            }),
            ..Default::default()
        };
        self.send(&framework_id, subscribed, now, &mut actions);
        if resubscribed {
            // After SUBSCRIBED: offers made to a role it left are void.
            self.rescind_offers_outside_roles(&framework_id, &roles, now, &mut actions);
        }
        Ok(Subscribed {
            stream_id,
            framework_id,
            actions,
        })
    }

    /// The subscription stream `conn` closed. The framework's offers are
    /// rescinded and it gets `failover_timeout` to come back.
    pub fn framework_disconnected(&mut self, now: Duration, conn: ConnId) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(framework_id) = self.conns.remove(&conn) else {
            return actions;
        };
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            return actions;
        };
        if framework.conn != Some(conn) {
            return actions;
        }
        framework.conn = None;
        framework.stream_id = None;
        framework.active = false;
        framework.unregistered_time = Some(now);
        let timeout = super::recovery::failover_timeout(&framework.info);
        framework.failover_deadline = Some(now + timeout);
        tracing::info!(framework_id, ?timeout, "framework disconnected");
        self.allocator.deactivate_framework(&framework_id);
        self.rescind_framework_offers(&framework_id, now, &mut actions);
        self.observe_framework(&framework_id, false, &mut actions);
        if timeout.is_zero() {
            self.remove_framework(now, &framework_id, &mut actions);
        }
        actions
    }

    pub(super) fn expire_frameworks(&mut self, now: Duration, actions: &mut Vec<Action>) {
        let mut expired: Vec<String> = self
            .frameworks
            .values()
            .filter(|f| f.failover_deadline.is_some_and(|d| d <= now))
            .map(|f| f.id.clone())
            .collect();
        expired.sort_unstable();
        for framework_id in expired {
            tracing::info!(framework_id, "framework failover timeout elapsed");
            self.remove_framework(now, &framework_id, actions);
        }
    }

    /// Removes a framework for good: its offers go back, its tasks are
    /// killed on their agents, its stream is closed.
    pub(super) fn remove_framework(
        &mut self,
        now: Duration,
        framework_id: &str,
        actions: &mut Vec<Action>,
    ) {
        self.rescind_framework_offers(framework_id, now, actions);
        self.forget_inverse_offers_of(framework_id);
        let Some(mut framework) = self.frameworks.remove(framework_id) else {
            return;
        };
        tracing::info!(framework_id, "removing framework");
        actions.push(Action::Persist(ops::remove_framework(framework_id)));
        if let Some(conn) = framework.conn.take() {
            self.conns.remove(&conn);
            actions.push(Action::CloseFramework { conn });
        }
        let mut agents: BTreeSet<String> = BTreeSet::new();
        let mut tasks: Vec<_> = framework.tasks.drain().collect();
        tasks.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (task_id, mut record) in tasks {
            let agent_id = record.task.agent_id.value.clone();
            if let Some(agent) = self.agents.get_mut(&agent_id) {
                agent
                    .tasks
                    .remove(&(framework_id.to_string(), task_id.clone()));
            }
            if !record.resources_recovered {
                record.release_to(&mut self.allocator, framework_id, now);
            }
            if !is_terminal(record.state()) {
                Arc::make_mut(&mut record.task).state = v1::TaskState::TaskKilled as i32;
                *self.counters.terminal.entry("TASK_KILLED").or_default() += 1;
            }
            agents.insert(agent_id);
            framework.completed_tasks.push_back(record.task);
        }
        for (agent_id, _) in framework.executors.keys() {
            agents.insert(agent_id.clone());
        }
        for agent_id in agents {
            self.send_agent(
                &agent_id,
                MasterMessage {
                    kind: Some(master_message::Kind::ShutdownFramework(ShutdownFramework {
                        framework_id: v1::FrameworkId {
                            value: framework_id.to_string(),
                        },
                    })),
                },
                actions,
            );
        }
        self.allocator.remove_framework(framework_id);
        framework.active = false;
        framework.unregistered_time = Some(now);
        self.counters.frameworks_removed += 1;
        self.observe_framework_removed(&framework.info, actions);
        self.completed_frameworks.push_back(framework);
        while self.completed_frameworks.len() > self.settings.max_completed_frameworks {
            self.completed_frameworks.pop_front();
        }
        self.allocation_wanted = true;
    }
}

/// An ERROR event with a message.
pub(super) fn error_event(message: &str) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: message.to_string(),
        }),
        ..Default::default()
    }
}
