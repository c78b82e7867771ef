//! Registry persistence and recovery, as the state machine sees them: the
//! operations it asks to persist, and a second master recovering from them.

use meseta_proto::registry::{operation::Kind, Operation};

use super::*;
use crate::registry::RegistryState;

/// The registry operations among `actions` (the shell writes them all
/// before it sends any other action of the same batch).
fn persisted(actions: &[Action]) -> Vec<Operation> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Persist(op) => Some(op.clone()),
            _ => None,
        })
        .collect()
}

fn register(h: &mut Harness, link: LinkId, register: cluster::Register) -> Vec<Action> {
    let message = AgentMessage {
        kind: Some(agent_message::Kind::Register(register)),
    };
    h.master.agent_message(h.now, link, message)
}

fn agent_info(hostname: &str, id: Option<&str>) -> v1::AgentInfo {
    v1::AgentInfo {
        hostname: hostname.into(),
        id: id.map(|value| v1::AgentId {
            value: value.into(),
        }),
        resources: meseta_proto::resources::parse_resources("cpus:2;mem:1024").unwrap(),
        ..Default::default()
    }
}

fn subscribe_call(info: v1::FrameworkInfo) -> Call {
    Call {
        r#type: Some(call::Type::Subscribe as i32),
        framework_id: info.id.clone(),
        subscribe: Some(call::Subscribe {
            framework_info: info,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn reconcile_call(task_id: &str, agent_id: &str) -> Call {
    Call {
        r#type: Some(call::Type::Reconcile as i32),
        reconcile: Some(call::Reconcile {
            tasks: vec![call::reconcile::Task {
                task_id: v1::TaskId {
                    value: task_id.into(),
                },
                agent_id: Some(v1::AgentId {
                    value: agent_id.into(),
                }),
            }],
        }),
        ..Default::default()
    }
}

#[test]
fn admissions_and_subscriptions_are_persisted_before_they_are_acknowledged() {
    let mut h = Harness::new();
    let actions = register(
        &mut h,
        1,
        cluster::Register {
            info: agent_info("a", None),
            ..Default::default()
        },
    );
    let ops = persisted(&actions);
    assert!(matches!(
        ops.as_slice(),
        [Operation {
            kind: Some(Kind::AdmitAgent(_))
        }]
    ));

    let mut info = framework_info("fw", true);
    info.failover_timeout = Some(3600.0);
    let subscribed = h.master.subscribe(h.now, subscribe_call(info), 10).unwrap();
    let ops = persisted(&subscribed.actions);
    assert!(matches!(
        ops.as_slice(),
        [Operation {
            kind: Some(Kind::SaveFramework(_))
        }]
    ));
}

/// A master with one agent running one task of a partition-aware
/// framework, and the registry it wrote.
fn first_master() -> (RegistryState, String, v1::FrameworkInfo, v1::Task) {
    let mut h = Harness::new();
    let mut registry = RegistryState::default();
    let actions = register(
        &mut h,
        1,
        cluster::Register {
            info: agent_info("a", None),
            ..Default::default()
        },
    );
    persisted(&actions).iter().for_each(|op| registry.apply(op));
    h.actions.extend(actions);
    let agent = h.master.agents().keys().next().unwrap().clone();
    let mut info = framework_info("fw", true);
    info.failover_timeout = Some(3600.0);
    let subscribed = h.master.subscribe(h.now, subscribe_call(info), 10).unwrap();
    persisted(&subscribed.actions)
        .iter()
        .for_each(|op| registry.apply(op));
    h.actions.extend(subscribed.actions);
    let fw = (
        subscribed.framework_id.clone(),
        subscribed.stream_id.clone(),
    );
    h.advance(Duration::from_secs(1));
    let offer = h.offers(10).remove(0);
    h.call(
        &fw,
        accept(&offer, vec![task("t", &agent, "cpus:1;mem:64")]),
    )
    .unwrap();
    h.status(1, &fw.0, "t", TaskState::TaskRunning);
    let framework = h.master.frameworks()[&fw.0].clone();
    let task = (*framework.tasks["t"].task).clone();
    (registry, agent, framework.info, task)
}

fn second_master(registry: RegistryState) -> Harness {
    let mut h = Harness::new();
    h.master.info.id = "M2".into();
    h.now += Duration::from_secs(30);
    h.master.recover(h.now, registry);
    h
}

#[test]
fn a_new_leader_takes_agents_and_frameworks_back_from_the_registry() {
    let (registry, agent, info, task) = first_master();
    let mut h = second_master(registry);
    assert!(
        h.master.agents().is_empty(),
        "agents must re-register first"
    );

    // The framework is back first; while its agent may still come back,
    // reconciliation says nothing about the task.
    let subscribed = h
        .master
        .subscribe(h.now, subscribe_call(info.clone()), 20)
        .unwrap();
    h.actions.extend(subscribed.actions);
    let fw = (subscribed.framework_id, subscribed.stream_id);
    assert_eq!(fw.0, info.id.as_ref().unwrap().value);
    h.events(20);
    h.call(&fw, reconcile_call("t", &agent)).unwrap();
    assert!(h.updates(20).is_empty());

    // The agent re-registers with its task: nothing new to persist.
    let actions = register(
        &mut h,
        2,
        cluster::Register {
            info: agent_info("a", Some(&agent)),
            tasks: vec![task],
            frameworks: vec![info],
            ..Default::default()
        },
    );
    assert!(persisted(&actions).is_empty(), "{actions:?}");
    h.call(&fw, reconcile_call("t", &agent)).unwrap();
    let updates = h.updates(20);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, TaskState::TaskRunning as i32);
    // It is no longer waited for.
    assert!(h.master.recovered_agents().is_empty());
    assert!(h.master.agents()[&agent].active);
}

#[test]
fn an_agent_that_never_re_registers_is_unreachable_after_the_timeout() {
    let (registry, agent, info, _) = first_master();
    let mut h = second_master(registry);
    let subscribed = h.master.subscribe(h.now, subscribe_call(info), 20).unwrap();
    h.actions.extend(subscribed.actions);
    let fw = (subscribed.framework_id, subscribed.stream_id);
    h.events(20);

    h.advance(Duration::from_secs(599));
    assert!(h.master.unreachable_agents().is_empty());
    h.actions.clear();
    h.advance(Duration::from_secs(2));
    let ops = persisted(&h.actions);
    assert!(
        matches!(ops.as_slice(), [Operation { kind: Some(Kind::MarkUnreachable(u)) }] if u.info.id.as_ref().unwrap().value == agent),
        "{ops:?}"
    );
    let failures: Vec<Event> = h
        .events(20)
        .into_iter()
        .filter(|e| e.failure.is_some())
        .collect();
    assert_eq!(failures.len(), 1, "frameworks hear that the agent is lost");
    h.call(&fw, reconcile_call("t", &agent)).unwrap();
    assert_eq!(h.updates(20)[0].state, TaskState::TaskUnreachable as i32);
}

#[test]
fn a_framework_that_never_re_subscribes_is_removed_and_unpersisted() {
    let (mut registry, _, _, _) = first_master();
    let id = registry.frameworks.keys().next().unwrap().clone();
    if let Some(info) = registry.frameworks.get_mut(&id) {
        info.failover_timeout = Some(700.0);
    }
    let mut h = second_master(registry);
    h.advance(Duration::from_secs(650));
    assert!(h.master.frameworks().contains_key(&id));
    h.actions.clear();
    h.advance(Duration::from_secs(60));
    assert!(!h.master.frameworks().contains_key(&id));
    let ops = persisted(&h.actions);
    assert!(ops
        .iter()
        .any(|op| matches!(&op.kind, Some(Kind::RemoveFramework(f)) if f.value == id)));
}

#[test]
fn a_gone_agent_is_refused_and_a_replaced_agent_takes_its_tasks_with_it() {
    let (registry, agent, info, task) = first_master();
    let mut h = second_master(registry);
    let subscribed = h
        .master
        .subscribe(h.now, subscribe_call(info.clone()), 20)
        .unwrap();
    h.actions.extend(subscribed.actions);
    h.events(20);
    register(
        &mut h,
        2,
        cluster::Register {
            info: agent_info("a", Some(&agent)),
            tasks: vec![task],
            frameworks: vec![info],
            ..Default::default()
        },
    );

    // The agent restarts with other resources: a new ID, naming the old one.
    let actions = register(
        &mut h,
        3,
        cluster::Register {
            info: agent_info("a", None),
            previous_agent_id: Some(v1::AgentId {
                value: agent.clone(),
            }),
            ..Default::default()
        },
    );
    let ops = persisted(&actions);
    assert!(ops
        .iter()
        .any(|op| matches!(&op.kind, Some(Kind::MarkGone(g)) if g.id.value == agent)));
    assert!(ops
        .iter()
        .any(|op| matches!(&op.kind, Some(Kind::AdmitAgent(_)))));
    h.actions.extend(actions);
    let updates = h.updates(20);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, TaskState::TaskGone as i32);

    // The old ID may not come back.
    let actions = register(
        &mut h,
        4,
        cluster::Register {
            info: agent_info("a", Some(&agent)),
            ..Default::default()
        },
    );
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::ToAgent {
            link: 4,
            message: MasterMessage {
                kind: Some(master_message::Kind::Refused(_))
            }
        }
    )));
    assert!(actions.contains(&Action::CloseAgent { link: 4 }));
}

#[test]
fn a_started_task_missing_from_a_re_registering_agent_is_gone() {
    let mut h = Harness::new();
    let agent = h.add_agent(1, "cpus:2;mem:1024");
    let fw = h.subscribe(10, framework_info("fw", true));
    h.advance(Duration::from_secs(1));
    let offer = h.offers(10).remove(0);
    h.call(
        &fw,
        accept(
            &offer,
            vec![
                task("started", &agent, "cpus:0.5;mem:64"),
                task("in-flight", &agent, "cpus:0.5;mem:64"),
            ],
        ),
    )
    .unwrap();
    h.status(1, &fw.0, "started", TaskState::TaskRunning);
    h.events(10);

    // The agent restarted without recovering its tasks (the framework does
    // not checkpoint) and comes back with the same ID and nothing running.
    let mut info = agent_info("host1", Some(&agent));
    info.resources = meseta_proto::resources::parse_resources("cpus:2;mem:1024").unwrap();
    let actions = register(
        &mut h,
        2,
        cluster::Register {
            info,
            ..Default::default()
        },
    );
    h.actions.extend(actions);
    let mut updates: Vec<(String, i32)> = h
        .updates(10)
        .into_iter()
        .map(|s| (s.task_id.value, s.state))
        .collect();
    updates.sort();
    assert_eq!(
        updates,
        vec![
            ("in-flight".to_string(), TaskState::TaskDropped as i32),
            ("started".to_string(), TaskState::TaskGone as i32),
        ]
    );
}

/// A task that ended on its agent while the masters changed is still
/// reported by the agent (its terminal update is not acknowledged yet): the
/// new leader must know it, in its terminal state, holding nothing, until
/// the framework acknowledges the update the agent sends again.
#[test]
fn a_task_that_ended_during_the_failover_is_known_until_acknowledged() {
    let (registry, agent, info, mut task) = first_master();
    let mut h = second_master(registry);
    let subscribed = h
        .master
        .subscribe(h.now, subscribe_call(info.clone()), 20)
        .unwrap();
    h.actions.extend(subscribed.actions);
    let fw = (subscribed.framework_id, subscribed.stream_id);
    h.events(20);

    let uuid = uuid::Uuid::from_u128(77).as_bytes().to_vec();
    task.state = TaskState::TaskFinished as i32;
    task.status_update_state = Some(TaskState::TaskFinished as i32);
    task.status_update_uuid = Some(uuid.clone());
    register(
        &mut h,
        2,
        cluster::Register {
            info: agent_info("a", Some(&agent)),
            tasks: vec![task],
            frameworks: vec![info],
            ..Default::default()
        },
    );
    assert_eq!(h.master.used_resources(None, None).scalar("cpus"), 0.0);
    h.call(&fw, reconcile_call("t", &agent)).unwrap();
    let updates = h.updates(20);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, TaskState::TaskFinished as i32);

    // The agent's retry of the update, then the framework's acknowledgement.
    let update = cluster::StatusUpdate {
        framework_id: v1::FrameworkId {
            value: fw.0.clone(),
        },
        status: v1::TaskStatus {
            task_id: v1::TaskId { value: "t".into() },
            state: TaskState::TaskFinished as i32,
            uuid: Some(uuid.clone()),
            ..Default::default()
        },
        latest_state: Some(TaskState::TaskFinished as i32),
    };
    let actions = h.master.agent_message(
        h.now,
        2,
        AgentMessage {
            kind: Some(agent_message::Kind::StatusUpdate(update)),
        },
    );
    h.actions.extend(actions);
    assert_eq!(h.updates(20)[0].state, TaskState::TaskFinished as i32);
    let ack = Call {
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent.clone(),
            },
            task_id: v1::TaskId { value: "t".into() },
            uuid,
        }),
        ..Default::default()
    };
    h.call(&fw, ack).unwrap();
    let framework = &h.master.frameworks()[&fw.0];
    assert!(framework.tasks.is_empty());
    assert_eq!(framework.completed_tasks.len(), 1);
    assert_eq!(h.master.used_resources(None, None).scalar("cpus"), 0.0);
}
