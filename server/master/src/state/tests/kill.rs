//! KILL and SHUTDOWN: what the agent is asked to kill, and what a framework
//! hears when there is nothing the master can ask.

use v1::task_status::{Reason, Source};

use super::*;

fn kill_task(
    framework_id: &str,
    task_id: &str,
    policy: Option<v1::KillPolicy>,
) -> master_message::Kind {
    master_message::Kind::KillTask(cluster::KillTask {
        framework_id: v1::FrameworkId {
            value: framework_id.into(),
        },
        task_id: v1::TaskId {
            value: task_id.into(),
        },
        kill_policy: policy,
    })
}

/// KILL with a kill policy of its own.
fn kill_with_policy(task_id: &str, grace: Duration) -> Call {
    let mut call = mock::kill(task_id, None);
    if let Some(kill) = call.kill.as_mut() {
        kill.kill_policy = Some(mock::kill_policy(grace));
    }
    call
}

#[test]
fn a_running_task_is_killed_by_its_agent_and_its_resources_come_back() {
    let (mut h, fw, agent) = mock::running(mock::framework());
    h.call(&fw, mock::kill("t1", Some(&agent))).unwrap();
    assert_eq!(h.agent_messages(1), vec![kill_task(&fw.0, "t1", None)]);
    assert!(h.events(10).is_empty(), "the agent answers, not the master");

    h.status(1, &fw.0, "t1", TaskState::TaskKilled);
    let updates = h.updates(10);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, TaskState::TaskKilled as i32);
    let offers = h.cycle(10);
    assert_eq!(offers.len(), 1);
    assert_eq!(mock::scalar(&offers[0], "cpus"), 4.0, "the whole agent");
}

#[test]
fn the_kill_policy_of_the_call_wins_over_the_tasks() {
    let five = Duration::from_secs(5);
    let one = Duration::from_secs(1);
    let (mut h, fw, _) = mock::running_tasks(
        mock::framework(),
        vec![mock::task("t1").with_kill_policy(five), mock::task("t2")],
    );
    h.call(&fw, mock::kill("t1", None)).unwrap();
    h.call(&fw, kill_with_policy("t1", one)).unwrap();
    h.call(&fw, mock::kill("t2", None)).unwrap();
    h.call(&fw, kill_with_policy("t2", one)).unwrap();
    assert_eq!(
        h.agent_messages(1),
        vec![
            kill_task(&fw.0, "t1", Some(mock::kill_policy(five))),
            kill_task(&fw.0, "t1", Some(mock::kill_policy(one))),
            kill_task(&fw.0, "t2", None),
            kill_task(&fw.0, "t2", Some(mock::kill_policy(one))),
        ]
    );
}

#[test]
fn an_unknown_task_is_unknown_or_lost() {
    for (framework, expected) in [
        (mock::framework().partition_aware(), TaskState::TaskUnknown),
        (mock::framework(), TaskState::TaskLost),
    ] {
        let (mut h, fw, agent) = mock::running(framework);
        h.call(&fw, mock::kill("t9", Some(&agent))).unwrap();
        h.call(&fw, mock::kill("t8", None)).unwrap();
        let updates = h.updates(10);
        assert_eq!(updates.len(), 2, "{updates:?}");
        for (status, (task_id, agent_id)) in updates
            .iter()
            .zip([("t9", Some(agent.as_str())), ("t8", None)])
        {
            assert_eq!(status.task_id.value, task_id);
            assert_eq!(status.state, expected as i32);
            assert_eq!(status.agent_id.as_ref().map(|a| a.value.as_str()), agent_id);
            assert_eq!(status.source, Some(Source::Master as i32));
            assert_eq!(status.reason, Some(Reason::Reconciliation as i32));
            assert_eq!(
                status.message.as_deref(),
                Some("Attempted to kill an unknown task")
            );
            assert_eq!(status.uuid, None);
        }
        assert!(h.agent_messages(1).is_empty());
    }
}

#[test]
fn a_task_on_a_disconnected_agent_is_killed_only_when_asked_again() {
    let (mut h, fw, agent) = mock::running(mock::framework());
    let task = h.master.frameworks()[&fw.0].tasks["t1"].task.clone();
    let info = h.master.frameworks()[&fw.0].info.clone();
    h.master.agent_disconnected(h.now, 1);
    h.call(&fw, mock::kill("t1", Some(&agent))).unwrap();
    assert!(
        h.actions.is_empty(),
        "no stream to send on: {:?}",
        h.actions
    );

    // The agent is back (a new stream) with its task: a new KILL reaches it.
    h.register(
        2,
        mock::agent()
            .with_id(&agent)
            .running(vec![(*task).clone()], vec![info]),
    );
    h.actions.clear();
    h.call(&fw, mock::kill("t1", Some(&agent))).unwrap();
    assert_eq!(h.agent_messages(2), vec![kill_task(&fw.0, "t1", None)]);
}

#[test]
fn a_task_on_an_unreachable_agent_cannot_be_killed() {
    // Partition-aware: the task is kept as unreachable; nobody can be asked.
    let (mut h, fw, agent) = mock::running(mock::framework().partition_aware());
    h.master.agent_disconnected(h.now, 1);
    h.advance(Duration::from_secs(15 * 5 + 1));
    assert!(h.master.unreachable_agents().contains_key(&agent));
    h.actions.clear();
    h.call(&fw, mock::kill("t1", Some(&agent))).unwrap();
    assert!(h.actions.is_empty(), "{:?}", h.actions);

    // Otherwise the task was reported lost and forgotten: it is unknown.
    let (mut h, fw, agent) = mock::running(mock::framework());
    h.master.agent_disconnected(h.now, 1);
    h.advance(Duration::from_secs(15 * 5 + 1));
    h.actions.clear();
    h.call(&fw, mock::kill("t1", Some(&agent))).unwrap();
    let updates = h.updates(10);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, TaskState::TaskLost as i32);
    assert!(h.actions.is_empty(), "{:?}", h.actions);
}

#[test]
fn kill_and_shutdown_without_their_body_are_bad_requests() {
    let (mut h, fw, _) = mock::running(mock::framework());
    for kind in [call::Type::Kill, call::Type::Shutdown] {
        assert!(matches!(
            h.call(&fw, mock::bare(kind)),
            Err(CallError::BadRequest(_))
        ));
    }
    assert!(h.actions.is_empty());
}

/// A framework running `b` and `a` under executor `e1`, `x` under `e2`,
/// and the command task `cmd`, all on one agent.
fn executors() -> (Harness, (String, String), String) {
    let e1 = mock::executor("e1").build();
    let e2 = mock::executor("e2").build();
    mock::running_tasks(
        mock::framework(),
        vec![
            mock::task("b").with_executor(e1.clone()),
            mock::task("a").with_executor(e1),
            mock::task("x").with_executor(e2),
            mock::task("cmd"),
        ],
    )
}

#[test]
fn shutdown_kills_every_live_task_of_the_executor() {
    let (mut h, fw, agent) = executors();
    h.call(&fw, mock::shutdown("e1", &agent)).unwrap();
    assert_eq!(
        h.agent_messages(1),
        vec![kill_task(&fw.0, "a", None), kill_task(&fw.0, "b", None)]
    );
    assert!(h.events(10).is_empty());

    // A task that ended is not killed again.
    h.status(1, &fw.0, "a", TaskState::TaskFinished);
    h.events(10);
    h.call(&fw, mock::shutdown("e1", &agent)).unwrap();
    assert_eq!(h.agent_messages(1), vec![kill_task(&fw.0, "b", None)]);
}

#[test]
fn shutdown_of_an_unknown_executor_or_on_another_agent_does_nothing() {
    let (mut h, fw, agent) = executors();
    let other = h.register(2, mock::agent());
    h.call(&fw, mock::shutdown("e9", &agent)).unwrap();
    h.call(&fw, mock::shutdown("e1", &other)).unwrap();
    h.call(&fw, mock::shutdown("e1", "nowhere")).unwrap();
    assert!(h.actions.is_empty(), "{:?}", h.actions);
}
