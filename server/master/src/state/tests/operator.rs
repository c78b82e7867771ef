//! The operator API's calls that change the cluster, and the events of
//! its SUBSCRIBE stream: produced where the change happens, only while
//! operators watch.

use meseta_proto::master::{self as operator, event};

use super::*;

/// The operator events among the pending actions, taken out.
fn operator_events(h: &mut Harness) -> Vec<operator::Event> {
    let mut out = Vec::new();
    h.actions.retain(|a| match a {
        Action::ToOperators(event) => {
            out.push((**event).clone());
            false
        }
        _ => true,
    });
    out
}

fn kinds(events: &[operator::Event]) -> Vec<event::Type> {
    events
        .iter()
        .map(|e| {
            e.r#type
                .and_then(|t| event::Type::try_from(t).ok())
                .unwrap_or_default()
        })
        .collect()
}

fn operator_call(kind: operator::call::Type, agent_or_framework: &str) -> operator::Call {
    use operator::call;
    let agent_id = v1::AgentId {
        value: agent_or_framework.into(),
    };
    let mut call = operator::Call {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    match kind {
        call::Type::Teardown => {
            call.teardown = Some(call::Teardown {
                framework_id: v1::FrameworkId {
                    value: agent_or_framework.into(),
                },
            })
        }
        call::Type::DeactivateAgent => {
            call.deactivate_agent = Some(call::DeactivateAgent { agent_id })
        }
        call::Type::ReactivateAgent => {
            call.reactivate_agent = Some(call::ReactivateAgent { agent_id })
        }
        call::Type::MarkAgentGone => call.mark_agent_gone = Some(call::MarkAgentGone { agent_id }),
        _ => {}
    }
    call
}

#[test]
fn nothing_is_built_for_operators_while_nobody_watches() {
    let (mut h, fw, _) = mock::running(mock::framework());
    h.status(1, &fw.0, "t1", TaskState::TaskFinished);
    h.call(&fw, mock::bare(call::Type::Teardown)).unwrap();
    assert!(operator_events(&mut h).is_empty());
}

#[test]
fn watched_changes_become_events_in_the_order_they_happen() {
    let mut h = Harness::new();
    h.master.set_observed(true);
    let message = AgentMessage {
        kind: Some(agent_message::Kind::Register(mock::agent().build())),
    };
    let actions = h.master.agent_message(h.now, 1, message);
    h.actions.extend(actions);
    let agent_added = operator_events(&mut h);
    assert_eq!(kinds(&agent_added), [event::Type::AgentAdded]);
    let agent = agent_added[0].agent_added.as_ref().unwrap().agent.clone();
    let agent_id = agent.agent_info.id.clone().unwrap().value;
    assert!(agent.active);

    let fw = h.subscribe(10, mock::framework().build());
    let offer = h.cycle(10).remove(0);
    h.launch(&fw, &offer, vec![mock::task("t1").on(&agent_id).build()]);
    h.status(1, &fw.0, "t1", TaskState::TaskRunning);
    h.call(&fw, mock::bare(call::Type::Teardown)).unwrap();
    let events = operator_events(&mut h);
    assert_eq!(
        kinds(&events),
        [
            event::Type::FrameworkAdded,
            event::Type::TaskAdded,
            event::Type::TaskUpdated,
            event::Type::FrameworkRemoved,
        ]
    );
    let added = events[1].task_added.as_ref().unwrap();
    assert_eq!(added.task.task_id.value, "t1");
    let updated = events[2].task_updated.as_ref().unwrap();
    assert_eq!(updated.state, TaskState::TaskRunning as i32);
    assert_eq!(updated.framework_id.value, fw.0);

    // An agent that goes silent is removed.
    h.master.agent_disconnected(h.now, 1);
    h.advance(Duration::from_secs(15 * 5 + 1));
    let removed = operator_events(&mut h);
    assert_eq!(kinds(&removed), [event::Type::AgentRemoved]);
}

#[test]
fn deactivation_stops_offers_until_reactivation_and_unknown_ids_change_nothing() {
    use operator::call::Type;
    let (mut h, fw, agent) = mock::running(mock::framework());
    let before = h.master.agents()[&agent].clone();
    for (kind, id) in [
        (Type::DeactivateAgent, "nowhere"),
        (Type::ReactivateAgent, "nowhere"),
        (Type::MarkAgentGone, "nowhere"),
        (Type::Teardown, "nobody"),
        (Type::Unknown, ""),
    ] {
        let refused = h.master.operator_call(h.now, operator_call(kind, id));
        assert!(
            matches!(refused, Err(CallError::BadRequest(_))),
            "{kind:?}: {refused:?}"
        );
    }
    assert_eq!(h.master.agents()[&agent].active, before.active);
    assert!(h.master.frameworks().contains_key(&fw.0));

    let actions = h
        .master
        .operator_call(h.now, operator_call(Type::DeactivateAgent, &agent))
        .unwrap();
    h.actions.extend(actions);
    assert!(h.master.agents()[&agent].deactivated);
    assert!(h.cycle(10).is_empty(), "a deactivated agent is not offered");
    let actions = h
        .master
        .operator_call(h.now, operator_call(Type::ReactivateAgent, &agent))
        .unwrap();
    h.actions.extend(actions);
    assert!(h.master.agents()[&agent].active);
    h.advance(Duration::from_secs(10));
    assert_eq!(h.offers(10).len(), 1, "offered again");
}

#[test]
fn a_drained_agent_is_emptied_then_drained_and_gone_when_asked() {
    use operator::call;
    let (mut h, fw, agent) = mock::running_tasks(
        mock::framework().partition_aware(),
        vec![mock::task("t1"), mock::task("t2")],
    );
    let drain = |mark_gone: bool| operator::Call {
        r#type: Some(call::Type::DrainAgent as i32),
        drain_agent: Some(call::DrainAgent {
            agent_id: v1::AgentId {
                value: agent.clone(),
            },
            max_grace_period: Some(meseta_proto::prost_types::Duration {
                seconds: 2,
                nanos: 0,
            }),
            mark_gone: Some(mark_gone),
        }),
        ..Default::default()
    };
    let actions = h.master.operator_call(h.now, drain(true)).unwrap();
    let kills: Vec<_> = mock::to_agent(&actions, 1)
        .into_iter()
        .filter_map(|m| match m {
            master_message::Kind::KillTask(k) => Some(k),
            _ => None,
        })
        .collect();
    assert_eq!(kills.len(), 2, "{actions:?}");
    let grace = kills[0].kill_policy.and_then(|p| p.grace_period);
    assert_eq!(grace.map(|g| g.nanoseconds), Some(2_000_000_000));
    let draining = |h: &Harness| h.master.agents().get(&agent).and_then(|a| a.drain);
    assert_eq!(
        draining(&h).map(|d| d.state),
        Some(v1::DrainState::Draining as i32)
    );
    assert!(h.cycle(10).is_empty(), "a draining agent is not offered");

    h.status(1, &fw.0, "t1", TaskState::TaskKilled);
    assert!(h.master.agents().contains_key(&agent), "t2 still runs");
    h.status(1, &fw.0, "t2", TaskState::TaskKilled);
    assert!(
        h.master.gone_agents().contains_key(&agent),
        "drained with mark_gone: the agent is gone"
    );
}

#[test]
fn an_agent_marked_gone_by_an_operator_reports_its_tasks_gone_by_operator() {
    use v1::task_status::Reason;
    for (framework, expected) in [
        (
            mock::framework().partition_aware(),
            TaskState::TaskGoneByOperator,
        ),
        (mock::framework(), TaskState::TaskLost),
    ] {
        let (mut h, _fw, agent) = mock::running(framework);
        let actions = h
            .master
            .operator_call(
                h.now,
                operator_call(operator::call::Type::MarkAgentGone, &agent),
            )
            .unwrap();
        h.actions.extend(actions);
        let updates = h.updates(10);
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert_eq!(updates[0].state, expected as i32);
        assert_eq!(
            updates[0].reason,
            Some(Reason::AgentRemovedByOperator as i32)
        );
        assert!(h.master.gone_agents().contains_key(&agent));
    }
}
