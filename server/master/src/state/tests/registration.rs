//! An agent whose `Registered` was lost with its stream registers again
//! without an ID: it must not leave a ghost agent behind.

use super::*;

/// Registers, without an ID, the agent at `address` on stream `link`;
/// returns the ID the master gave.
fn register(h: &mut Harness, link: LinkId, address: &str) -> String {
    let register = cluster::Register {
        http_address: Some(address.into()),
        ..mock::agent().with_resources("cpus:2;mem:1024").build()
    };
    let message = AgentMessage {
        kind: Some(agent_message::Kind::Register(register)),
    };
    let actions = h.master.agent_message(h.now, link, message);
    h.actions.extend(actions);
    h.agent_messages(link)
        .into_iter()
        .find_map(|m| match m {
            master_message::Kind::Registered(r) => Some(r.agent_id.value),
            _ => None,
        })
        .expect("registered")
}

#[test]
fn an_agent_that_lost_its_registered_reply_keeps_its_id_and_what_it_never_got_is_dropped() {
    let mut h = Harness::new();
    let agent = register(&mut h, 1, "10.0.0.1:5051");
    let fw = h.subscribe(10, framework_info("fw", true));
    h.advance(Duration::from_secs(1));
    let offers = h.offers(10);
    h.call(
        &fw,
        accept(&offers[0], vec![task("t1", &agent, "cpus:1;mem:128")]),
    )
    .expect("launch");
    // The stream broke: neither Registered nor RunTasks reached the agent.
    h.actions.clear();
    let actions = h.master.agent_disconnected(h.now, 1);
    h.actions.extend(actions);

    // Same agent process (same address and host), no ID: it is the agent
    // the master knows, and the task it never got is dropped.
    let again = register(&mut h, 2, "10.0.0.1:5051");
    assert_eq!(again, agent);
    assert_eq!(h.master.agents().len(), 1);
    assert_eq!(h.master.agents()[&agent].link, Some(2));
    let updates = h.updates(10);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].task_id.value, "t1");
    assert_eq!(updates[0].state, TaskState::TaskDropped as i32);

    // Another address is another agent.
    let other = register(&mut h, 3, "10.0.0.2:5051");
    assert_ne!(other, agent);
    assert_eq!(h.master.agents().len(), 2);
}

/// After a failover, an agent admitted by the previous master whose
/// `Registered` was lost registers without an ID: it takes back the ID
/// the registry holds for its host and port.
#[test]
fn an_agent_admitted_before_a_failover_that_never_learned_its_id_takes_it_back() {
    let mut h = Harness::new();
    let mut registry = crate::registry::RegistryState::default();
    let admitted = v1::AgentInfo {
        id: Some(v1::AgentId { value: "A1".into() }),
        hostname: "agent".into(),
        port: Some(5051),
        ..Default::default()
    };
    registry.apply(&crate::registry::ops::admit_agent(&admitted));
    h.master.recover(h.now, registry);

    let register = |port: i32| cluster::Register {
        info: v1::AgentInfo {
            port: Some(port),
            ..mock::agent().build().info
        },
        http_address: Some(format!("10.0.0.1:{port}")),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for (link, port) in [(1, 5051), (2, 5052)] {
        let message = AgentMessage {
            kind: Some(agent_message::Kind::Register(register(port))),
        };
        let actions = h.master.agent_message(h.now, link, message);
        h.actions.extend(actions);
        ids.extend(h.agent_messages(link).into_iter().filter_map(|m| match m {
            master_message::Kind::Registered(r) => Some(r.agent_id.value),
            _ => None,
        }));
    }
    assert_eq!(ids[0], "A1");
    assert_ne!(ids[1], "A1");
    assert!(h.master.recovered_agents().is_empty());
}
