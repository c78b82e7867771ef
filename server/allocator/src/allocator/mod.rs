//! The [`Allocator`] state and its read-only queries.
//!
//! State is split by concern into sibling modules that each add an `impl
//! Allocator` block: [`agents`] (agent lifecycle), [`frameworks`] (framework
//! lifecycle, roles, suppress/revive, weights), [`accounting`] (charging and
//! recovering resources, which keeps agents, frameworks and roles
//! consistent) and [`cycle`] (the allocation loop).
//!
//! Invariants, for every agent `a` and framework `f`:
//! * `a.free + Σ a.allocations == a.total` (up to saturation when the
//!   master reports more usage than the agent has);
//! * `f.agents` is exactly the set of agents holding an allocation for `f`;
//! * `f.standing.allocated` is the scalar sum of its allocations and
//!   `role.standing.allocated` the sum over the role's frameworks;
//! * a framework is a DRF member iff it is registered, active and not
//!   suppressed (see [`crate::drf`]).
//!
//! A framework slot outlives `remove_framework` while it still holds
//! allocations (the master recovers them later, by id); so does a slot
//! created by `add_agent` for a framework the allocator has not met yet.
//! Such slots are *unregistered*: never offered, counted in their role's
//! share, and freed once they hold nothing.

mod accounting;
mod agents;
mod cycle;
mod frameworks;

use crate::drf::{Drf, Role, Standing};
use crate::filters::Filters;
use crate::resources::to_milli;
use crate::rng::Rng;
use crate::table::{IdxSet, Table};
use crate::{AllocatorConfig, Resources};

/// An agent as the allocator sees it.
#[derive(Debug)]
struct Agent {
    id: String,
    total: Resources,
    free: Resources,
    active: bool,
    /// Its total has `gpus` (offered only to GPU-capable frameworks).
    has_gpus: bool,
    /// What each framework slot holds here (a short list in practice).
    allocations: Vec<(u32, Resources)>,
}

/// A framework (or an unregistered slot holding resources; see above).
#[derive(Debug)]
struct Framework {
    id: String,
    role: u32,
    registered: bool,
    active: bool,
    suppressed: bool,
    /// Declared the `GPU_RESOURCES` capability.
    gpu_capable: bool,
    standing: Standing,
    /// Agents on which this framework holds an allocation.
    agents: IdxSet,
}

impl Framework {
    fn offerable(&self) -> bool {
        self.registered && self.active && !self.suppressed
    }
}

/// The hierarchical DRF allocator. See the crate documentation.
#[derive(Debug)]
pub struct Allocator {
    min_cpus_milli: i64,
    min_mem_milli: i64,
    filter_gpu_resources: bool,
    agents: Table<Agent>,
    frameworks: Table<Framework>,
    roles: Table<Role>,
    drf: Drf,
    filters: Filters,
    rng: Rng,
    /// Scratch buffer for the agent visit order, reused across cycles.
    order: Vec<u32>,
}

impl Allocator {
    /// An allocator with no agents and no frameworks.
    pub fn new(config: AllocatorConfig) -> Self {
        Allocator {
            min_cpus_milli: to_milli(config.min_allocatable_cpus),
            min_mem_milli: to_milli(config.min_allocatable_mem),
            filter_gpu_resources: config.filter_gpu_resources,
            agents: Table::default(),
            frameworks: Table::default(),
            roles: Table::default(),
            drf: Drf::new(&config.fair_share_resources),
            filters: Filters::default(),
            rng: Rng::new(config.seed),
            order: Vec::new(),
        }
    }

    /// Everything allocated to a framework, summed over agents (empty if
    /// unknown). Ranges from different agents are merged, so only the
    /// scalars are meaningful as a total.
    pub fn allocated(&self, framework_id: &str) -> Resources {
        let mut out = Resources::new();
        let Some(idx) = self.frameworks.lookup(framework_id) else {
            return out;
        };
        for (_, held) in self.held_by(idx) {
            out.add(held);
        }
        out
    }

    /// What a framework holds on one agent (empty if nothing).
    pub fn allocated_on(&self, framework_id: &str, agent_id: &str) -> Resources {
        let (Some(fw), Some(agent)) = (
            self.frameworks.lookup(framework_id),
            self.agents.by_id(agent_id),
        ) else {
            return Resources::new();
        };
        agent
            .allocations
            .iter()
            .find(|(f, _)| *f == fw)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    }

    /// An agent's free (unallocated) resources, if the agent is known.
    pub fn free(&self, agent_id: &str) -> Option<Resources> {
        self.agents.by_id(agent_id).map(|a| a.free.clone())
    }

    /// A framework's dominant share against the current cluster total
    /// (0 if unknown).
    pub fn dominant_share(&self, framework_id: &str) -> f64 {
        self.frameworks
            .by_id(framework_id)
            .map_or(0.0, |f| self.drf.share(&f.standing.allocated))
    }

    /// A role's weighted dominant share (`share / weight`; 0 if unknown).
    pub fn role_share(&self, role: &str) -> f64 {
        self.roles
            .by_id(role)
            .map_or(0.0, |r| self.drf.share(&r.standing.allocated) / r.weight)
    }

    /// The scalar total of all agents (active or not).
    pub fn total(&self) -> Resources {
        self.drf.total.clone()
    }

    /// Number of known agents.
    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    /// Number of offer filters currently stored (some may have expired
    /// since the last cycle).
    pub fn filter_count(&self) -> usize {
        self.filters.len()
    }

    /// `(agent slot, resources)` held by framework slot `fw`.
    fn held_by(&self, fw: u32) -> impl Iterator<Item = (u32, &Resources)> {
        let agents = self.frameworks.get(fw).map(|f| &f.agents);
        agents.into_iter().flatten().filter_map(move |&a| {
            let agent = self.agents.get(a)?;
            let (_, held) = agent.allocations.iter().find(|(f, _)| *f == fw)?;
            Some((a, held))
        })
    }

    /// Re-keys framework slot `fw` in its role and the role in the order.
    fn rekey(&mut self, fw: u32) {
        let Some(framework) = self.frameworks.get_mut(fw) else {
            return;
        };
        let Some(role) = self.roles.get_mut(framework.role) else {
            return;
        };
        let offerable = framework.offerable();
        self.drf
            .place_member(&mut role.members, fw, &mut framework.standing, offerable);
        self.drf.place_role(framework.role, role);
    }

    /// Recomputes every key after the cluster total changed.
    fn rebuild_order(&mut self) {
        self.drf.order.clear();
        for (_, role) in self.roles.iter_mut() {
            role.members.clear();
            role.standing.key = None;
        }
        for (idx, framework) in self.frameworks.iter_mut() {
            framework.standing.key = None;
            if let Some(role) = self.roles.get_mut(framework.role) {
                let offerable = framework.offerable();
                self.drf
                    .place_member(&mut role.members, idx, &mut framework.standing, offerable);
            }
        }
        for (idx, role) in self.roles.iter_mut() {
            self.drf.place_role(idx, role);
        }
        self.drf.stale = false;
    }
}
