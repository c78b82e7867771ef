//! Custom executors over the executor HTTP API (the test plays the executor
//! against a real agent that launched a real process), the built-in default
//! executor, and the agent's HTTP endpoints.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meseta_proto::cluster::{agent_message::Kind, master_message, FrameworkMessage, KillTask};
use meseta_proto::executor::{call, event, Call, Event};
use meseta_proto::v1::{self, task_status::Reason, task_status::Source, TaskState};
use meseta_proto::{json, recordio, Message};

fn fid() -> v1::FrameworkId {
    v1::FrameworkId {
        value: "fw-1".into(),
    }
}

fn eid() -> v1::ExecutorId {
    v1::ExecutorId {
        value: "exec-1".into(),
    }
}

fn executor_info(command: &str) -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        executor_id: eid(),
        command: Some(v1::CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        name: Some("test executor".into()),
        ..Default::default()
    }
}

fn task_for_executor(id: &str) -> v1::TaskInfo {
    let mut task = command_task(id, "agent-1", "unused");
    task.command = None;
    task.executor = Some(executor_info("unused"));
    task
}

/// The event stream of a subscribed executor.
struct Events {
    body: hyper::body::Incoming,
    decoder: recordio::Decoder,
}

impl Events {
    async fn subscribe(addr: std::net::SocketAddr) -> Events {
        let call = Call {
            executor_id: eid(),
            framework_id: fid(),
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe::default()),
            ..Default::default()
        };
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let request = hyper::Request::post(format!("http://{addr}/api/v1/executor"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(Full::new(Bytes::from(json::to_vec(&call))))
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        Events {
            body: response.into_body(),
            decoder: recordio::Decoder::new(),
        }
    }

    /// The next event, heartbeats skipped; `None` when the stream ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(record) = self.decoder.next_record().unwrap() {
                let event: Event = json::from_slice(&record).unwrap();
                if event.r#type() != event::Type::Heartbeat {
                    return Some(event);
                }
                continue;
            }
            let frame = tokio::time::timeout(DEADLINE, self.body.frame())
                .await
                .expect("timed out waiting for an event")?;
            if let Some(data) = frame.ok()?.data_ref() {
                self.decoder.feed(data);
            }
        }
    }

    async fn expect(&mut self, kind: event::Type) -> Event {
        let event = self.next().await.expect("the event stream ended");
        assert_eq!(event.r#type(), kind, "{event:?}");
        event
    }
}

fn update_call(task: &str, state: TaskState) -> Call {
    Call {
        executor_id: eid(),
        framework_id: fid(),
        r#type: Some(call::Type::Update as i32),
        update: Some(call::Update {
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: task.into() },
                state: state as i32,
                uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

async fn post_call(addr: std::net::SocketAddr, call: &Call, protobuf: bool) -> u16 {
    let (content_type, body) = if protobuf {
        ("application/x-protobuf", call.encode_to_vec())
    } else {
        ("application/json", json::to_vec(call))
    };
    http(
        "POST",
        addr,
        "/api/v1/executor",
        &[("content-type", content_type)],
        body,
    )
    .await
    .0
}

fn read_env(path: &std::path::Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn executors_custom_executor_subscribes_runs_and_exits() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let addr = agent.http_address();
    let info = executor_info("echo $$ > pid; env > env.txt; exec sleep 100");
    master.send(run_tasks(
        framework("fw-1"),
        Some(info),
        vec![task_for_executor("t1"), task_for_executor("t2")],
    ));

    let sandbox = latest_run(dir.path(), "agent-1", "fw-1", "exec-1");
    eventually("the executor to start", || {
        std::fs::read_to_string(sandbox.join("env.txt"))
            .is_ok_and(|env| env.contains("MESOS_SANDBOX"))
    })
    .await;
    let env = read_env(&sandbox.join("env.txt"));
    assert_eq!(env["MESOS_AGENT_ENDPOINT"], addr.to_string());
    assert_eq!(env["MESOS_FRAMEWORK_ID"], "fw-1");
    assert_eq!(env["MESOS_EXECUTOR_ID"], "exec-1");
    assert_eq!(env["MESOS_CHECKPOINT"], "0");
    assert_eq!(env["MESOS_HTTP_COMMAND_EXECUTOR"], "0");
    assert_eq!(env["MESOS_SLAVE_ID"], "agent-1");
    assert_eq!(env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"], "2secs");
    assert_eq!(
        std::fs::canonicalize(&env["MESOS_SANDBOX"]).unwrap(),
        std::fs::canonicalize(&sandbox).unwrap()
    );
    let state = get_json(addr, "/state").await;
    assert_eq!(
        state["frameworks"][0]["executors"][0]["queued_tasks"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // SUBSCRIBE: SUBSCRIBED, then the queued launches.
    let mut events = Events::subscribe(addr).await;
    let subscribed = events
        .expect(event::Type::Subscribed)
        .await
        .subscribed
        .unwrap();
    assert_eq!(subscribed.agent_info.hostname, "test-agent");
    assert_eq!(subscribed.executor_info.executor_id, eid());
    assert_eq!(subscribed.framework_info.id, Some(fid()));
    assert!(subscribed.container_id.is_some());
    let mut launched = vec![
        events
            .expect(event::Type::Launch)
            .await
            .launch
            .unwrap()
            .task
            .task_id
            .value,
        events
            .expect(event::Type::Launch)
            .await
            .launch
            .unwrap()
            .task
            .task_id
            .value,
    ];
    launched.sort();
    assert_eq!(launched, ["t1", "t2"]);

    // UPDATE goes to the master and is acknowledged to the executor.
    let running = update_call("t1", TaskState::TaskRunning);
    assert_eq!(post_call(addr, &running, false).await, 202);
    let update = master.expect_update("t1", TaskState::TaskRunning).await;
    assert_eq!(update.status.source, Some(Source::Executor as i32));
    assert_eq!(update.status.executor_id, Some(eid()));
    assert_eq!(update.status.agent_id.as_ref().unwrap().value, "agent-1");
    let sent_uuid = running.update.unwrap().status.uuid;
    assert_eq!(update.status.uuid, sent_uuid);
    let ack = events
        .expect(event::Type::Acknowledged)
        .await
        .acknowledged
        .unwrap();
    assert_eq!(
        (ack.task_id.value.as_str(), Some(ack.uuid)),
        ("t1", sent_uuid)
    );

    // Messages both ways.
    master.send(master_message::Kind::FrameworkMessage(FrameworkMessage {
        framework_id: fid(),
        executor_id: eid(),
        data: b"to the executor".to_vec(),
    }));
    assert_eq!(
        events
            .expect(event::Type::Message)
            .await
            .message
            .unwrap()
            .data,
        b"to the executor"
    );
    let message = Call {
        executor_id: eid(),
        framework_id: fid(),
        r#type: Some(call::Type::Message as i32),
        message: Some(call::Message {
            data: b"to the scheduler".to_vec(),
        }),
        ..Default::default()
    };
    assert_eq!(post_call(addr, &message, true).await, 202);
    loop {
        if let Kind::ExecutorMessage(m) = master.message().await {
            assert_eq!(
                (m.executor_id, m.data),
                (eid(), b"to the scheduler".to_vec())
            );
            break;
        }
    }

    // A kill goes to the executor, which reports the task killed.
    master.send(master_message::Kind::KillTask(KillTask {
        framework_id: fid(),
        task_id: v1::TaskId { value: "t2".into() },
        kill_policy: None,
    }));
    assert_eq!(
        events
            .expect(event::Type::Kill)
            .await
            .kill
            .unwrap()
            .task_id
            .value,
        "t2"
    );
    assert_eq!(
        post_call(addr, &update_call("t2", TaskState::TaskKilled), true).await,
        202
    );
    master.expect_update("t2", TaskState::TaskKilled).await;
    events.expect(event::Type::Acknowledged).await;

    // Later launches to a subscribed executor go straight to it, groups as one.
    let mut group = run_tasks(
        framework("fw-1"),
        Some(executor_info("unused")),
        vec![task_for_executor("g1"), task_for_executor("g2")],
    );
    if let master_message::Kind::RunTasks(r) = &mut group {
        r.group = Some(true);
    }
    master.send(group);
    let launch_group = events
        .expect(event::Type::LaunchGroup)
        .await
        .launch_group
        .unwrap();
    assert_eq!(launch_group.task_group.tasks.len(), 2);

    // The executor dies: its unfinished tasks fail, the master hears of it.
    let pid: i32 = std::fs::read_to_string(sandbox.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signalling the executor process this test made the agent start.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut failed = Vec::new();
    let exited = loop {
        match master.message().await {
            Kind::StatusUpdate(update) => {
                assert_eq!(update.status.state(), TaskState::TaskFailed);
                assert_eq!(
                    update.status.reason,
                    Some(Reason::ExecutorTerminated as i32)
                );
                master.ack(&update);
                failed.push(update.status.task_id.value);
            }
            Kind::ExecutorExited(exited) => break exited,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(exited.executor_id, eid());
    assert_eq!(exited.status, Some(libc::SIGKILL));
    while failed.len() < 3 {
        let update = master.expect_update_any(TaskState::TaskFailed).await;
        failed.push(update.status.task_id.value);
    }
    failed.sort();
    assert_eq!(failed, ["g1", "g2", "t1"]);
    assert!(
        events.next().await.is_none(),
        "the event stream ends with the executor"
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn executors_that_never_subscribe_are_destroyed() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&master, dir.path().into());
    cfg.executor_registration_timeout = Duration::from_millis(500);
    let agent = registered_agent(&mut master, cfg, "agent-1").await;
    master.send(run_tasks(
        framework("fw-1"),
        Some(executor_info("sleep 100")),
        vec![task_for_executor("t")],
    ));
    let failed = master.expect_update("t", TaskState::TaskFailed).await;
    assert_eq!(
        failed.status.reason,
        Some(Reason::ExecutorRegistrationTimeout as i32)
    );
    assert_eq!(failed.status.source, Some(Source::Agent as i32));
    loop {
        if let Kind::ExecutorExited(exited) = master.message().await {
            assert_eq!(exited.executor_id, eid());
            break;
        }
    }
    agent.shutdown().await;
}

#[tokio::test]
async fn executors_default_executor_runs_a_group_and_fails_it_together() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: eid(),
        ..Default::default()
    };
    let mut request = run_tasks(
        framework("fw-1"),
        Some(executor),
        vec![
            command_task("ok", "agent-1", "echo $MESOS_SANDBOX; sleep 0.3; exit 1"),
            command_task("long", "agent-1", "sleep 100"),
        ],
    );
    if let master_message::Kind::RunTasks(r) = &mut request {
        r.group = Some(true);
    }
    master.send(request);
    let mut last: HashMap<String, TaskState> = HashMap::new();
    while last
        .values()
        .filter(|s| matches!(s, TaskState::TaskFailed | TaskState::TaskKilled))
        .count()
        < 2
    {
        let update = master.update().await;
        master.ack(&update);
        let task = update.status.task_id.value.clone();
        if let Some(previous) = last.get(&task) {
            assert!(
                !matches!(previous, TaskState::TaskFailed | TaskState::TaskKilled),
                "{task} after terminal"
            );
        }
        last.insert(task, update.status.state());
    }
    assert_eq!(last["ok"], TaskState::TaskFailed);
    assert_eq!(last["long"], TaskState::TaskKilled);
    let task_sandbox = latest_run(dir.path(), "agent-1", "fw-1", "exec-1").join("tasks/ok");
    let stdout = std::fs::read_to_string(task_sandbox.join("stdout")).unwrap();
    assert!(stdout.trim().ends_with("tasks/ok"), "{stdout}");
    agent.shutdown().await;
}
