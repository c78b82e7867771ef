//! The agent's own HTTP endpoints, against a running agent with a real
//! command task: `/state`, `/metrics/snapshot`, `/health` and `/files/*`.

mod common;

use common::*;
use meseta_proto::executor::{call, Call};
use meseta_proto::json;
use meseta_proto::v1::{self, TaskState};

#[tokio::test]
async fn http_state_metrics_and_files_endpoints() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let addr = agent.http_address();
    master.send(run_tasks(
        framework("fw-1"),
        None,
        vec![command_task("t", "agent-1", "echo hello-files; sleep 100")],
    ));
    master.expect_update("t", TaskState::TaskStarting).await;
    master.expect_update("t", TaskState::TaskRunning).await;

    let (status, _, body) = http("GET", addr, "/health", &[], Vec::new()).await;
    assert_eq!((status, body.len()), (200, 0));
    for path in ["/state", "/state.json", "/slave(1)/state"] {
        let state = get_json(addr, path).await;
        assert_eq!(state["id"], "agent-1");
        assert_eq!(state["hostname"], "test-agent");
        assert_eq!(state["resources"]["cpus"], 2.0);
        assert_eq!(state["resources"]["ports"], "[31000-31010]");
        assert_eq!(state["attributes"]["rack"], "r1");
        assert!(state["version"].is_string() && state["start_time"].as_f64().unwrap() > 0.0);
        assert_eq!(state["flags"]["master"], master.addr.to_string());
    }
    let state = get_json(addr, "/state").await;
    let executor = &state["frameworks"][0]["executors"][0];
    assert_eq!(state["frameworks"][0]["id"], "fw-1");
    assert_eq!(executor["id"], "t");
    assert_eq!(executor["tasks"][0]["state"], "TASK_RUNNING");
    assert_eq!(executor["tasks"][0]["slave_id"], "agent-1");
    assert_eq!(executor["tasks"][0]["resources"]["cpus"], 0.1);
    let directory = executor["directory"].as_str().unwrap().to_string();

    let metrics = get_json(addr, "/metrics/snapshot").await;
    assert_eq!(metrics["slave/registered"], 1.0);
    assert_eq!(metrics["slave/tasks_running"], 1);
    assert_eq!(metrics["slave/executors_running"], 1);
    assert_eq!(metrics["slave/cpus_total"], 2.0);
    assert_eq!(metrics["slave/mem_total"], 1024.0);
    assert!(metrics["slave/uptime_secs"].as_f64().unwrap() > 0.0);

    let stdout = format!("{directory}/stdout");
    eventually("output", || {
        std::fs::read_to_string(&stdout).is_ok_and(|s| !s.is_empty())
    })
    .await;
    let listing = get_json(addr, &format!("/files/browse?path={directory}")).await;
    assert!(listing
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["path"] == stdout.as_str()));
    let read = get_json(addr, &format!("/files/read?path={stdout}&offset=0")).await;
    assert_eq!(
        read,
        serde_json::json!({"data": "hello-files\n", "offset": 0})
    );
    let size = get_json(addr, &format!("/files/read?path={stdout}&offset=-1")).await;
    assert_eq!(size["offset"], 12);
    let virtual_path = "/frameworks/fw-1/executors/t/runs/latest/stdout";
    let read = get_json(
        addr,
        &format!("/files/read?path={virtual_path}&offset=6&length=5"),
    )
    .await;
    assert_eq!(read["data"], "files");
    let (status, headers, body) = http(
        "GET",
        addr,
        &format!("/files/download?path={stdout}"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!((status, body.as_ref()), (200, b"hello-files\n".as_ref()));
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("stdout"));

    for (path, expected) in [
        ("/files/read?path=/etc/passwd".to_string(), 404),
        (
            format!("/files/read?path={directory}/../../../../../../../meta/agent_id"),
            400,
        ),
        (format!("/files/read?path={stdout}&offset=abc"), 400),
        (format!("/files/read?path={directory}"), 400),
        ("/files/browse".to_string(), 400),
        ("/no/such/endpoint".to_string(), 404),
    ] {
        let (status, _, body) = http("GET", addr, &path, &[], Vec::new()).await;
        assert_eq!(
            status,
            expected,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(!body.is_empty(), "{path} explains itself");
    }
    agent.shutdown().await;
}

#[tokio::test]
async fn http_wildcard_bind_advertises_a_reachable_address() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&master, dir.path().into());
    cfg.ip = "0.0.0.0".parse().unwrap();
    let agent = registered_agent(&mut master, cfg, "agent-1").await;
    let addr = agent.http_address();
    assert!(!addr.ip().is_unspecified(), "{addr}");
    let (status, _, _) = http("GET", addr, "/health", &[], Vec::new()).await;
    assert_eq!(status, 200);
    agent.shutdown().await;
}

#[tokio::test]
async fn http_executor_api_rejects_bad_calls_with_reasons() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let addr = agent.http_address();
    let path = "/api/v1/executor";

    let (status, _, body) = http("POST", addr, path, &[], b"{}".to_vec()).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = http(
        "POST",
        addr,
        path,
        &[("content-type", "text/plain")],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 415, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = http(
        "POST",
        addr,
        path,
        &[("content-type", "application/json")],
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("Failed to parse"));
    let (status, _, _) = http(
        "POST",
        addr,
        path,
        &[("content-type", "application/json")],
        br#"{"type":"SUBSCRIBE"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "required IDs are missing");
    let (status, _, _) = http(
        "POST",
        addr,
        path,
        &[("content-type", "application/x-protobuf")],
        vec![0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = http("GET", addr, path, &[], Vec::new()).await;
    assert_eq!(status, 405);

    let subscribe = Call {
        executor_id: v1::ExecutorId {
            value: "exec-1".into(),
        },
        framework_id: v1::FrameworkId {
            value: "fw-1".into(),
        },
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe::default()),
        ..Default::default()
    };
    let (status, _, body) = http(
        "POST",
        addr,
        path,
        &[("content-type", "application/json")],
        json::to_vec(&subscribe),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("not known"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, _, _) = http(
        "POST",
        addr,
        path,
        &[
            ("content-type", "application/json"),
            ("accept", "text/html"),
        ],
        json::to_vec(&subscribe),
    )
    .await;
    assert_eq!(status, 406);
    let update = Call {
        r#type: Some(call::Type::Update as i32),
        update: Some(call::Update {
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: "t".into() },
                state: TaskState::TaskRunning as i32,
                uuid: Some(vec![7; 16]),
                ..Default::default()
            },
        }),
        ..subscribe
    };
    let (status, _, body) = http(
        "POST",
        addr,
        path,
        &[("content-type", "application/json")],
        json::to_vec(&update),
    )
    .await;
    assert_eq!(
        status,
        400,
        "unknown executor: {}",
        String::from_utf8_lossy(&body)
    );
    agent.shutdown().await;
}
