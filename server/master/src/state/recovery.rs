//! Leading after a failover or a restart, and agents that are gone.
//!
//! A master starts leading by reading the registry ([`Master::recover`]):
//! * admitted agents become *recovered*: they get
//!   `agent_reregister_timeout` to re-register, and those that do not are
//!   marked unreachable (and persisted so), as Mesos does;
//! * unreachable and gone agents are remembered, so reconciliation can
//!   answer for their tasks and a gone agent is refused if it returns;
//! * frameworks are known again but disconnected: a scheduler that
//!   re-subscribes with its ID takes its tasks back; one that does not is
//!   removed after its `failover_timeout` (counted from now, and never
//!   shorter than the agents' re-registration window).
//!
//! * role weights are the registry's ([`super::weights`]), as are quotas
//!   ([`super::quota`]).
//!
//! Task state is not in the registry: it comes back with the agents.

use std::time::Duration;

use super::{Action, Framework, Master, RecoveredAgent, Removal, UnreachableAgent};
use crate::registry::{ops, RegistryState};

impl Master {
    /// Takes over the state in `registry`. Call once, before any other input;
    /// persist the operations it returns (the `--weights` of a cluster's
    /// first start).
    pub fn recover(&mut self, now: Duration, registry: RegistryState) -> Vec<Action> {
        let mut actions = Vec::new();
        self.recover_weights(registry.weights, &mut actions);
        self.recover_quotas(registry.quotas);
        self.recover_maintenance(registry.maintenance);
        self.elected_time = now;
        let deadline = now + self.settings.agent_reregister_timeout;
        for (id, info) in registry.agents {
            self.hosts.add(&info.hostname, &id);
            self.recovered.insert(id, RecoveredAgent { info, deadline });
        }
        for (id, (info, since)) in registry.unreachable {
            self.unreachable
                .insert(id, UnreachableAgent { info, since });
        }
        self.gone.extend(registry.gone);
        for (id, info) in registry.frameworks {
            let grace = failover_timeout(&info).max(self.settings.agent_reregister_timeout);
            self.add_recovered_framework(now, id.clone(), info);
            if let Some(framework) = self.frameworks.get_mut(&id) {
                framework.failover_deadline = Some(now + grace);
            }
        }
        tracing::info!(
            agents = self.recovered.len(),
            unreachable = self.unreachable.len(),
            gone = self.gone.len(),
            frameworks = self.frameworks.len(),
            "recovered from the registry; waiting for agents to re-register"
        );
        actions
    }

    /// A framework known only from the registry or from an agent's report:
    /// it is waiting for its scheduler to re-subscribe.
    pub(super) fn add_recovered_framework(
        &mut self,
        now: Duration,
        id: String,
        info: meseta_proto::v1::FrameworkInfo,
    ) {
        let capabilities = super::allocator_capabilities(&info);
        let framework = Framework {
            unregistered_time: Some(now),
            recovered: true,
            ..Framework::new(id.clone(), info, now)
        };
        self.frameworks.insert(id.clone(), framework);
        self.place_in_roles(&id);
        self.allocator.set_capabilities(&id, capabilities);
        self.allocator.deactivate_framework(&id);
    }

    /// Agents from the registry that did not re-register in time become
    /// unreachable.
    pub(super) fn expire_recovered_agents(&mut self, now: Duration, actions: &mut Vec<Action>) {
        let mut expired: Vec<String> = self
            .recovered
            .iter()
            .filter(|(_, agent)| agent.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        expired.sort_unstable();
        for agent_id in expired {
            let Some(agent) = self.take_recovered(&agent_id) else {
                continue;
            };
            tracing::warn!(
                agent_id,
                "agent did not re-register after the master failover; marking it unreachable"
            );
            self.counters.agents_unreachable += 1;
            actions.push(Action::Persist(ops::mark_unreachable(&agent.info, now)));
            self.unreachable.insert(
                agent_id.clone(),
                UnreachableAgent {
                    info: agent.info,
                    since: now,
                },
            );
            self.agent_lost(now, &agent_id, actions);
        }
    }

    /// Marks an agent gone for good: its tasks are TASK_GONE (TASK_LOST for
    /// frameworks that are not partition-aware) and it may never return.
    pub fn mark_gone(&mut self, now: Duration, agent_id: &str, actions: &mut Vec<Action>) {
        self.mark_gone_as(now, agent_id, Removal::Gone, actions);
    }

    /// [`Master::mark_gone`], saying why (an operator's marking reports the
    /// tasks TASK_GONE_BY_OPERATOR, as Mesos does).
    pub fn mark_gone_as(
        &mut self,
        now: Duration,
        agent_id: &str,
        removal: Removal,
        actions: &mut Vec<Action>,
    ) {
        if self.gone.contains_key(agent_id) {
            return;
        }
        let known = self.agents.contains_key(agent_id)
            || self.recovered.contains_key(agent_id)
            || self.unreachable.contains_key(agent_id);
        if !known {
            return;
        }
        actions.push(Action::Persist(ops::mark_gone(agent_id, now)));
        self.gone.insert(agent_id.to_string(), now);
        if self.agents.contains_key(agent_id) {
            self.take_agent_down(now, agent_id, removal, actions);
            return;
        }
        self.take_recovered(agent_id);
        if self.unreachable.remove(agent_id).is_some() {
            let mut stranded: Vec<(String, String)> = self
                .frameworks
                .values()
                .flat_map(|f| {
                    f.tasks
                        .values()
                        .filter(|r| r.task.agent_id.value == agent_id)
                        .map(|r| (f.id.clone(), r.task.task_id.value.clone()))
                })
                .collect();
            stranded.sort_unstable();
            for (framework_id, task_id) in stranded {
                let (state, reason, message) = removal.task_outcome();
                self.fail_task(
                    now,
                    &framework_id,
                    &task_id,
                    state,
                    reason,
                    message,
                    false,
                    actions,
                );
            }
        }
        tracing::warn!(agent_id, "agent marked gone");
    }

    /// Takes an agent out of the recovered ones (and the host index).
    pub(super) fn take_recovered(&mut self, agent_id: &str) -> Option<RecoveredAgent> {
        let agent = self.recovered.remove(agent_id)?;
        self.hosts.remove(&agent.info.hostname, agent_id);
        Some(agent)
    }

    /// The registry operation an agent's (re-)registration needs, if any:
    /// admission of a new or unknown agent, return from unreachable, or a
    /// change of its info.
    pub(super) fn admission_change(
        &self,
        agent_id: &str,
        info: &meseta_proto::v1::AgentInfo,
    ) -> Option<meseta_proto::registry::Operation> {
        if self.unreachable.contains_key(agent_id) {
            return Some(ops::mark_reachable(info));
        }
        let known = self
            .agents
            .get(agent_id)
            .map(|a| a.info.as_ref())
            .or_else(|| self.recovered.get(agent_id).map(|a| &a.info));
        match known {
            Some(known) if known == info => None,
            _ => Some(ops::admit_agent(info)),
        }
    }
}

/// A framework's `failover_timeout` as a duration (0 when unset or invalid).
pub(super) fn failover_timeout(info: &meseta_proto::v1::FrameworkInfo) -> Duration {
    let timeout = info.failover_timeout.unwrap_or(0.0);
    if timeout.is_finite() && timeout > 0.0 {
        Duration::from_secs_f64(timeout.min(1e9))
    } else {
        Duration::ZERO
    }
}
