//! The [`Allocator`] state and its read-only queries.
//!
//! State is split by concern into sibling modules that each add an `impl
//! Allocator` block: [`agents`] (agent lifecycle), [`frameworks`] (framework
//! lifecycle, roles, suppress/revive, weights), [`accounting`] (charging and
//! recovering resources, which keeps agents, frameworks and roles
//! consistent), [`quota`] (guarantees, limits and headroom),
//! [`constrained`] (agents' profiles and frameworks' offer constraints),
//! [`conversions`] (reservations made and undone in place),
//! [`tree`] (roles below roles) and [`cycle`] (the allocation loop).
//!
//! A framework takes part once per role it is subscribed to: each
//! (framework, role) pair is a *client* slot with its own allocation, its
//! place in its role's DRF order, its suppression and its offer filters,
//! as in Mesos's hierarchical allocator. A single-role framework is one
//! client.
//!
//! Invariants, for every agent `a` and client `c`:
//! * `a.free + Σ a.allocations == a.total` (up to saturation when the
//!   master reports more usage than the agent has);
//! * `c.agents` is exactly the set of agents holding an allocation for `c`;
//! * `c.standing.allocated` is the scalar sum of its allocations,
//!   `role.own.allocated` the sum over the role's clients and
//!   `role.subtree.allocated` the sum over its clients and every role below;
//! * a client is a DRF member iff it is registered, active and not
//!   suppressed (see [`crate::drf`]);
//! * `by_framework` lists exactly the client slots of each framework.
//!
//! A client slot outlives its framework's removal, or its role's leaving
//! the framework's roles, while it still holds allocations (the master
//! recovers them later, by framework and role); so does a slot created by
//! `add_agent` for a framework the allocator has not met yet. Such slots
//! are *unregistered*: never offered, counted in their role's share, and
//! freed once they hold nothing.

mod accounting;
mod agents;
mod constrained;
mod conversions;
mod cycle;
mod frameworks;
mod quota;
mod tree;

use std::collections::HashMap;

use crate::drf::{Drf, Role, Standing};
use crate::filters::Filters;
use crate::resources::to_milli;
use crate::rng::Rng;
use crate::table::{IdxSet, Table};
use crate::{AgentProfile, AllocatorConfig, Capabilities, OfferConstraints, Resources};

/// The table key of a framework's client in `role`.
fn client_key(framework_id: &str, role: &str) -> String {
    format!("{framework_id}\u{0}{role}")
}

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
    /// What offer constraints see of it (none: a bare host).
    profile: Option<Box<AgentProfile>>,
}

/// A framework in one of its roles (or an unregistered slot holding
/// resources; see above).
#[derive(Debug)]
struct Framework {
    /// Its key in the table ([`client_key`]).
    key: String,
    framework_id: String,
    role: u32,
    registered: bool,
    active: bool,
    suppressed: bool,
    /// What it declared that changes what it may be offered.
    capabilities: Capabilities,
    standing: Standing,
    /// Agents on which this framework holds an allocation.
    agents: IdxSet,
    /// Its offer constraints in this role, if it set any.
    constraints: Option<Box<OfferConstraints>>,
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
    /// Client slots by framework ID.
    by_framework: HashMap<String, Vec<u32>>,
    roles: Table<Role>,
    drf: Drf,
    filters: Filters,
    rng: Rng,
    /// Scratch buffer for the agent visit order, reused across cycles.
    order: Vec<u32>,
    /// Scratch buffer: the clients a cycle already offered one agent.
    served: Vec<u32>,
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
            by_framework: HashMap::new(),
            roles: Table::default(),
            drf: Drf::new(&config.fair_share_resources),
            filters: Filters::default(),
            rng: Rng::new(config.seed),
            order: Vec::new(),
            served: Vec::new(),
        }
    }

    /// Everything allocated to a framework, summed over agents and roles
    /// (empty if unknown). Ranges from different agents are merged, so only
    /// the scalars are meaningful as a total.
    pub fn allocated(&self, framework_id: &str) -> Resources {
        let mut out = Resources::new();
        for &client in self.clients_of(framework_id) {
            for (_, held) in self.held_by(client) {
                out.add(held);
            }
        }
        out
    }

    /// What a framework holds in one role, summed over agents.
    pub fn allocated_in(&self, framework_id: &str, role: &str) -> Resources {
        let mut out = Resources::new();
        if let Some(client) = self.client_of(framework_id, role) {
            for (_, held) in self.held_by(client) {
                out.add(held);
            }
        }
        out
    }

    /// What a framework holds on one agent, in all its roles (empty if
    /// nothing).
    pub fn allocated_on(&self, framework_id: &str, agent_id: &str) -> Resources {
        let mut out = Resources::new();
        let Some(agent) = self.agents.by_id(agent_id) else {
            return out;
        };
        let clients = self.clients_of(framework_id);
        for (client, held) in &agent.allocations {
            if clients.contains(client) {
                out.add(held);
            }
        }
        out
    }

    /// An agent's free (unallocated) resources, if the agent is known.
    pub fn free(&self, agent_id: &str) -> Option<Resources> {
        self.agents.by_id(agent_id).map(|a| a.free.clone())
    }

    /// A framework's dominant share against the current cluster total, of
    /// what it holds in all its roles (0 if unknown).
    pub fn dominant_share(&self, framework_id: &str) -> f64 {
        let mut allocated = Resources::new();
        for client in self.clients_of(framework_id) {
            if let Some(c) = self.frameworks.get(*client) {
                allocated.add_scalars(&c.standing.allocated);
            }
        }
        self.drf.share(&allocated)
    }

    /// A role's weighted dominant share (`share / weight`, of what it and
    /// the roles below it hold; 0 if unknown).
    pub fn role_share(&self, role: &str) -> f64 {
        self.roles
            .by_id(role)
            .map_or(0.0, |r| self.drf.share(&r.subtree.allocated) / r.weight)
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

    /// The client slot of a framework in `role`, if it has one (a walk
    /// over its few clients: no key is built on the hot recover path).
    fn client_of(&self, framework_id: &str, role: &str) -> Option<u32> {
        self.clients_of(framework_id)
            .iter()
            .copied()
            .find(|&c| self.role_of(c) == Some(role))
    }

    /// The name of client slot `client`'s role.
    fn role_of(&self, client: u32) -> Option<&str> {
        let framework = self.frameworks.get(client)?;
        self.roles.get(framework.role).map(|r| r.name.as_str())
    }

    /// The client slots of a framework (none if unknown).
    fn clients_of(&self, framework_id: &str) -> &[u32] {
        self.by_framework
            .get(framework_id)
            .map_or(&[], Vec::as_slice)
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

    /// Re-keys framework slot `fw` in its role, and its roles up the tree.
    fn rekey(&mut self, fw: u32) {
        let Some(framework) = self.frameworks.get_mut(fw) else {
            return;
        };
        let role_idx = framework.role;
        let Some(role) = self.roles.get_mut(role_idx) else {
            return;
        };
        let offerable = framework.offerable();
        self.drf
            .place_member(&mut role.members, fw, &mut framework.standing, offerable);
        self.place_roles_from(role_idx);
    }

    /// Recomputes every key after the cluster total changed.
    fn rebuild_order(&mut self) {
        self.drf.clear();
        for (_, role) in self.roles.iter_mut() {
            role.members.clear();
            role.children.clear();
            role.own.key = None;
            role.subtree.key = None;
        }
        for (idx, framework) in self.frameworks.iter_mut() {
            framework.standing.key = None;
            if let Some(role) = self.roles.get_mut(framework.role) {
                let offerable = framework.offerable();
                self.drf
                    .place_member(&mut role.members, idx, &mut framework.standing, offerable);
            }
        }
        for idx in self.roles_bottom_up() {
            self.place_role(idx);
        }
        self.drf.stale = false;
    }
}
