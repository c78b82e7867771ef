//! The agent against a master played by the test (a real gRPC server):
//! registration, pings, command tasks, kills, retries, reconnection,
//! refusal, reconciliation and shutdown.

mod common;

use std::time::Duration;

use common::*;
use meseta_agent::Agent;
use meseta_proto::cluster::{
    agent_message::Kind, master_message, KillTask, Ping, ReconcileTasks, Refused,
};
use meseta_proto::v1::{self, task_status::Reason, task_status::Source, TaskState};

fn fid() -> v1::FrameworkId {
    v1::FrameworkId {
        value: "fw-1".into(),
    }
}

fn kill(task: &str) -> master_message::Kind {
    master_message::Kind::KillTask(KillTask {
        framework_id: fid(),
        task_id: v1::TaskId { value: task.into() },
        kill_policy: None,
    })
}

#[tokio::test]
async fn link_registers_keeps_its_id_and_answers_pings() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(&master, dir.path().into()))
        .await
        .unwrap();
    assert!(matches!(master.next().await, Seen::Attached));
    let register = master.accept("agent-1").await;
    assert_eq!(register.info.hostname, "test-agent");
    assert_eq!(
        register.info.port,
        Some(i32::from(agent.http_address().port()))
    );
    assert_eq!(register.info.id, None);
    assert_eq!(
        meseta_proto::resources::scalar_total(&register.info.resources, "cpus"),
        2.0
    );
    assert_eq!(register.info.attributes[0].name, "rack");
    assert_eq!(
        register.http_address,
        Some(agent.http_address().to_string())
    );
    assert!(register.tasks.is_empty());

    master.send(master_message::Kind::Ping(Ping { sequence: Some(7) }));
    loop {
        if let Seen::Message(Kind::Pong(pong)) = master.next_raw().await {
            assert_eq!(pong.sequence, Some(7));
            break;
        }
    }
    eventually("registration", || agent.is_registered()).await;
    assert_eq!(agent.agent_id().as_deref(), Some("agent-1"));
    let saved = std::fs::read_to_string(dir.path().join("meta/agent_id")).unwrap();
    assert_eq!(saved, "agent-1");
    agent.shutdown().await;
    assert!(matches!(master.next().await, Seen::Detached));

    // A restarted agent comes back with the same ID.
    let agent = Agent::start(config(&master, dir.path().into()))
        .await
        .unwrap();
    let register = master.accept("agent-1").await;
    assert_eq!(
        register.info.id.map(|id| id.value).as_deref(),
        Some("agent-1")
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn link_runs_a_command_task_to_completion() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let mut task = command_task("t1", "agent-1", "echo \"$MESOS_TASK_ID|$MESOS_FRAMEWORK_ID|$MESOS_AGENT_ENDPOINT|$CUSTOM\"; pwd; echo \"$MESOS_SANDBOX|$MESOS_DIRECTORY\"");
    task.command.as_mut().unwrap().environment = Some(v1::Environment {
        variables: vec![v1::environment::Variable {
            name: "CUSTOM".into(),
            value: Some("custom value".into()),
            ..Default::default()
        }],
    });
    master.send(run_tasks(framework("fw-1"), None, vec![task]));

    let starting = master.expect_update("t1", TaskState::TaskStarting).await;
    assert_eq!(starting.framework_id, fid());
    assert_eq!(starting.status.source, Some(Source::Executor as i32));
    assert_eq!(starting.status.agent_id.as_ref().unwrap().value, "agent-1");
    assert_eq!(starting.status.executor_id.as_ref().unwrap().value, "t1");
    assert_eq!(starting.status.uuid.as_ref().unwrap().len(), 16);
    assert!(starting.status.timestamp.unwrap() > 1.0e9);
    master.expect_update("t1", TaskState::TaskRunning).await;
    let finished = master.expect_update("t1", TaskState::TaskFinished).await;
    assert_eq!(
        finished.status.message.as_deref(),
        Some("Command exited with status 0")
    );
    assert_eq!(finished.latest_state, Some(TaskState::TaskFinished as i32));

    let sandbox = std::fs::canonicalize(latest_run(dir.path(), "agent-1", "fw-1", "t1")).unwrap();
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("t1|fw-1|{}|custom value", agent.http_address())
    );
    assert_eq!(lines[1], sandbox.display().to_string());
    assert_eq!(lines[2], format!("{0}|{0}", sandbox.display()));

    // Once the terminal update is acknowledged the task is completed.
    let addr = agent.http_address();
    let mut state = serde_json::Value::Null;
    for _ in 0..200 {
        state = get_json(addr, "/state").await;
        if state["completed_frameworks"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let executor = &state["completed_frameworks"][0]["completed_executors"][0];
    assert_eq!(
        executor["completed_tasks"][0]["state"], "TASK_FINISHED",
        "{state}"
    );
    assert_eq!(executor["directory"], sandbox.display().to_string());
    let metrics = get_json(addr, "/metrics/snapshot").await;
    assert_eq!(metrics["slave/tasks_finished"], 1);
    assert_eq!(metrics["slave/tasks_running"], 0);
    agent.shutdown().await;
}

#[tokio::test]
async fn link_reports_failures_and_kills() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let mut fw = framework("fw-1");
    fw.capabilities.push(v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::TaskKillingState as i32),
    });

    master.send(run_tasks(
        fw.clone(),
        None,
        vec![command_task("fails", "agent-1", "exit 3")],
    ));
    master.expect_update("fails", TaskState::TaskStarting).await;
    master.expect_update("fails", TaskState::TaskRunning).await;
    let failed = master.expect_update("fails", TaskState::TaskFailed).await;
    assert_eq!(
        failed.status.message.as_deref(),
        Some("Command exited with status 3")
    );
    assert_eq!(failed.status.reason, None);

    master.send(run_tasks(
        fw.clone(),
        None,
        vec![command_task("sleeps", "agent-1", "sleep 100")],
    ));
    master
        .expect_update("sleeps", TaskState::TaskStarting)
        .await;
    master.expect_update("sleeps", TaskState::TaskRunning).await;
    master.send(kill("sleeps"));
    master.expect_update("sleeps", TaskState::TaskKilling).await;
    let killed = master.expect_update("sleeps", TaskState::TaskKilled).await;
    assert_eq!(
        killed.status.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );

    // A task that ignores SIGTERM gets SIGKILL after its grace period.
    let mut stubborn = command_task(
        "stubborn",
        "agent-1",
        "trap '' TERM; touch ready; sleep 100",
    );
    stubborn.kill_policy = Some(v1::KillPolicy {
        grace_period: Some(v1::DurationInfo {
            nanoseconds: 300_000_000,
        }),
    });
    master.send(run_tasks(fw.clone(), None, vec![stubborn]));
    master
        .expect_update("stubborn", TaskState::TaskStarting)
        .await;
    master
        .expect_update("stubborn", TaskState::TaskRunning)
        .await;
    let ready = latest_run(dir.path(), "agent-1", "fw-1", "stubborn").join("ready");
    eventually("the trap to be set", || ready.exists()).await;
    master.send(kill("stubborn"));
    master
        .expect_update("stubborn", TaskState::TaskKilling)
        .await;
    let killed = master
        .expect_update("stubborn", TaskState::TaskKilled)
        .await;
    assert_eq!(
        killed.status.message.as_deref(),
        Some("Command terminated with signal Killed")
    );

    // A kill of an unknown task answers TASK_LOST, needing no acknowledgement.
    master.send(kill("ghost"));
    let lost = master.update().await;
    assert_eq!(lost.status.state(), TaskState::TaskLost);
    assert_eq!(lost.status.reason, Some(Reason::TaskUnknown as i32));
    assert_eq!(lost.status.uuid, None);

    // A fetch failure fails the task before it starts.
    let mut unfetchable = command_task("unfetchable", "agent-1", "true");
    unfetchable
        .command
        .as_mut()
        .unwrap()
        .uris
        .push(v1::command_info::Uri {
            value: "/no/such/archive.tgz".into(),
            ..Default::default()
        });
    master.send(run_tasks(fw.clone(), None, vec![unfetchable]));
    let failed = master
        .expect_update("unfetchable", TaskState::TaskFailed)
        .await;
    assert_eq!(
        failed.status.reason,
        Some(Reason::ContainerLaunchFailed as i32)
    );
    assert_eq!(failed.status.source, Some(Source::Agent as i32));
    let stderr = std::fs::read_to_string(
        latest_run(dir.path(), "agent-1", "fw-1", "unfetchable").join("stderr"),
    )
    .unwrap();
    assert!(stderr.contains("/no/such/archive.tgz"), "{stderr}");

    // An ID that would escape the sandbox is an error.
    master.send(run_tasks(
        fw,
        None,
        vec![command_task("../evil", "agent-1", "true")],
    ));
    let error = master.expect_update("../evil", TaskState::TaskError).await;
    assert_eq!(error.status.reason, Some(Reason::TaskInvalid as i32));
    agent.shutdown().await;
}

#[tokio::test]
async fn link_retries_unacknowledged_updates_in_order() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&master, dir.path().into());
    cfg.status_update_retry_initial = Duration::from_millis(200);
    cfg.status_update_retry_max = Duration::from_millis(400);
    let agent = registered_agent(&mut master, cfg, "agent-1").await;
    master.send(run_tasks(
        framework("fw-1"),
        None,
        vec![command_task("t", "agent-1", "true")],
    ));

    let first = master.update().await;
    assert_eq!(first.status.state(), TaskState::TaskStarting);
    // Not acknowledged: the same update comes again, and nothing newer.
    let again = master.update().await;
    assert_eq!(again.status.uuid, first.status.uuid);
    assert_eq!(again.status.state(), TaskState::TaskStarting);
    let again = master.update().await;
    assert_eq!(again.status.uuid, first.status.uuid);
    assert_eq!(
        again.latest_state,
        Some(TaskState::TaskFinished as i32),
        "the task has finished meanwhile"
    );

    master.ack(&first);
    let mut next = master.update().await;
    while next.status.uuid == first.status.uuid {
        next = master.update().await; // a retry that crossed the acknowledgement
    }
    assert_eq!(next.status.state(), TaskState::TaskRunning);
    master.ack(&next);
    master.expect_update("t", TaskState::TaskFinished).await;
    agent.shutdown().await;
}

#[tokio::test]
async fn link_reconnects_and_reregisters_with_its_tasks() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    master.send(run_tasks(
        framework("fw-1"),
        None,
        vec![command_task("t", "agent-1", "sleep 100")],
    ));
    master.expect_update("t", TaskState::TaskStarting).await;
    let running = master.update().await; // left unacknowledged
    assert_eq!(running.status.state(), TaskState::TaskRunning);

    master.hang_up();
    loop {
        if matches!(master.next().await, Seen::Attached) {
            break;
        }
    }
    let register = master.accept("agent-1").await;
    assert_eq!(register.info.id.unwrap().value, "agent-1");
    assert_eq!(register.frameworks.len(), 1);
    assert_eq!(register.tasks.len(), 1);
    let task = &register.tasks[0];
    assert_eq!(task.task_id.value, "t");
    assert_eq!(task.state(), TaskState::TaskRunning);
    assert_eq!(
        task.status_update_state,
        Some(TaskState::TaskRunning as i32)
    );
    assert_eq!(task.status_update_uuid, running.status.uuid);

    // The unacknowledged update is sent again on the new stream.
    let resent = master.update().await;
    assert_eq!(resent.status.uuid, running.status.uuid);
    master.ack(&resent);

    // Reconciliation answers with the latest state, without a UUID.
    master.send(master_message::Kind::ReconcileTasks(ReconcileTasks {
        framework_id: fid(),
        task_ids: vec![
            v1::TaskId { value: "t".into() },
            v1::TaskId {
                value: "nope".into(),
            },
        ],
    }));
    let mut answers = [master.update().await, master.update().await];
    answers.sort_by(|a, b| a.status.task_id.value.cmp(&b.status.task_id.value));
    assert_eq!(
        (
            answers[0].status.task_id.value.as_str(),
            answers[0].status.state()
        ),
        ("nope", TaskState::TaskLost)
    );
    assert_eq!(
        (
            answers[1].status.task_id.value.as_str(),
            answers[1].status.state()
        ),
        ("t", TaskState::TaskRunning)
    );
    assert!(
        answers
            .iter()
            .all(|a| a.status.uuid.is_none()
                && a.status.reason == Some(Reason::Reconciliation as i32))
    );

    master.send(kill("t"));
    master.expect_update("t", TaskState::TaskKilled).await;
    agent.shutdown().await;
}

#[tokio::test]
async fn link_reconnects_when_pings_stop() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(&master, dir.path().into()))
        .await
        .unwrap();
    master.accept_with_ping("agent-1", 0.2).await;
    // No pings are sent: after three silent intervals the agent redials.
    loop {
        match master.next().await {
            Seen::Attached => break,
            Seen::Detached | Seen::Message(_) => {}
        }
    }
    let register = master.accept("agent-1").await;
    assert_eq!(register.info.id.unwrap().value, "agent-1");
    agent.shutdown().await;
}

#[tokio::test]
async fn link_refused_agent_forgets_its_id() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    eventually("the saved ID", || dir.path().join("meta/agent_id").exists()).await;
    master.send(master_message::Kind::Refused(Refused {
        reason: Some("agent was removed".into()),
    }));
    let register = master.accept("agent-2").await;
    assert_eq!(register.info.id, None);
    eventually("the new ID", || {
        agent.agent_id().as_deref() == Some("agent-2")
    })
    .await;
    agent.shutdown().await;
}
