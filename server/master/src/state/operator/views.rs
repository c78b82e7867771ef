//! What the operator API's GET_* calls answer: the same facts as the
//! legacy JSON endpoints, in the `mesos.v1.master.Response` messages. The
//! big lists are built from a sorted [`Snapshot`] outside the loop (every
//! list sorted by ID, so one state always gives one answer); the events'
//! single agents and frameworks from their views taken alone.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use meseta_proto::master::response;
use meseta_proto::v1;

use crate::state::framework_role;
use crate::state::snapshot::{AgentView, FrameworkView, Snapshot};
use crate::state::Master;

fn time(d: Duration) -> v1::TimeInfo {
    v1::TimeInfo {
        nanoseconds: i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
    }
}

/// GET_AGENTS: registered agents, and those recovered from the registry
/// that have not re-registered yet.
pub fn agents(s: &Snapshot) -> response::GetAgents {
    response::GetAgents {
        agents: s.agents.iter().map(agent).collect(),
        recovered_agents: s.recovered.clone(),
    }
}

/// One agent as GET_AGENTS shows it.
pub(crate) fn agent(a: &AgentView) -> response::get_agents::Agent {
    response::get_agents::Agent {
        agent_info: (*a.info).clone(),
        active: a.active,
        deactivated: Some(!a.active),
        version: a.version.clone(),
        pid: Some(format!("slave(1)@{}", a.http_address)),
        registered_time: Some(time(a.registered_time)),
        reregistered_time: a.reregistered_time.map(time),
        total_resources: a.info.resources.clone(),
        allocated_resources: a.used.to_mesos("*"),
        offered_resources: a.offered.to_mesos("*"),
        drain_info: a.drain,
        ..Default::default()
    }
}

/// GET_FRAMEWORKS: active and completed frameworks, with their offers.
pub fn frameworks(s: &Snapshot) -> response::GetFrameworks {
    response::GetFrameworks {
        frameworks: s.frameworks.iter().map(framework).collect(),
        completed_frameworks: s.completed_frameworks.iter().map(framework).collect(),
        ..Default::default()
    }
}

/// One framework as GET_FRAMEWORKS shows it.
pub(crate) fn framework(f: &FrameworkView) -> response::get_frameworks::Framework {
    let offers = f
        .offers
        .iter()
        .map(|offer| v1::Offer {
            id: v1::OfferId {
                value: offer.id.clone(),
            },
            framework_id: v1::FrameworkId {
                value: f.id.clone(),
            },
            agent_id: v1::AgentId {
                value: offer.agent_id.clone(),
            },
            hostname: offer.hostname.clone(),
            resources: offer.resources.to_mesos(&offer.role),
            ..Default::default()
        })
        .collect();
    let role = framework_role(&f.info);
    response::get_frameworks::Framework {
        framework_info: f.info.clone(),
        active: f.active,
        connected: f.connected,
        recovered: f.recovered,
        registered_time: Some(time(f.registered_time)),
        reregistered_time: f.reregistered_time.map(time),
        unregistered_time: f.unregistered_time.map(time),
        offers,
        allocated_resources: f.used.to_mesos(&role),
        offered_resources: f.offered.to_mesos(&role),
        offer_constraints: f.offer_constraints.clone(),
        ..Default::default()
    }
}

/// GET_EXECUTORS: every custom executor the master knows of, with its agent.
pub fn executors(s: &Snapshot) -> response::GetExecutors {
    let mut executors: Vec<response::get_executors::Executor> = s
        .frameworks
        .iter()
        .flat_map(|f| f.executors.iter())
        .map(|(agent_id, info)| response::get_executors::Executor {
            executor_info: info.clone(),
            agent_id: v1::AgentId {
                value: agent_id.clone(),
            },
        })
        .collect();
    executors.sort_by(|a, b| {
        (&a.agent_id.value, &a.executor_info.executor_id.value)
            .cmp(&(&b.agent_id.value, &b.executor_info.executor_id.value))
    });
    response::GetExecutors {
        executors,
        ..Default::default()
    }
}

/// GET_TASKS: active tasks, those on unreachable agents, and completed ones.
pub fn tasks(s: &Snapshot) -> response::GetTasks {
    let mut active = Vec::new();
    let mut unreachable = Vec::new();
    let mut completed = Vec::new();
    for framework in &s.frameworks {
        for task in &framework.tasks {
            if task.state == v1::TaskState::TaskUnreachable as i32 {
                unreachable.push((**task).clone());
            } else {
                active.push((**task).clone());
            }
        }
        completed.extend(framework.completed_tasks.iter().map(|t| (**t).clone()));
    }
    for framework in &s.completed_frameworks {
        completed.extend(framework.tasks.iter().map(|t| (**t).clone()));
        completed.extend(framework.completed_tasks.iter().map(|t| (**t).clone()));
    }
    response::GetTasks {
        tasks: active,
        unreachable_tasks: unreachable,
        completed_tasks: completed,
        ..Default::default()
    }
}

/// GET_STATE: the four lists above in one answer.
pub fn state(s: &Snapshot) -> response::GetState {
    response::GetState {
        get_tasks: Some(tasks(s)),
        get_executors: Some(executors(s)),
        get_frameworks: Some(frameworks(s)),
        get_agents: Some(agents(s)),
    }
}

/// What a role holds, for GET_ROLES and `/master/roles`: a task counts in
/// the role it was launched in, even after its framework changed roles.
#[derive(Debug, Default)]
pub struct RoleUsage {
    /// Its frameworks' IDs.
    pub frameworks: BTreeSet<String>,
    /// What its frameworks' tasks (and their executors) use.
    pub used: meseta_allocator::Resources,
    /// What is on offer to it.
    pub offered: meseta_allocator::Resources,
    /// What agents have reserved for it (statically or dynamically,
    /// volumes included), allocated or not.
    pub reserved: meseta_allocator::Resources,
}

impl RoleUsage {
    /// Allocated to the role, as the allocator counts its share: used plus
    /// offered.
    pub fn allocated(&self) -> meseta_allocator::Resources {
        let mut allocated = self.used.clone();
        allocated.add(&self.offered);
        allocated
    }

    /// Its quota consumption, as Mesos counts it since 1.9: what is
    /// allocated to `role`, plus what is reserved for it (or a role below)
    /// and not allocated.
    pub fn consumed(&self, role: &str) -> meseta_allocator::Resources {
        let allocated = self.allocated();
        let mut consumed = allocated.unreserved();
        consumed.add(&self.reserved);
        for (reservation, part) in allocated.reserved_parts() {
            // Reserved for a role above it: not among its reservations.
            if !meseta_proto::roles::is_within(&reservation.role, role) {
                consumed.add_reserved(reservation.clone(), part);
            }
        }
        consumed
    }
}

/// Every role a framework is subscribed with, that has a weight or a quota
/// set or resources reserved for it, and the roles above them, and what
/// each holds (one walk over the tasks, the offers and the agents; a parent
/// holds what is below it).
pub fn role_usage(m: &Master) -> BTreeMap<String, RoleUsage> {
    let mut roles: BTreeMap<String, RoleUsage> = BTreeMap::new();
    for role in m.weights().keys().chain(m.quotas().keys()) {
        roles.entry(role.clone()).or_default();
    }
    for framework in m.frameworks().values() {
        for role in framework.roles() {
            let usage = roles.entry(role).or_default();
            usage.frameworks.insert(framework.id.clone());
        }
        for record in framework.tasks.values() {
            if !record.resources_recovered {
                let usage = roles.entry(record.role.clone()).or_default();
                usage.used.add(&record.resources);
            }
        }
    }
    for offer in m.offers().values() {
        roles
            .entry(offer.role.clone())
            .or_default()
            .offered
            .add(&offer.resources);
    }
    for agent in m.agents().values() {
        for (reservation, part) in agent.total.reserved_parts() {
            roles
                .entry(reservation.role.clone())
                .or_default()
                .reserved
                .add(part);
        }
    }
    roll_up(roles)
}

/// Adds every role's ancestors (`eng` for `eng/ml`), each holding what the
/// roles below it hold, as the allocator counts a parent's share.
fn roll_up(mut roles: BTreeMap<String, RoleUsage>) -> BTreeMap<String, RoleUsage> {
    type Held = (
        meseta_allocator::Resources,
        meseta_allocator::Resources,
        meseta_allocator::Resources,
    );
    let leaves: Vec<(String, Held)> = roles
        .iter()
        .filter(|(name, _)| name.contains('/'))
        .map(|(name, usage)| {
            let held = (
                usage.used.clone(),
                usage.offered.clone(),
                usage.reserved.clone(),
            );
            (name.clone(), held)
        })
        .collect();
    for (name, (used, offered, reserved)) in leaves {
        for ancestor in meseta_proto::roles::ancestors(&name) {
            let usage = roles.entry(ancestor.to_string()).or_default();
            usage.used.add(&used);
            usage.offered.add(&offered);
            usage.reserved.add(&reserved);
        }
    }
    roles
}

/// GET_ROLES: [`role_usage`]'s roles, each with its weight, its frameworks
/// and what is allocated to it.
pub fn roles(m: &Master) -> response::GetRoles {
    let roles = role_usage(m)
        .into_iter()
        .map(|(name, usage)| v1::Role {
            resources: usage.allocated().to_mesos(&name),
            weight: m.weight_of(&name),
            frameworks: usage
                .frameworks
                .into_iter()
                .map(|value| v1::FrameworkId { value })
                .collect(),
            name,
        })
        .collect();
    response::GetRoles { roles }
}

/// GET_WEIGHTS: the weights set, by role.
pub fn weights(m: &Master) -> response::GetWeights {
    response::GetWeights {
        weight_infos: m
            .weights()
            .iter()
            .map(|(role, weight)| crate::registry::weight_info(role, *weight))
            .collect(),
    }
}

/// GET_MASTER: this master's info and times.
pub fn master(m: &Master) -> response::GetMaster {
    response::GetMaster {
        master_info: Some(m.info().clone()),
        start_time: Some(m.start_time().as_secs_f64()),
        elected_time: Some(m.elected_time().as_secs_f64()),
    }
}
