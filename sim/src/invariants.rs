//! The properties every run must keep.
//!
//! After every step:
//! * no resource is allocated twice: on each agent the master knows, what
//!   its tasks use plus what is offered fits in the agent;
//! * offers are only of free resources: what an agent's tasks really use
//!   (the simulator knows) plus what the master offers of that agent fits
//!   in it (tasks the master already told the agent to kill are left out:
//!   a kill in flight is a race Mesos has too);
//! * no TaskID runs twice, and a framework sees a task's updates from its
//!   agent in the order the agent accepted them (checked where they
//!   happen, in the agent and framework nodes).
//!
//! At the end of a run, once faults stopped and the cluster settled:
//! * every task each framework launched ended, and it learned how;
//! * every update an agent accepted was delivered to the framework and
//!   acknowledged (nothing an agent promised to deliver is lost);
//! * the registry, the master and the agents agree on which agents exist,
//!   and the master holds no task the agents no longer run.

use std::collections::BTreeSet;

use meseta_allocator::Resources;
use meseta_proto::v1::TaskState;

use crate::world::World;

/// The first broken step invariant, if any.
pub fn found(world: &mut World) -> Option<String> {
    let master = world.master.master()?;
    let mut ids: Vec<&String> = master.agents().keys().collect();
    ids.sort();
    for id in ids {
        let agent = &master.agents()[id];
        let mut held = master.used_on_agent(id);
        held.add(&master.offered_on_agent(id));
        if !agent.total.contains(&held) {
            return Some(format!(
                "agent {id}: the master allocates {held:?} of {:?}",
                agent.total
            ));
        }
    }
    for (index, node) in world.agents.iter().enumerate() {
        let Some(id) = node.disk.agent_id.as_ref().map(|id| id.value.clone()) else {
            continue;
        };
        if !master.agents().contains_key(&id) {
            continue;
        }
        let mut used = Resources::default();
        for ((framework_id, task_id), task) in &node.disk.tasks {
            let doomed = world.truth.shut_down.contains(framework_id)
                || world
                    .truth
                    .doomed
                    .contains(&(framework_id.clone(), task_id.clone()));
            if !task.state.is_terminal() && !doomed {
                used.add(&Resources::from_mesos(&task.info.resources));
            }
        }
        used.add(&master.offered_on_agent(&id));
        if !world.totals[index].contains(&used) {
            return Some(format!(
                "agent {index} ({id}): its running tasks and the master's offers of it need {used:?}, it has {:?}",
                world.totals[index]
            ));
        }
    }
    None
}

/// The end-of-run checks; violations go into the world's truth.
pub fn at_end(world: &mut World) {
    let mut found = Vec::new();
    let master = world.master.master();
    for (index, framework) in world.frameworks.iter().enumerate() {
        if !framework.done() {
            let open: Vec<String> = framework
                .disk
                .launched
                .iter()
                .filter(|(t, _)| {
                    !framework
                        .disk
                        .last_state(t)
                        .is_some_and(TaskState::is_terminal)
                })
                .map(|(t, agent)| {
                    let record = framework
                        .id()
                        .and_then(|id| master?.frameworks().get(id)?.tasks.get(t));
                    let (state, on) = record.map_or(("unknown", "?"), |r| {
                        (r.state().as_str_name(), r.task.agent_id.value.as_str())
                    });
                    format!(
                        "{t} on {} (it saw {:?}; the master says {state} on {on})",
                        agent.value,
                        framework.disk.last_state(t)
                    )
                })
                .take(8)
                .collect();
            found.push(format!(
                "framework {index} did not learn how these tasks ended ({} launched): {}",
                framework.disk.launched.len(),
                open.join(", ")
            ));
        }
    }
    for ((framework_id, task_id), accepted) in &world.truth.accepted {
        if world.truth.shut_down.contains(framework_id) {
            continue;
        }
        let start = world
            .truth
            .starts
            .get(&(framework_id.clone(), task_id.clone()));
        if start.is_some_and(|s| world.truth.refused.contains(&s.agent)) {
            continue;
        }
        let framework = world
            .frameworks
            .iter()
            .find(|f| f.id() == Some(framework_id.as_str()));
        let seen: BTreeSet<&[u8]> = framework
            .and_then(|f| f.disk.seen.get(task_id))
            .into_iter()
            .flatten()
            .filter_map(|s| s.uuid.as_deref())
            .collect();
        for (uuid, state) in accepted {
            if !seen.contains(uuid.as_slice()) {
                found.push(format!(
                    "the {} update of task {task_id} (framework {framework_id}) never reached its framework",
                    state.as_str_name()
                ));
            } else if !world.truth.acknowledged.contains(uuid) {
                found.push(format!(
                    "the {} update of task {task_id} was never acknowledged to its agent",
                    state.as_str_name()
                ));
            }
        }
    }
    if let Some(master) = world.master.master() {
        let registered: BTreeSet<String> = master.agents().keys().cloned().collect();
        let registry: BTreeSet<String> = world.master.registry.agents.keys().cloned().collect();
        let agents: BTreeSet<String> = world
            .agents
            .iter()
            .filter_map(|a| a.disk.agent_id.as_ref().map(|id| id.value.clone()))
            .collect();
        if registered != agents || registry != agents {
            found.push(format!(
                "agents disagree: the master has {registered:?}, the registry {registry:?}, the agents say {agents:?}"
            ));
        }
        for (id, agent) in master.agents() {
            if !agent.tasks.is_empty() {
                let tasks: Vec<&String> = agent.tasks.iter().map(|(_, t)| t).take(8).collect();
                found.push(format!(
                    "the master still holds tasks on agent {id} that ended: {tasks:?}"
                ));
            }
        }
    } else {
        found.push("no master leads at the end".into());
    }
    world.truth.violations.extend(found);
}
