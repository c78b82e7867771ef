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
    for (method, path) in [("GET", "/no/such/page"), ("POST", "/api/v2/scheduler")] {
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

/// `GET /metrics` on the master and on an agent: Prometheus's text format
/// as Prometheus's own checker reads it (`promtool check metrics`, which
/// also lints: `_total` on counters only, HELP everywhere), every
/// `/metrics/snapshot` figure under its Prometheus name, and the cluster's
/// real figures, labelled ones included. The framework's name needs every
/// escape a label value has (quote, backslash, line feed).
#[test]
fn metrics_are_served_in_prometheus_text_format() {
    let Some(promtool) = promtool() else {
        return;
    };
    // The checker is not vacuous: it refuses a counter without `_total`
    // and a label value with a bare quote.
    assert!(promtool_check(&promtool, "# HELP x X.\n# TYPE x counter\nx 1\n").is_err());
    assert!(promtool_check(&promtool, "# HELP y Y.\n# TYPE y gauge\ny{a=\"\"\"} 1\n").is_err());

    let tc = start_cluster(1, "cpus:2;mem:512;disk:100", &[]);
    let master = tc.master();
    let name = "metrics \"quoted\" back\\slash\nnewline";
    let escaped = r#"metrics \"quoted\" back\\slash\nnewline"#;
    let mut fw = TestFramework::start(&master, framework_info(name, false));
    let offer = fw.offers().remove(0);
    let task = command_task("web", &offer, "sleep 600", "cpus:0.5;mem:64");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("web", TaskState::TaskRunning);
    let fid = fw.id.as_str();

    let text = prometheus_text(&master, "/metrics");
    if let Err(problems) = promtool_check(&promtool, &text) {
        panic!("promtool on the master's /metrics: {problems}\n{text}");
    }
    let samples = samples_of(&text);
    let framework = format!(r#"framework_id="{fid}",framework_name="{escaped}""#);
    for line in [
        "mesos_master_elected 1".to_string(),
        "mesos_master_tasks_running 1".into(),
        "mesos_master_frameworks_active 1".into(),
        "mesos_master_slaves_active 1".into(),
        "mesos_master_cpus_capacity 2".into(),
        "mesos_master_cpus_used 0.5".into(),
        "mesos_master_messages_launch_tasks_total 1".into(),
        "mesos_master_tasks_finished_total 0".into(),
        r#"mesos_master_role_allocated{role="*",resource="cpus"} 0.5"#.into(),
        r#"mesos_master_role_allocated{role="*",resource="mem"} 64"#.into(),
        r#"mesos_master_role_allocated{role="*",resource="gpus"} 0"#.into(),
        format!(r#"mesos_master_framework_allocated{{{framework},role="*",resource="cpus"}} 0.5"#),
        format!(r#"mesos_master_framework_tasks{{{framework},state="TASK_RUNNING"}} 1"#),
        format!(r#"mesos_master_framework_tasks{{{framework},state="TASK_STAGING"}} 0"#),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
    assert!(samples
        .get("mesos_allocator_mesos_allocation_runs_total")
        .is_some_and(|runs| *runs >= 1.0));
    assert!(text.contains("# TYPE mesos_allocator_mesos_allocation_runs_total counter\n"));
    assert!(text.contains("# TYPE mesos_master_tasks_running gauge\n"));
    let snapshot = get_json(&master, "/metrics/snapshot").expect("master snapshot");
    assert_same_figures(
        &snapshot,
        &samples,
        &["mesos_master_role_", "mesos_master_framework_"],
    );

    let agent = tc.cluster.agents[0].address.clone();
    let text = prometheus_text(&agent, "/metrics");
    if let Err(problems) = promtool_check(&promtool, &text) {
        panic!("promtool on the agent's /metrics: {problems}\n{text}");
    }
    let samples = samples_of(&text);
    for line in [
        "mesos_slave_registered 1".to_string(),
        "mesos_slave_tasks_running 1".into(),
        "mesos_slave_cpus_capacity 2".into(),
        "mesos_slave_cpus_used 0.5".into(),
        "mesos_slave_mem_used 64".into(),
        "mesos_slave_tasks_finished_total 0".into(),
        format!(r#"mesos_slave_framework_tasks{{{framework},state="TASK_RUNNING"}} 1"#),
        format!(r#"mesos_slave_framework_tasks{{{framework},state="TASK_KILLING"}} 0"#),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
    let snapshot = get_json(&agent, "/metrics/snapshot").expect("agent snapshot");
    assert_same_figures(&snapshot, &samples, &["mesos_slave_framework_"]);
}

/// `promtool`, or `None` (loudly) where Debian's `prometheus` package that
/// brings it is not installed.
fn promtool() -> Option<std::path::PathBuf> {
    let promtool = std::path::PathBuf::from("promtool");
    match std::process::Command::new(&promtool)
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => Some(promtool),
        Ok(out) => panic!(
            "promtool --version: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(error) => {
            eprintln!(
                "SKIPPED (loudly): no promtool ({error}) to check /metrics; \
                 it comes with Debian's prometheus package (make test-deps)"
            );
            None
        }
    }
}

/// `promtool check metrics` on an exposition: its complaints if any.
fn promtool_check(promtool: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    let mut stdin = child.stdin.take().expect("promtool's stdin");
    stdin.write_all(text.as_bytes()).expect("write to promtool");
    drop(stdin);
    let out = child.wait_with_output().expect("promtool ends");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// GET an exposition: a 200 of Prometheus's content type.
fn prometheus_text(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP head");
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "GET {path}: {head}\n{body}"
    );
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8"),
        "GET {path}: {head}"
    );
    assert!(header("content-length").is_some(), "not chunked: {head}");
    body.to_string()
}

/// Series (name and labels, as written) → value.
fn samples_of(text: &str) -> std::collections::HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("series and value");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

/// The families without labels are exactly the snapshot's figures, under
/// their Prometheus names (the labelled ones start with one of `labelled`).
fn assert_same_figures(
    snapshot: &serde_json::Value,
    samples: &std::collections::HashMap<String, f64>,
    labelled: &[&str],
) {
    use meseta_proto::prometheus::{kind_of, metric_name};
    let mut expected: Vec<String> = snapshot
        .as_object()
        .expect("a flat object")
        .keys()
        .map(|key| metric_name(key, kind_of(key)).0)
        .collect();
    expected.sort();
    let mut served: Vec<String> = samples
        .keys()
        .filter(|s| !labelled.iter().any(|prefix| s.starts_with(prefix)))
        .cloned()
        .collect();
    served.sort();
    assert_eq!(served, expected);
}
