//! MESSAGE: from a framework to an executor through its agent, and back
//! from an executor to its framework.

use super::*;

fn framework_message(framework_id: &str, executor_id: &str, data: &[u8]) -> master_message::Kind {
    master_message::Kind::FrameworkMessage(cluster::FrameworkMessage {
        framework_id: v1::FrameworkId {
            value: framework_id.into(),
        },
        executor_id: v1::ExecutorId {
            value: executor_id.into(),
        },
        data: data.to_vec(),
    })
}

#[test]
fn a_message_goes_to_the_named_agent() {
    let e1 = mock::executor("e1").build();
    let (mut h, fw, agent) =
        mock::running_tasks(mock::framework(), vec![mock::task("t1").with_executor(e1)]);
    let other = h.register(2, mock::agent());
    h.call(&fw, mock::message(&agent, "e1", b"hello")).unwrap();
    assert_eq!(
        h.agent_messages(1),
        vec![framework_message(&fw.0, "e1", b"hello")]
    );
    assert!(
        h.agent_messages(2).is_empty(),
        "only to {agent}, not {other}"
    );
    assert!(h.events(10).is_empty());
}

#[test]
fn a_message_for_an_executor_the_master_does_not_know_is_still_forwarded() {
    // The agent knows its executors; it drops what it cannot deliver.
    let (mut h, fw, agent) = mock::running(mock::framework());
    h.call(&fw, mock::message(&agent, "e9", b"")).unwrap();
    assert_eq!(
        h.agent_messages(1),
        vec![framework_message(&fw.0, "e9", b"")]
    );
}

#[test]
fn a_message_for_an_agent_that_is_not_registered_is_refused() {
    let (mut h, fw, agent) = mock::running(mock::framework());
    let refused = h.call(&fw, mock::message("nowhere", "e1", b"x"));
    assert_eq!(
        refused,
        Err(CallError::BadRequest(
            "Agent nowhere is not registered".into()
        ))
    );

    // An unreachable agent is not registered either.
    h.master.agent_disconnected(h.now, 1);
    h.advance(Duration::from_secs(15 * 5 + 1));
    h.actions.clear();
    let refused = h.call(&fw, mock::message(&agent, "e1", b"x"));
    assert!(
        matches!(refused, Err(CallError::BadRequest(_))),
        "{refused:?}"
    );
    assert!(h.actions.is_empty());
}

#[test]
fn a_message_for_a_disconnected_agent_is_dropped() {
    let (mut h, fw, agent) = mock::running(mock::framework());
    h.master.agent_disconnected(h.now, 1);
    h.call(&fw, mock::message(&agent, "e1", b"x")).unwrap();
    assert!(h.actions.is_empty(), "{:?}", h.actions);
}

#[test]
fn a_message_without_its_body_is_a_bad_request() {
    let (mut h, fw, _) = mock::running(mock::framework());
    assert!(matches!(
        h.call(&fw, mock::bare(call::Type::Message)),
        Err(CallError::BadRequest(_))
    ));
}

#[test]
fn an_executor_message_reaches_its_framework() {
    let (mut h, fw, agent) = mock::running(mock::framework());
    let from = |framework_id: &str| AgentMessage {
        kind: Some(agent_message::Kind::ExecutorMessage(
            cluster::ExecutorMessage {
                framework_id: v1::FrameworkId {
                    value: framework_id.into(),
                },
                executor_id: v1::ExecutorId { value: "e1".into() },
                data: b"hi".to_vec(),
            },
        )),
    };
    let actions = h.master.agent_message(h.now, 1, from(&fw.0));
    h.actions.extend(actions);
    let events = h.events(10);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].r#type, Some(event::Type::Message as i32));
    let message = events[0].message.as_ref().unwrap();
    assert_eq!(message.agent_id.value, agent);
    assert_eq!(message.executor_id.value, "e1");
    assert_eq!(message.data, b"hi");

    // For a framework the master does not know: dropped.
    assert!(h.master.agent_message(h.now, 1, from("other")).is_empty());
}

#[test]
fn calls_are_counted_in_the_metrics_mesos_counts_them_in() {
    let (mut h, fw, agent) = mock::running(mock::framework());
    let counted = |h: &Harness, name: &str| h.master.counters().messages.get(name).copied();
    // The setup: one SUBSCRIBE, one agent registration, one ACCEPT with a
    // LAUNCH, one status update.
    assert_eq!(counted(&h, "messages_register_framework"), Some(1));
    assert_eq!(counted(&h, "messages_register_slave"), Some(1));
    assert_eq!(counted(&h, "messages_launch_tasks"), Some(1));
    assert_eq!(counted(&h, "messages_status_update"), Some(1));
    assert_eq!(counted(&h, "messages_kill_task"), None);

    h.call(&fw, mock::kill("t1", Some(&agent))).unwrap();
    h.call(&fw, mock::kill("t1", Some(&agent))).unwrap();
    h.call(&fw, mock::reconcile(&[])).unwrap();
    h.call(&fw, mock::bare(call::Type::Revive)).unwrap();
    let offers = h.cycle(10);
    // An ACCEPT that launches nothing is a decline, as in Mesos.
    h.call(
        &fw,
        mock::accept_one(&offers[0], vec![mock::launch(vec![])]),
    )
    .ok();
    h.call(&fw, mock::bare(call::Type::Suppress)).unwrap();
    assert_eq!(counted(&h, "messages_kill_task"), Some(2));
    assert_eq!(counted(&h, "messages_reconcile_tasks"), Some(1));
    assert_eq!(counted(&h, "messages_revive_offers"), Some(1));
    assert_eq!(counted(&h, "messages_suppress_offers"), Some(1));
    assert_eq!(counted(&h, "messages_launch_tasks"), Some(1));
    assert_eq!(counted(&h, "messages_decline_offers"), Some(1));

    h.call(&fw, mock::bare(call::Type::Teardown)).unwrap();
    assert_eq!(counted(&h, "messages_unregister_framework"), Some(1));
}
