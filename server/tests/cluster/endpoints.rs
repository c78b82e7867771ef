//! The read endpoints existing Mesos tools use: same paths, same keys.

use meseta_proto::v1::TaskState;

use crate::common::*;

#[test]
fn legacy_endpoints_show_the_cluster_with_mesos_keys() {
    let tc = start_cluster(2, "cpus:2;mem:512;disk:100;ports:[31000-31009]", &[]);
    let master = tc.master();
    let mut fw = TestFramework::start(&master, framework_info("endpoints", false));
    let offer = fw.offers().remove(0);
    let task = command_task(
        "web",
        &offer,
        "sleep 600",
        "cpus:0.5;mem:64;ports:[31000-31000]",
    );
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("web", TaskState::TaskRunning);

    for path in ["/master/state", "/state.json", "/state"] {
        let state = get_json(&master, path).expect(path);
        assert_eq!(state["activated_slaves"], 2, "{path}");
        assert_eq!(state["leader"], state["pid"], "{path}");
        let framework = &state["frameworks"][0];
        assert_eq!(framework["name"], "endpoints");
        assert_eq!(framework["tasks"][0]["id"], "web");
        assert_eq!(framework["tasks"][0]["state"], "TASK_RUNNING");
        assert_eq!(framework["tasks"][0]["resources"]["ports"], "[31000-31000]");
        assert_eq!(framework["used_resources"]["cpus"], 0.5);
    }
    let flags = &get_json(&master, "/master/state").expect("state")["flags"];
    assert_eq!(flags["registry"], "local", "{flags}");
    assert_eq!(flags["max_agent_ping_timeouts"], "5", "{flags}");
    assert!(flags["allocation_interval"].is_string(), "{flags}");
    let state = get_json(&master, "/master/state").expect("state");
    assert_eq!(
        state["capabilities"],
        serde_json::json!(["AGENT_UPDATE", "AGENT_DRAINING"])
    );
    let summary = get_json(&master, "/master/state-summary").expect("state-summary");
    assert_eq!(summary["frameworks"][0]["TASK_RUNNING"], 1);
    assert_eq!(summary["slaves"].as_array().map(Vec::len), Some(2));
    let frameworks = get_json(&master, "/master/frameworks").expect("frameworks");
    assert_eq!(frameworks["frameworks"][0]["id"], fw.id.as_str());
    let slaves = get_json(&master, "/master/slaves").expect("slaves");
    let total_cpus: f64 = slaves["slaves"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["resources"]["cpus"].as_f64())
        .sum();
    assert_eq!(total_cpus, 4.0);
    let tasks = get_json(&master, "/master/tasks?limit=10").expect("tasks");
    assert_eq!(tasks["tasks"][0]["slave_id"], offer.agent_id.value.as_str());
    // Parameters read as Mesos reads them: what is not a number is the
    // default, a negative limit is no limit, a negative offset skips all.
    let count = |path: &str| {
        get_json(&master, path).expect(path)["tasks"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(count("/master/tasks?limit=ten"), 1);
    assert_eq!(count("/master/tasks?order=asc&limit=-1"), 1);
    assert_eq!(count("/master/tasks?limit=0"), 0);
    assert_eq!(count("/master/tasks?offset=-1"), 0);
    assert_eq!(count("/master/tasks?offset=1"), 0);
    assert_eq!(count(&format!("/master/tasks?framework_id={}", fw.id)), 1);
    assert_eq!(count("/master/tasks?framework_id=other"), 0);
    assert_eq!(count("/master/tasks?task_id=web"), 1);
    assert_eq!(count("/master/tasks?task_id=db"), 0);

    let metrics = get_json(&master, "/metrics/snapshot").expect("metrics");
    for (key, value) in [
        ("master/elected", 1.0),
        ("master/tasks_running", 1.0),
        ("master/cpus_total", 4.0),
        ("master/cpus_used", 0.5),
        ("master/slaves_active", 2.0),
        ("master/frameworks_active", 1.0),
        ("master/messages_register_framework", 1.0),
        ("master/messages_launch_tasks", 1.0),
        ("master/messages_kill_task", 0.0),
    ] {
        assert_eq!(metrics[key], value, "{key}");
    }
    assert!(
        metrics["master/messages_status_update"].as_f64() >= Some(2.0),
        "STARTING and RUNNING: {metrics}"
    );

    let (status, _) = request(&master, "GET", "/master/redirect", &[], b"");
    assert_eq!(status, 307);
    let version = get_json(&master, "/version").expect("version");
    assert!(version["version"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    let (status, _) = request(&master, "GET", "/health", &[], b"");
    assert_eq!(status, 200);

    let agent =
        get_json(&tc.cluster.agents[0].address, "/metrics/snapshot").expect("agent metrics");
    assert!(agent["slave/cpus_total"].as_f64().is_some(), "{agent}");
}

#[test]
fn unknown_paths_are_not_found_while_agents_keep_their_grpc_link() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/no/such/page"),
        ("POST", "/api/v2/scheduler"),
    ] {
        let (status, body) = request(&master, method, path, &[], b"");
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(body.contains(path), "{method} {path}: {body}");
    }
    // Browsers on another origin (the UI on one master, the leader or an
    // agent elsewhere) are let through.
    let preflight = [
        ("Origin", "http://elsewhere:5050"),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ];
    let (status, _) = request(&master, "OPTIONS", "/api/v1", &preflight, b"");
    assert_eq!(status, 200, "CORS preflight on the master");
    let agent = tc.cluster.agents[0].address.clone();
    let (status, _) = request(&agent, "OPTIONS", "/api/v1", &preflight, b"");
    assert_eq!(status, 200, "CORS preflight on an agent");
    // A gRPC client asking for a method nobody serves still hears gRPC.
    let (status, _) = request(
        &master,
        "POST",
        "/meseta.cluster.Nothing/Here",
        &[("Content-Type", "application/grpc")],
        b"",
    );
    assert_eq!(status, 200);
    // The agent registered over gRPC on the same port, and stays.
    wait_for_active_agent(&tc, None);
    let state = get_json(&master, "/master/state").expect("state");
    assert_eq!(state["activated_slaves"], 1);
}
