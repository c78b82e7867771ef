//! The allocation cycle.
//!
//! 1. Purge expired filters; rebuild the DRF order if the cluster total
//!    changed since the last cycle.
//! 2. List the active agents and shuffle them, so no agent is systematically
//!    offered first.
//! 3. For each agent with allocatable free resources, walk the roles in DRF
//!    order and each role's frameworks in DRF order; the first framework
//!    that has not filtered this agent (and, for an agent with GPUs, is
//!    GPU-capable) receives the whole free pool. Its
//!    share (and its role's) grows at once, so the next agent goes to
//!    whoever is now lowest.
//!
//! Suppressed and inactive frameworks are not in the order at all, so the
//! walk only ever skips frameworks that filtered this particular agent: the
//! cost per agent is O(log frameworks + filters on that agent).

use std::time::Duration;

use super::Allocator;
use crate::Allocation;

impl Allocator {
    /// Runs one allocation cycle at time `now` and returns the offers to make.
    pub fn allocate(&mut self, now: Duration) -> Vec<Allocation> {
        self.filters.expire(now);
        if self.drf.stale {
            self.rebuild_order();
        }
        let mut out = Vec::new();
        if self.drf.order.is_empty() {
            return out;
        }
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(
            self.agents
                .iter()
                .filter(|(_, a)| a.active)
                .map(|(idx, _)| idx),
        );
        self.rng.shuffle(&mut order);
        for &agent in &order {
            let Some(fw) = self.pick(agent, now) else {
                continue;
            };
            if let Some(allocation) = self.grant(fw, agent) {
                out.push(allocation);
            }
        }
        self.order = order;
        out
    }

    /// The framework that should receive `agent`'s free pool, if any.
    fn pick(&self, agent: u32, now: Duration) -> Option<u32> {
        let agent_state = self.agents.get(agent)?;
        let free = &agent_state.free;
        if !free.is_allocatable(self.min_cpus_milli, self.min_mem_milli) {
            return None;
        }
        let gpu_capable_only = self.filter_gpu_resources && agent_state.has_gpus;
        for role_key in &self.drf.order {
            let Some(role) = self.roles.get(role_key.idx) else {
                continue;
            };
            for member in &role.members {
                if gpu_capable_only && !self.gpu_capable(member.idx) {
                    continue;
                }
                if !self.filters.is_filtered(member.idx, agent, free, now) {
                    return Some(member.idx);
                }
            }
        }
        None
    }

    fn gpu_capable(&self, fw: u32) -> bool {
        self.frameworks.get(fw).is_some_and(|f| f.gpu_capable)
    }

    /// Hands `agent`'s whole free pool to framework slot `fw`.
    fn grant(&mut self, fw: u32, agent: u32) -> Option<Allocation> {
        let framework = self.frameworks.get(fw)?;
        let framework_id = framework.framework_id.clone();
        let role = self.roles.get(framework.role)?.name.clone();
        let a = self.agents.get_mut(agent)?;
        let resources = std::mem::take(&mut a.free);
        let agent_id = a.id.clone();
        self.charge(fw, agent, resources.clone(), true);
        Some(Allocation {
            framework_id,
            agent_id,
            resources,
            role,
        })
    }
}
