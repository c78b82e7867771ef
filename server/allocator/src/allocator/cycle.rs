//! The allocation cycle.
//!
//! 1. Purge expired filters; rebuild the DRF order if the cluster total
//!    changed since the last cycle.
//! 2. List the active agents and shuffle them, so no agent is systematically
//!    offered first.
//! 3. If some role is short of a quota guarantee, first offer each agent to
//!    the roles short of theirs ([`crate::drf::Drf::short`]), each walked
//!    down like the tree below.
//! 4. Offer each agent: walk the role tree in DRF order (a role's own
//!    frameworks are one entry among its child roles; see [`crate::drf`])
//!    and each role's frameworks in DRF order; the first framework that has
//!    not filtered
//!    this agent (and, for an agent with GPUs, is GPU-capable; with offer
//!    constraints, is content with this agent) receives the
//!    free pool, less what is reserved for other roles (resources reserved
//!    for a role go to it and the roles below it only), cut down to its
//!    role's limits and to the headroom (see [`crate::quota`]; what is
//!    reserved for the role is never cut). Its share (and its role's) grows at once, so the
//!    next agent goes to whoever is now lowest. What a cut leaves goes to
//!    the next framework in the walk.
//!
//! Suppressed and inactive frameworks, and roles at their limits, are not
//! in the order at all, so the walk only ever skips frameworks that
//! filtered this particular agent (or, under quota, whose cut offer is too
//! small): without quota the cost per agent is O(log frameworks + filters
//! on that agent).

use std::time::Duration;

use super::Allocator;
use crate::quota::Headroom;
use crate::{Allocation, Resources};

/// What the walk looks for: a client to offer one agent's free pool to.
struct Seeking<'a> {
    agent: u32,
    free: &'a Resources,
    now: Duration,
    served: &'a [u32],
    gpu_capable_only: bool,
}

/// Which roles a pass over the agents offers to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Roles short of a quota guarantee.
    Guarantees,
    /// Every role.
    FairShare,
}

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
        let mut headroom = self.headroom();
        if headroom.is_some() {
            for &agent in &order {
                self.offer_agent(agent, now, Stage::Guarantees, &mut headroom, &mut out);
            }
        }
        for &agent in &order {
            self.offer_agent(agent, now, Stage::FairShare, &mut headroom, &mut out);
        }
        self.order = order;
        out
    }

    /// Offers `agent`'s free pool to the clients of `stage`, each at most
    /// once, until nothing allocatable is left.
    fn offer_agent(
        &mut self,
        agent: u32,
        now: Duration,
        stage: Stage,
        headroom: &mut Option<Headroom>,
        out: &mut Vec<Allocation>,
    ) {
        let mut served = std::mem::take(&mut self.served);
        served.clear();
        while self.free_is_allocatable(agent) {
            // With nothing left beyond the headroom, only what is reserved
            // here can still go (to its role).
            let held_back = stage == Stage::FairShare
                && headroom
                    .as_ref()
                    .is_some_and(|h| h.exhausted(self.min_cpus_milli, self.min_mem_milli))
                && self
                    .agents
                    .get(agent)
                    .is_none_or(|a| a.free.reserved_parts().is_empty());
            if held_back {
                break;
            }
            let Some(fw) = self.pick(agent, now, stage, &served) else {
                break;
            };
            served.push(fw);
            let Some((offer, whole)) = self.offer_for(fw, agent, headroom.as_ref()) else {
                continue;
            };
            let too_small = !offer.is_allocatable(self.min_cpus_milli, self.min_mem_milli);
            if too_small || (!whole && self.filters.is_filtered(fw, agent, &offer, now)) {
                continue;
            }
            if let Some(h) = headroom.as_mut() {
                self.take_headroom(h, fw, &offer);
            }
            if let Some(allocation) = self.grant(fw, agent, offer, whole) {
                out.push(allocation);
            }
        }
        self.served = served;
    }

    fn free_is_allocatable(&self, agent: u32) -> bool {
        self.agents.get(agent).is_some_and(|a| {
            a.free
                .is_allocatable(self.min_cpus_milli, self.min_mem_milli)
        })
    }

    /// The next client of `stage` that should be offered `agent`'s free
    /// pool, among those not `served` yet.
    fn pick(&self, agent: u32, now: Duration, stage: Stage, served: &[u32]) -> Option<u32> {
        let agent_state = self.agents.get(agent)?;
        let seeking = Seeking {
            agent,
            free: &agent_state.free,
            now,
            served,
            gpu_capable_only: self.filter_gpu_resources && agent_state.has_gpus,
        };
        let roles = match stage {
            Stage::Guarantees => &self.drf.short,
            Stage::FairShare => &self.drf.order,
        };
        roles
            .iter()
            .find_map(|key| self.pick_below(key.idx, &seeking))
    }

    /// The first client, in DRF order, of role `idx` or the roles below it
    /// that may be offered what `seeking` describes.
    fn pick_below(&self, idx: u32, seeking: &Seeking<'_>) -> Option<u32> {
        let role = self.roles.get(idx)?;
        let own = || {
            role.members
                .iter()
                .map(|member| member.idx)
                .find(|&fw| self.may_offer(fw, seeking))
        };
        if role.child_roles == 0 {
            return own();
        }
        role.children.iter().find_map(|key| {
            if key.idx == idx {
                own()
            } else {
                self.pick_below(key.idx, seeking)
            }
        })
    }

    /// Whether client `fw` may be offered the agent `seeking` describes.
    fn may_offer(&self, fw: u32, seeking: &Seeking<'_>) -> bool {
        !seeking.served.contains(&fw)
            && (!seeking.gpu_capable_only || self.gpu_capable(fw))
            && self.constraints_allow(fw, seeking.agent)
            && !self
                .filters
                .is_filtered(fw, seeking.agent, seeking.free, seeking.now)
    }

    fn gpu_capable(&self, fw: u32) -> bool {
        self.frameworks
            .get(fw)
            .is_some_and(|f| f.capabilities.gpu_resources)
    }

    /// What client `fw` may be offered of `agent`'s free pool: all of it
    /// (`true`) unless its role's limits or the headroom cut it down.
    fn offer_for(
        &self,
        fw: u32,
        agent: u32,
        headroom: Option<&Headroom>,
    ) -> Option<(Resources, bool)> {
        let free = &self.agents.get(agent)?.free;
        let framework = self.frameworks.get(fw)?;
        let (role, refinements) = (
            framework.role,
            framework.capabilities.reservation_refinement,
        );
        let limited = self.chain(role).any(|r| r.quota.is_some());
        let mut offer = if free.reserved_parts().is_empty() {
            if !limited && headroom.is_none() {
                return Some((free.clone(), true));
            }
            free.clone()
        } else {
            free.for_role(&self.roles.get(role)?.name, refinements)
        };
        for r in self.chain(role) {
            if let Some(q) = &r.quota {
                q.cap_to_limits(&mut offer, &r.consumed());
            }
        }
        if let Some(h) = headroom {
            h.cap(&mut offer, &self.guarantee_of(role));
        }
        let whole = offer == *free;
        Some((offer, whole))
    }

    /// Accounts in the headroom for `offer` going to client `fw`.
    fn take_headroom(&self, headroom: &mut Headroom, fw: u32, offer: &Resources) {
        if let Some(framework) = self.frameworks.get(fw) {
            headroom.take(offer, &self.guarantee_of(framework.role));
        }
    }

    /// Hands `offer` (`whole`: all of `agent`'s free pool) to client `fw`.
    fn grant(&mut self, fw: u32, agent: u32, offer: Resources, whole: bool) -> Option<Allocation> {
        let framework = self.frameworks.get(fw)?;
        let framework_id = framework.framework_id.clone();
        let role = self.roles.get(framework.role)?.name.clone();
        let a = self.agents.get_mut(agent)?;
        if whole {
            a.free = Resources::new();
        } else {
            a.free.subtract(&offer);
        }
        let agent_id = a.id.clone();
        self.charge(fw, agent, offer.clone(), true);
        Some(Allocation {
            framework_id,
            agent_id,
            resources: offer,
            role,
        })
    }
}
