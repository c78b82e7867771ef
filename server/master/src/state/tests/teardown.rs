//! TEARDOWN: the framework is removed for good; its offers are rescinded,
//! its agents told to shut it down, and its resources offered to others.

use meseta_proto::registry::operation::Kind;

use super::*;

fn shutdown_framework(framework_id: &str) -> master_message::Kind {
    master_message::Kind::ShutdownFramework(cluster::ShutdownFramework {
        framework_id: v1::FrameworkId {
            value: framework_id.into(),
        },
    })
}

/// Two agents; the framework (stream 10) runs `t1` on the first and holds
/// an offer of the second. Returns the harness, the framework, both agents
/// and the held offer's ID.
fn busy_framework() -> (Harness, (String, String), String, String, String) {
    let mut h = Harness::new();
    let a1 = h.register(1, mock::agent());
    let a2 = h.register(2, mock::agent());
    let fw = h.subscribe(10, mock::framework().build());
    let offers = h.cycle(10);
    assert_eq!(offers.len(), 2, "{offers:?}");
    let (on_a1, on_a2): (Vec<v1::Offer>, Vec<v1::Offer>) =
        offers.into_iter().partition(|o| o.agent_id.value == a1);
    h.launch(&fw, &on_a1[0], vec![mock::task("t1").on(&a1).build()]);
    h.status(1, &fw.0, "t1", TaskState::TaskRunning);
    h.actions.clear();
    let held = on_a2[0].id.value.clone();
    (h, fw, a1, a2, held)
}

#[test]
fn teardown_rescinds_offers_shuts_the_framework_down_and_closes_its_stream() {
    let (mut h, fw, _, _, held) = busy_framework();
    h.call(&fw, mock::bare(call::Type::Teardown)).unwrap();
    let actions = std::mem::take(&mut h.actions);
    let rescind = |a: &Action| {
        matches!(a, Action::ToFramework { conn: 10, event }
            if event.rescind.as_ref().is_some_and(|r| r.offer_id.value == held))
    };
    let removal = |a: &Action| {
        matches!(a, Action::Persist(op)
            if matches!(&op.kind, Some(Kind::RemoveFramework(f)) if f.value == fw.0))
    };
    assert!(
        matches!(
            actions.as_slice(),
            [first, second, Action::CloseFramework { conn: 10 }, Action::ToAgent { link: 1, .. }]
                if rescind(first) && removal(second)
        ),
        "{actions:?}"
    );
    assert_eq!(mock::to_agent(&actions, 1), vec![shutdown_framework(&fw.0)]);
    assert!(
        mock::to_agent(&actions, 2).is_empty(),
        "nothing of it runs there"
    );

    // Its stream is gone; it may not come back.
    let refused = h.call(&fw, mock::bare(call::Type::Revive));
    assert!(
        matches!(refused, Err(CallError::Forbidden(_))),
        "{refused:?}"
    );
    let mut info = mock::framework().build();
    info.id = Some(v1::FrameworkId {
        value: fw.0.clone(),
    });
    let again = h.master.subscribe(h.now, mock::subscribe(info), 11);
    assert!(matches!(again, Err(CallError::Forbidden(_))), "{again:?}");
}

#[test]
fn after_teardown_its_resources_are_offered_to_others() {
    let (mut h, fw, a1, _, _) = busy_framework();
    h.call(&fw, mock::bare(call::Type::Teardown)).unwrap();
    h.actions.clear();
    // The agent reports the kill; the framework is gone, nobody hears of it.
    h.status(1, &fw.0, "t1", TaskState::TaskKilled);
    assert!(h.actions.is_empty(), "{:?}", h.actions);

    h.subscribe(11, mock::framework().named("next").build());
    let offers = h.cycle(11);
    assert_eq!(offers.len(), 2, "{offers:?}");
    for offer in &offers {
        assert_eq!(mock::scalar(offer, "cpus"), 4.0, "{offer:?}");
        assert_eq!(mock::scalar(offer, "mem"), 4096.0, "{offer:?}");
    }
    // Operators see it among the completed frameworks, its task killed.
    let done = h.master.completed_frameworks().back().unwrap();
    assert_eq!(done.id, fw.0);
    let killed: Vec<_> = done
        .completed_tasks
        .iter()
        .map(|t| (t.task_id.value.as_str(), t.state, t.agent_id.value.as_str()))
        .collect();
    assert_eq!(
        killed,
        vec![("t1", TaskState::TaskKilled as i32, a1.as_str())]
    );
}

#[test]
fn teardown_reaches_agents_that_only_run_its_executors() {
    let mut h = Harness::new();
    let agent = h.register(1, mock::agent());
    let fw = h.subscribe(10, mock::framework().build());
    let offer = h.cycle(10).remove(0);
    let e1 = mock::executor("e1").build();
    h.launch(
        &fw,
        &offer,
        vec![mock::task("t1").on(&agent).with_executor(e1).build()],
    );
    // The task ends and is acknowledged; its executor stays.
    let uuid = h.status(1, &fw.0, "t1", TaskState::TaskFinished);
    let ack = Call {
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent.clone(),
            },
            task_id: v1::TaskId { value: "t1".into() },
            uuid,
        }),
        ..Default::default()
    };
    h.call(&fw, ack).unwrap();
    h.actions.clear();

    h.call(&fw, mock::bare(call::Type::Teardown)).unwrap();
    assert_eq!(h.agent_messages(1), vec![shutdown_framework(&fw.0)]);
}
