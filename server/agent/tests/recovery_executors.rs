//! Agent restarts with custom executors: the executor process survives, the
//! test (playing the executor) subscribes again to the restarted agent with
//! what it has no acknowledgement for, and an executor that does not come
//! back in time is destroyed.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meseta_agent::Agent;
use meseta_proto::executor::{call, event, Call, Event};
use meseta_proto::v1::{self, task_status::Reason, TaskState};
use meseta_proto::{json, recordio};

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

fn checkpointing() -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        checkpoint: Some(true),
        ..framework("fw-1")
    }
}

fn task(id: &str) -> v1::TaskInfo {
    let mut task = command_task(id, "agent-1", "unused");
    task.command = None;
    task.executor = Some(v1::ExecutorInfo {
        executor_id: eid(),
        command: Some(v1::CommandInfo {
            value: Some("echo $$ > pid; env > env.txt; exec sleep 100".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    task
}

fn status(task: &str, state: TaskState) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: v1::TaskId { value: task.into() },
        state: state as i32,
        uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
        ..Default::default()
    }
}

struct Events {
    body: hyper::body::Incoming,
    decoder: recordio::Decoder,
}

impl Events {
    async fn subscribe(addr: SocketAddr, subscribe: call::Subscribe) -> Events {
        let call = Call {
            executor_id: eid(),
            framework_id: fid(),
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(subscribe),
            ..Default::default()
        };
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let request = hyper::Request::post(format!("http://{addr}/api/v1/executor"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(json::to_vec(&call))))
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        Events {
            body: response.into_body(),
            decoder: recordio::Decoder::new(),
        }
    }

    /// The next event, heartbeats and acknowledgements skipped; `None`
    /// when the stream ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(record) = self.decoder.next_record().unwrap() {
                let event: Event = json::from_slice(&record).unwrap();
                if !matches!(
                    event.r#type(),
                    event::Type::Heartbeat | event::Type::Acknowledged
                ) {
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

async fn send_update(addr: SocketAddr, status: v1::TaskStatus) {
    let call = Call {
        executor_id: eid(),
        framework_id: fid(),
        r#type: Some(call::Type::Update as i32),
        update: Some(call::Update { status }),
        ..Default::default()
    };
    let headers = [("content-type", "application/json")];
    let (code, _, body) = http(
        "POST",
        addr,
        "/api/v1/executor",
        &headers,
        json::to_vec(&call),
    )
    .await;
    assert_eq!(code, 202, "{}", String::from_utf8_lossy(&body));
}

fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Launches `tasks` on the checkpointing framework's executor, subscribes
/// as the executor, and has each but the last reported running. Returns
/// the executor's pid, its event stream and the updates it sent.
async fn start_executor(
    master: &mut FakeMaster,
    agent: &Agent,
    dir: &Path,
    tasks: &[&str],
) -> (i32, Events, Vec<v1::TaskStatus>) {
    master.send(run_tasks(
        checkpointing(),
        Some(task(tasks[0]).executor.unwrap()),
        tasks.iter().map(|id| task(id)).collect(),
    ));
    let sandbox = latest_run(dir, "agent-1", "fw-1", "exec-1");
    eventually("the executor to start", || {
        std::fs::read_to_string(sandbox.join("env.txt")).is_ok_and(|e| e.contains("MESOS_SANDBOX"))
    })
    .await;
    let env = std::fs::read_to_string(sandbox.join("env.txt")).unwrap();
    assert!(env.contains("MESOS_CHECKPOINT=1"), "{env}");
    let pid: i32 = std::fs::read_to_string(sandbox.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut events = Events::subscribe(agent.http_address(), call::Subscribe::default()).await;
    events.expect(event::Type::Subscribed).await;
    for _ in tasks {
        events.expect(event::Type::Launch).await;
    }
    let mut sent = Vec::new();
    for id in &tasks[..tasks.len() - 1] {
        let running = status(id, TaskState::TaskRunning);
        send_update(agent.http_address(), running.clone()).await;
        master.expect_update(id, TaskState::TaskRunning).await;
        sent.push(running);
    }
    settled(agent).await;
    (pid, events, sent)
}

async fn restart(
    master: &mut FakeMaster,
    agent: Agent,
    config: meseta_agent::AgentConfig,
) -> Agent {
    let address = agent.http_address();
    drop(agent);
    eventually("the old agent's port to be free", || {
        std::net::TcpListener::bind(address).is_ok()
    })
    .await;
    let agent = Agent::start(config).await.unwrap();
    assert_eq!(agent.http_address(), address);
    let register = master.accept("agent-1").await;
    assert_eq!(register.executors.len(), 1, "{register:?}");
    agent
}

#[tokio::test]
async fn custom_executor_subscribes_again_after_a_restart() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let (pid, mut old_events, sent) =
        start_executor(&mut master, &agent, dir.path(), &["a", "b", "c"]).await;
    let running_a = sent[0].clone();

    let same = config(&master, dir.path().into());
    let agent = restart(&mut master, agent, same).await;
    assert!(
        old_events.next().await.is_none(),
        "the old stream is closed"
    );
    assert!(pid_alive(pid), "the executor survived the agent");

    // The executor comes back with an update the agent has (a duplicate by
    // UUID: dropped) and one it lacks; it never received "c", which is
    // still staging.
    let finished_b = status("b", TaskState::TaskFinished);
    let subscribe = call::Subscribe {
        unacknowledged_tasks: vec![task("a")],
        unacknowledged_updates: vec![
            call::Update {
                status: running_a.clone(),
            },
            call::Update {
                status: finished_b.clone(),
            },
        ],
    };
    let mut events = Events::subscribe(agent.http_address(), subscribe).await;
    events.expect(event::Type::Subscribed).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let update = master.update().await;
        master.ack(&update);
        seen.push((update.status.task_id.value.clone(), update.status.state()));
        if update.status.task_id.value == "c" {
            assert_eq!(update.status.reason, Some(Reason::AgentRestarted as i32));
        }
    }
    seen.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        seen,
        [
            ("b".to_string(), TaskState::TaskFinished),
            ("c".to_string(), TaskState::TaskLost),
        ]
    );
    // Duplicates reach the master no more: the next update is a new one.
    send_update(agent.http_address(), finished_b).await;
    send_update(agent.http_address(), running_a).await;
    send_update(agent.http_address(), status("a", TaskState::TaskFinished)).await;
    master.expect_update("a", TaskState::TaskFinished).await;
    agent.shutdown().await;
    eventually("the executor to be stopped", || !pid_alive(pid)).await;
}

#[tokio::test]
async fn custom_executor_that_does_not_come_back_is_destroyed() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let (pid, _events, _) = start_executor(&mut master, &agent, dir.path(), &["a", "b"]).await;
    let mut quick = config(&master, dir.path().into());
    quick.executor_reregistration_timeout = Duration::from_millis(300);
    let agent = restart(&mut master, agent, quick).await;
    let mut failed = Vec::new();
    while failed.len() < 2 {
        let update = master.update().await;
        master.ack(&update);
        assert_eq!(update.status.state(), TaskState::TaskFailed, "{update:?}");
        assert_eq!(
            update.status.reason,
            Some(Reason::ExecutorReregistrationTimeout as i32)
        );
        failed.push(update.status.task_id.value);
    }
    eventually("the executor to be destroyed", || !pid_alive(pid)).await;
    agent.shutdown().await;
}
