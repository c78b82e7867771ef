//! What the operator API's GET_* calls answer, built from the master's
//! state: the same facts as the legacy JSON endpoints, in the
//! `mesos.v1.master.Response` messages (every list sorted by ID, so one state
//! always gives one answer).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use meseta_proto::master::response;
use meseta_proto::v1;

use crate::state::{framework_role, Agent, Framework, Master};

fn time(d: Duration) -> v1::TimeInfo {
    v1::TimeInfo {
        nanoseconds: i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
    }
}

fn sorted<'a, T>(items: impl Iterator<Item = (&'a String, T)>) -> Vec<T> {
    let mut items: Vec<(&String, T)> = items.collect();
    items.sort_unstable_by(|a, b| a.0.cmp(b.0));
    items.into_iter().map(|(_, item)| item).collect()
}

/// GET_AGENTS: registered agents, and those recovered from the registry
/// that have not re-registered yet.
pub fn agents(m: &Master) -> response::GetAgents {
    // Offers by agent in one pass (not one pass per agent).
    let mut offered: std::collections::HashMap<&str, meseta_allocator::Resources> =
        std::collections::HashMap::new();
    for offer in m.offers().values() {
        offered
            .entry(offer.agent_id.as_str())
            .or_default()
            .add(&offer.resources);
    }
    let agents = sorted(m.agents().iter())
        .into_iter()
        .map(|a| agent_offered(m, a, offered.remove(a.id.as_str()).unwrap_or_default()))
        .collect();
    let mut recovered: Vec<v1::AgentInfo> = m
        .recovered_agents()
        .values()
        .map(|r| r.info.clone())
        .collect();
    recovered.sort_by_key(|info| info.id.as_ref().map(|id| id.value.clone()));
    response::GetAgents {
        agents,
        recovered_agents: recovered,
    }
}

/// One agent as GET_AGENTS shows it.
pub fn agent(m: &Master, a: &Agent) -> response::get_agents::Agent {
    agent_offered(m, a, m.offered_on_agent(&a.id))
}

fn agent_offered(
    m: &Master,
    a: &Agent,
    offered: meseta_allocator::Resources,
) -> response::get_agents::Agent {
    response::get_agents::Agent {
        agent_info: (*a.info).clone(),
        active: a.active,
        deactivated: Some(!a.active),
        version: a.version.clone(),
        pid: Some(format!("slave(1)@{}", a.http_address)),
        registered_time: Some(time(a.registered_time)),
        reregistered_time: a.reregistered_time.map(time),
        total_resources: a.info.resources.clone(),
        allocated_resources: m.used_on_agent(&a.id).to_mesos("*"),
        offered_resources: offered.to_mesos("*"),
        drain_info: a.drain,
        ..Default::default()
    }
}

/// GET_FRAMEWORKS: active and completed frameworks, with their offers.
pub fn frameworks(m: &Master) -> response::GetFrameworks {
    let frameworks = sorted(m.frameworks().iter())
        .into_iter()
        .map(|f| framework(m, f))
        .collect();
    let completed = m
        .completed_frameworks()
        .iter()
        .map(|f| framework(m, f))
        .collect();
    response::GetFrameworks {
        frameworks,
        completed_frameworks: completed,
        ..Default::default()
    }
}

/// One framework as GET_FRAMEWORKS shows it.
pub fn framework(m: &Master, f: &Framework) -> response::get_frameworks::Framework {
    let mut offer_ids: Vec<&String> = f.offers.iter().collect();
    offer_ids.sort_unstable();
    let mut offered = meseta_allocator::Resources::default();
    let mut offers = Vec::new();
    for id in offer_ids {
        if let Some(record) = m.offers().get(id) {
            offered.add(&record.resources);
            offers.push(v1::Offer {
                id: v1::OfferId { value: id.clone() },
                framework_id: v1::FrameworkId {
                    value: f.id.clone(),
                },
                agent_id: v1::AgentId {
                    value: record.agent_id.clone(),
                },
                hostname: m
                    .agents()
                    .get(&record.agent_id)
                    .map(|a| a.info.hostname.clone())
                    .unwrap_or_default(),
                resources: record.resources.to_mesos(&record.role),
                ..Default::default()
            });
        }
    }
    let role = framework_role(&f.info);
    response::get_frameworks::Framework {
        framework_info: f.info.clone(),
        active: f.active,
        connected: f.conn.is_some(),
        recovered: f.recovered,
        registered_time: Some(time(f.registered_time)),
        reregistered_time: f.reregistered_time.map(time),
        unregistered_time: f.unregistered_time.map(time),
        offers,
        allocated_resources: m.used_resources(Some(&f.id), None).to_mesos(&role),
        offered_resources: offered.to_mesos(&role),
        ..Default::default()
    }
}

/// GET_EXECUTORS: every custom executor the master knows of, with its agent.
pub fn executors(m: &Master) -> response::GetExecutors {
    let mut executors: Vec<response::get_executors::Executor> = m
        .frameworks()
        .values()
        .flat_map(|f| f.executors.iter())
        .map(|((agent_id, _), info)| response::get_executors::Executor {
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
pub fn tasks(m: &Master) -> response::GetTasks {
    let mut active = Vec::new();
    let mut unreachable = Vec::new();
    let mut completed = Vec::new();
    for framework in sorted(m.frameworks().iter()) {
        for record in sorted(framework.tasks.iter()) {
            if record.state() == v1::TaskState::TaskUnreachable {
                unreachable.push((*record.task).clone());
            } else {
                active.push((*record.task).clone());
            }
        }
        completed.extend(framework.completed_tasks.iter().map(|t| (**t).clone()));
    }
    for framework in m.completed_frameworks() {
        completed.extend(framework.tasks.values().map(|r| (*r.task).clone()));
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
pub fn state(m: &Master) -> response::GetState {
    response::GetState {
        get_tasks: Some(tasks(m)),
        get_executors: Some(executors(m)),
        get_frameworks: Some(frameworks(m)),
        get_agents: Some(agents(m)),
    }
}

/// GET_ROLES: every role a framework is subscribed with, its weight (1
/// until weights exist), its frameworks and what they are allocated.
pub fn roles(m: &Master) -> response::GetRoles {
    let mut roles: BTreeMap<String, (BTreeSet<String>, meseta_allocator::Resources)> =
        BTreeMap::new();
    for framework in m.frameworks().values() {
        let role = framework_role(&framework.info);
        let entry = roles.entry(role).or_default();
        entry.0.insert(framework.id.clone());
        entry.1.add(&m.used_resources(Some(&framework.id), None));
    }
    let roles = roles
        .into_iter()
        .map(|(name, (frameworks, allocated))| v1::Role {
            resources: allocated.to_mesos(&name),
            name,
            weight: 1.0,
            frameworks: frameworks
                .into_iter()
                .map(|value| v1::FrameworkId { value })
                .collect(),
        })
        .collect();
    response::GetRoles { roles }
}

/// GET_MASTER: this master's info and times.
pub fn master(m: &Master) -> response::GetMaster {
    response::GetMaster {
        master_info: Some(m.info().clone()),
        start_time: Some(m.start_time().as_secs_f64()),
        elected_time: Some(m.elected_time().as_secs_f64()),
    }
}
