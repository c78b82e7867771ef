//! Moving resources between an agent's free pool and a framework's
//! allocation while keeping agent, framework, role and DRF order consistent.
//!
//! Holdings are per client (a framework in one role; see the module above).
//!
//! * [`Allocator::charge`]: resources become held by a framework on an agent
//!   (an allocation cycle's grant, or usage reported by `add_agent`).
//! * [`Allocator::recover`]: held resources return to the free pool,
//!   optionally leaving an offer filter behind.
//! * `discharge`: the holding disappears without returning anywhere (its
//!   agent was removed).
//!
//! Recovering more than is held is not an error: only the part actually
//! held (`held ∩ resources`) moves, so a confused caller cannot create
//! resources out of thin air.

use std::time::Duration;

use super::Allocator;
use crate::Resources;

impl Allocator {
    /// Returns resources allocated to a framework in `role` on an agent
    /// (offered but declined or unused, or used by a task that ended) to
    /// the agent's free pool. With `refuse_for` of `Some(d)`, `d > 0`, the
    /// framework is not offered resources on this agent in this role that
    /// are contained in `resources` until `now + d` (Mesos's
    /// `Filters.refuse_seconds`).
    pub fn recover(
        &mut self,
        framework_id: &str,
        role: &str,
        agent_id: &str,
        resources: &Resources,
        refuse_for: Option<Duration>,
        now: Duration,
    ) {
        let (Some(fw), Some(agent)) = (
            self.client_of(framework_id, role),
            self.agents.lookup(agent_id),
        ) else {
            return;
        };
        let registered = self.frameworks.get(fw).is_some_and(|f| f.registered);
        self.release(fw, agent, resources);
        if let Some(d) = refuse_for.filter(|d| !d.is_zero()) {
            if registered {
                self.filters
                    .add(fw, agent, resources.clone(), now.saturating_add(d));
            }
        }
    }

    /// Returns everything a framework holds, on every agent and in every
    /// role, to the free pools (no filters), and reports what was returned
    /// where. Call it before [`Allocator::remove_framework`] when the
    /// framework's tasks are gone.
    pub fn recover_all(&mut self, framework_id: &str) -> Vec<(String, Resources)> {
        let mut out = Vec::new();
        for fw in self.clients_of(framework_id).to_vec() {
            let held: Vec<(u32, Resources)> = self
                .held_by(fw)
                .map(|(agent, r)| (agent, r.clone()))
                .collect();
            for (agent, resources) in held {
                let back = self.release(fw, agent, &resources);
                if let Some(a) = self.agents.get(agent) {
                    out.push((a.id.clone(), back));
                }
            }
        }
        out
    }

    /// Counts the reserved parts of `resources` as free on their agent
    /// (`free`) or as no longer free, in their roles' idle reservations
    /// (quota consumption; see [`crate::quota`]). Nothing for unreserved
    /// resources.
    pub(super) fn count_idle_reserved(&mut self, resources: &Resources, free: bool) {
        for (reservation, part) in resources.reserved_parts() {
            let idx = self.role_slot(&reservation.role);
            self.for_chain_mut(idx, |r| {
                if free {
                    r.idle_reserved.add_scalars(part);
                } else {
                    r.idle_reserved.subtract_scalars(part);
                }
            });
            self.place_roles_from(idx);
            if !free {
                self.dispose_roles_from(idx);
            }
        }
    }

    /// Applies `change` to role `role` and every role above it.
    fn for_chain_mut(&mut self, role: u32, mut change: impl FnMut(&mut crate::drf::Role)) {
        let mut next = Some(role);
        while let Some(idx) = next {
            let Some(r) = self.roles.get_mut(idx) else {
                return;
            };
            change(r);
            next = r.parent;
        }
    }

    /// Makes `resources` (already taken out of the agent's free pool) held
    /// by framework slot `fw` on agent slot `agent`; `grant` counts it as an
    /// offer for tie-breaking.
    pub(super) fn charge(&mut self, fw: u32, agent: u32, resources: Resources, grant: bool) {
        let (Some(framework), Some(a)) = (self.frameworks.get_mut(fw), self.agents.get_mut(agent))
        else {
            return;
        };
        framework.standing.allocated.add_scalars(&resources);
        framework.agents.insert(agent);
        if grant {
            framework.standing.grants += 1;
        }
        let role = framework.role;
        if let Some(r) = self.roles.get_mut(role) {
            r.own.allocated.add_scalars(&resources);
            if grant {
                r.own.grants += 1;
            }
        }
        let scalars = resources.clone();
        match a.allocations.iter_mut().find(|(f, _)| *f == fw) {
            Some((_, held)) => held.add(&resources),
            None => a.allocations.push((fw, resources)),
        }
        self.for_chain_mut(role, |r| {
            r.subtree.allocated.add_scalars(&scalars);
            if grant {
                r.subtree.grants += 1;
            }
        });
        self.count_idle_reserved(&scalars, false);
        self.rekey(fw);
    }

    /// Moves `held ∩ resources` of `fw` on `agent` back to the agent's free
    /// pool and returns it.
    fn release(&mut self, fw: u32, agent: u32, resources: &Resources) -> Resources {
        let Some(a) = self.agents.get_mut(agent) else {
            return Resources::new();
        };
        let Some(at) = a.allocations.iter().position(|(f, _)| *f == fw) else {
            return Resources::new();
        };
        let released = if resources.contains(&a.allocations[at].1) {
            a.allocations.swap_remove(at).1
        } else {
            let held = &mut a.allocations[at].1;
            let mut kept = held.clone();
            kept.subtract(resources);
            let mut released = std::mem::replace(held, kept);
            released.subtract(held);
            if held.is_empty() {
                a.allocations.swap_remove(at);
            }
            released
        };
        a.free.add(&released);
        self.count_idle_reserved(&released, true);
        self.discharge(fw, agent, &released);
        released
    }

    /// Takes `released` off framework `fw`'s and its role's tallies; forgets
    /// that `fw` holds anything on `agent` when the agent has no entry for it.
    pub(super) fn discharge(&mut self, fw: u32, agent: u32, released: &Resources) {
        let still_holds = self
            .agents
            .get(agent)
            .is_some_and(|a| a.allocations.iter().any(|(f, _)| *f == fw));
        let Some(framework) = self.frameworks.get_mut(fw) else {
            return;
        };
        framework.standing.allocated.subtract_scalars(released);
        if !still_holds {
            framework.agents.remove(&agent);
        }
        let role = framework.role;
        if let Some(r) = self.roles.get_mut(role) {
            r.own.allocated.subtract_scalars(released);
        }
        self.for_chain_mut(role, |r| r.subtree.allocated.subtract_scalars(released));
        self.rekey(fw);
        self.drop_if_vacant(fw);
    }
}
