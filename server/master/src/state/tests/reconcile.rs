//! RECONCILE: what a framework is told of the tasks it names (explicit), or
//! of all its tasks (implicit). Every answer comes from the master (source
//! MASTER, reason RECONCILIATION, no uuid: nothing to acknowledge).

use v1::task_status::{Reason, Source};

use super::*;

/// (task ID, state) of each status, in order.
fn states(statuses: &[v1::TaskStatus]) -> Vec<(String, TaskState)> {
    statuses
        .iter()
        .map(|s| {
            let state = TaskState::try_from(s.state).expect("a known state");
            (s.task_id.value.clone(), state)
        })
        .collect()
}

fn assert_from_the_master(h: &Harness, statuses: &[v1::TaskStatus]) {
    for status in statuses {
        assert_eq!(status.source, Some(Source::Master as i32), "{status:?}");
        assert_eq!(status.reason, Some(Reason::Reconciliation as i32));
        assert_eq!(status.uuid, None, "nothing to acknowledge");
        assert_eq!(status.timestamp, Some(h.now.as_secs_f64()));
    }
}

#[test]
fn a_known_task_is_reported_in_its_latest_state() {
    let (mut h, fw, agent) = mock::running(mock::framework());
    h.call(&fw, mock::reconcile(&[("t1", Some(&agent)), ("t1", None)]))
        .unwrap();
    let updates = h.updates(10);
    assert_eq!(
        states(&updates),
        vec![
            ("t1".into(), TaskState::TaskRunning),
            ("t1".into(), TaskState::TaskRunning),
        ]
    );
    assert_from_the_master(&h, &updates);
    assert_eq!(updates[0].agent_id.as_ref().unwrap().value, agent);
    assert_eq!(
        updates[0].message.as_deref(),
        Some("Reconciliation: latest task state")
    );
    assert!(h.agent_messages(1).is_empty(), "the agent is not asked");
}

#[test]
fn an_unknown_task_on_a_registered_agent_is_gone_or_lost() {
    for (framework, expected) in [
        (mock::framework().partition_aware(), TaskState::TaskGone),
        (mock::framework(), TaskState::TaskLost),
    ] {
        let (mut h, fw, agent) = mock::running(framework);
        h.call(&fw, mock::reconcile(&[("t9", Some(&agent))]))
            .unwrap();
        let updates = h.updates(10);
        assert_eq!(states(&updates), vec![("t9".into(), expected)]);
        assert_from_the_master(&h, &updates);
        assert_eq!(updates[0].agent_id.as_ref().unwrap().value, agent);
    }
}

#[test]
fn a_task_on_an_unknown_agent_or_none_is_unknown_or_lost() {
    for (framework, expected) in [
        (mock::framework().partition_aware(), TaskState::TaskUnknown),
        (mock::framework(), TaskState::TaskLost),
    ] {
        let (mut h, fw, _) = mock::running(framework);
        h.call(
            &fw,
            mock::reconcile(&[("t9", Some("nowhere")), ("t8", None)]),
        )
        .unwrap();
        let updates = h.updates(10);
        assert_eq!(
            states(&updates),
            vec![("t9".into(), expected), ("t8".into(), expected)]
        );
        assert_from_the_master(&h, &updates);
        assert_eq!(updates[0].agent_id.as_ref().unwrap().value, "nowhere");
        assert_eq!(updates[1].agent_id, None);
    }
}

#[test]
fn tasks_on_an_unreachable_agent_are_unreachable_or_lost() {
    for (framework, expected) in [
        (
            mock::framework().partition_aware(),
            TaskState::TaskUnreachable,
        ),
        (mock::framework(), TaskState::TaskLost),
    ] {
        let (mut h, fw, agent) = mock::running(framework);
        h.master.agent_disconnected(h.now, 1);
        h.advance(Duration::from_secs(15 * 5 + 1));
        assert!(h.master.unreachable_agents().contains_key(&agent));
        h.events(10);
        // `t1` was on it (kept as unreachable, or forgotten when reported
        // lost); nothing is known of `t9`, but its agent is unreachable.
        h.call(
            &fw,
            mock::reconcile(&[("t1", Some(&agent)), ("t9", Some(&agent))]),
        )
        .unwrap();
        let updates = h.updates(10);
        assert_eq!(
            states(&updates),
            vec![("t1".into(), expected), ("t9".into(), expected)]
        );
        assert_from_the_master(&h, &updates);
    }
}

#[test]
fn tasks_on_a_gone_agent_are_gone_or_lost() {
    for (framework, expected) in [
        (mock::framework().partition_aware(), TaskState::TaskGone),
        (mock::framework(), TaskState::TaskLost),
    ] {
        let (mut h, fw, agent) = mock::running(framework);
        let mut actions = Vec::new();
        h.master.mark_gone(h.now, &agent, &mut actions);
        h.actions.extend(actions);
        assert_eq!(states(&h.updates(10)), vec![("t1".into(), expected)]);
        h.call(&fw, mock::reconcile(&[("t1", Some(&agent))]))
            .unwrap();
        assert_eq!(states(&h.updates(10)), vec![("t1".into(), expected)]);
    }
}

#[test]
fn implicit_reconciliation_reports_every_task_in_task_id_order() {
    let (mut h, fw, agent) =
        mock::running_tasks(mock::framework(), vec![mock::task("b"), mock::task("a")]);
    let offer = h.cycle(10).remove(0);
    h.launch(&fw, &offer, vec![mock::task("c").on(&agent).build()]);
    h.status(1, &fw.0, "b", TaskState::TaskFinished);
    h.events(10);

    h.call(&fw, mock::reconcile(&[])).unwrap();
    let updates = h.updates(10);
    assert_eq!(
        states(&updates),
        vec![
            ("a".into(), TaskState::TaskRunning),
            ("b".into(), TaskState::TaskFinished),
            ("c".into(), TaskState::TaskStaging),
        ]
    );
    assert_from_the_master(&h, &updates);
}

#[test]
fn implicit_reconciliation_without_tasks_says_nothing() {
    let mut h = Harness::new();
    h.register(1, mock::agent());
    let fw = h.subscribe(10, mock::framework().build());
    h.events(10);
    h.call(&fw, mock::reconcile(&[])).unwrap();
    // A RECONCILE without its body is implicit too.
    h.call(&fw, mock::bare(call::Type::Reconcile)).unwrap();
    assert!(h.events(10).is_empty());
}
