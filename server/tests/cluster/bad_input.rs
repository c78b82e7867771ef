//! Bad input gets a clear error and changes nothing.

use meseta_proto::v1::{self, task_status::Reason, TaskState};

use crate::common::*;

const JSON: &str = "application/json";

#[test]
fn malformed_requests_get_4xx_and_the_master_keeps_running() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let post = |headers: &[(&str, &str)], body: &[u8]| {
        let (status, body) = request(&master, "POST", "/api/v1/scheduler", headers, body);
        (status, String::from_utf8_lossy(&body).to_string())
    };

    let (status, body) = post(&[("Content-Type", JSON)], b"{not json");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Failed to parse"), "{body}");

    let (status, body) = post(
        &[("Content-Type", "application/x-protobuf")],
        &[0xff, 0xff, 0xff],
    );
    assert_eq!(status, 400, "{body}");

    let (status, body) = post(&[], br#"{"type":"REVIVE"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Content-Type"), "{body}");
    let (status, body) = post(&[("Content-Type", "text/plain")], br#"{"type":"REVIVE"}"#);
    assert_eq!(status, 415, "{body}");

    let (status, body) = post(
        &[("Content-Type", JSON)],
        br#"{"type":"REVIVE","framework_id":{"value":"x"}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Mesos-Stream-Id"), "{body}");

    let (status, body) = post(
        &[("Content-Type", JSON), ("Mesos-Stream-Id", "made-up")],
        br#"{"type":"REVIVE","framework_id":{"value":"nobody"}}"#,
    );
    assert_eq!(status, 403, "{body}");

    let (status, body) = post(
        &[("Content-Type", JSON), ("Accept", JSON)],
        br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":""}}}"#,
    );
    assert_eq!(status, 400, "{body}");

    let (status, _) = post(
        &[("Content-Type", JSON), ("Accept", "text/html")],
        br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x"}}}"#,
    );
    assert_eq!(status, 406);

    let (status, _) = request(&master, "GET", "/health", &[], b"");
    assert_eq!(status, 200);
    let metrics = get_json(&master, "/metrics/snapshot").expect("metrics");
    assert_eq!(metrics["master/frameworks_active"], 0.0);
    assert_eq!(metrics["master/slaves_active"], 1.0);
}

#[test]
fn invalid_launches_are_refused_with_task_states_and_nothing_leaks() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let mut fw = TestFramework::start(&tc.master(), framework_info("invalid", false));
    let offer = fw.offers().remove(0);
    let greedy = command_task("greedy", &offer, "true", "cpus:4;mem:32");
    let ok = command_task("ok", &offer, "sleep 600", "cpus:0.5;mem:32");
    let duplicate = command_task("ok", &offer, "true", "cpus:0.1;mem:16");
    fw.driver.launch_tasks(
        std::slice::from_ref(&offer.id),
        vec![greedy, ok, duplicate],
        None,
    );
    let greedy = fw.terminal("greedy");
    assert_eq!(greedy.state, TaskState::TaskError as i32);
    assert_eq!(greedy.reason, Some(Reason::TaskInvalid as i32));
    assert!(greedy
        .message
        .unwrap_or_default()
        .contains("more resources"));
    let duplicate = fw.expect("duplicate refused", |e| match e {
        Ev::Update(s) if s.task_id.value == "ok" && s.state == TaskState::TaskError as i32 => {
            Some(s.clone())
        }
        _ => None,
    });
    assert!(duplicate.message.unwrap_or_default().contains("twice"));
    fw.state("ok", TaskState::TaskRunning);

    // A stale offer: every task in the call is dropped (LOST: not partition-aware).
    let stale = command_task("late", &offer, "true", "cpus:0.1;mem:16");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![stale], None);
    let late = fw.terminal("late");
    assert_eq!(late.state, TaskState::TaskLost as i32);
    assert_eq!(late.reason, Some(Reason::InvalidOffers as i32));

    let master = tc.master();
    let metrics = get_json(&master, "/metrics/snapshot").expect("metrics");
    assert_eq!(
        metrics["master/cpus_used"], 0.5,
        "only the valid task holds resources"
    );
    assert_eq!(metrics["master/tasks_running"], 1.0);
    let _ = v1::TaskId::default();
}
