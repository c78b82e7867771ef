//! The master's operator API (`POST /api/v1`) against real processes: every
//! read in JSON and protobuf, the calls that change the cluster, and bad
//! input refused with nothing changed.

use meseta_proto::master::{call, response, Call, Response};
use meseta_proto::v1::TaskState;
use meseta_proto::Message;
use serde_json::{json, Value};

use crate::common::*;

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/x-protobuf";

fn call_protobuf(master: &str, kind: call::Type) -> Response {
    let call = Call {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    let headers = [("Content-Type", PROTOBUF), ("Accept", PROTOBUF)];
    let (status, body) = request(master, "POST", "/api/v1", &headers, &call.encode_to_vec());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    Response::decode(body.as_slice()).expect("a protobuf Response")
}

fn get(master: &str, kind: &str) -> Value {
    let (status, answer) = call_json(master, json!({ "type": kind }));
    assert_eq!(status, 200, "{kind}: {answer}");
    assert_eq!(answer["type"], kind, "{answer}");
    answer
}

#[test]
fn reads_answer_in_json_and_protobuf_with_the_clusters_state() {
    let tc = start_cluster(2, "cpus:2;mem:512", &[]);
    let master = tc.master();
    let mut fw = TestFramework::start(&master, framework_info("operated", false));
    let offer = fw.offers().remove(0);
    let task = command_task("web", &offer, "sleep 600", "cpus:0.5;mem:64");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("web", TaskState::TaskRunning);

    assert_eq!(get(&master, "GET_HEALTH")["get_health"]["healthy"], true);
    let version = get(&master, "GET_VERSION");
    assert!(version["get_version"]["version_info"]["version"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    let flags = get(&master, "GET_FLAGS");
    let registry = flags["get_flags"]["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == "registry");
    assert_eq!(
        registry.map(|f| &f["value"]),
        Some(&json!("local")),
        "{flags}"
    );
    let metrics = get(&master, "GET_METRICS");
    let running = metrics["get_metrics"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == "master/tasks_running");
    assert_eq!(running.map(|m| &m["value"]), Some(&json!(1.0)), "{metrics}");

    let state = get(&master, "GET_STATE");
    let state = &state["get_state"];
    assert_eq!(state["get_tasks"]["tasks"][0]["task_id"]["value"], "web");
    assert_eq!(state["get_tasks"]["tasks"][0]["state"], "TASK_RUNNING");
    assert_eq!(
        state["get_agents"]["agents"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        state["get_frameworks"]["frameworks"][0]["framework_info"]["name"],
        "operated"
    );
    assert_eq!(state["get_frameworks"]["frameworks"][0]["connected"], true);
    let agents = get(&master, "GET_AGENTS");
    let on_web = agents["get_agents"]["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["agent_info"]["id"]["value"] == offer.agent_id.value.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(on_web["active"], true, "{agents}");
    let allocated_cpus: f64 = on_web["allocated_resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == "cpus")
        .filter_map(|r| r["scalar"]["value"].as_f64())
        .sum();
    assert_eq!(allocated_cpus, 0.5, "{on_web}");
    let roles = get(&master, "GET_ROLES");
    assert_eq!(roles["get_roles"]["roles"][0]["name"], "*", "{roles}");
    assert_eq!(
        roles["get_roles"]["roles"][0]["frameworks"][0]["value"],
        fw.id.as_str()
    );
    let info = get(&master, "GET_MASTER");
    assert!(
        info["get_master"]["master_info"]["id"].is_string(),
        "{info}"
    );
    get(&master, "GET_EXECUTORS");
    get(&master, "GET_TASKS");
    get(&master, "GET_FRAMEWORKS");
    get(&master, "GET_OPERATIONS");

    // The same state in protobuf.
    let answer = call_protobuf(&master, call::Type::GetState);
    assert_eq!(answer.r#type, Some(response::Type::GetState as i32));
    let state = answer.get_state.expect("get_state");
    let tasks = state.get_tasks.expect("get_tasks").tasks;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].task_id.value, "web");
    assert_eq!(state.get_agents.expect("get_agents").agents.len(), 2);
    let health = call_protobuf(&master, call::Type::GetHealth);
    assert_eq!(health.get_health.map(|h| h.healthy), Some(true));
}

#[test]
fn bad_calls_are_refused_and_change_nothing() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let fw = TestFramework::start(&master, framework_info("kept", false));
    let (status, _) = request(&master, "POST", "/api/v1", &[], br#"{"type":"GET_HEALTH"}"#);
    assert_eq!(status, 400, "no Content-Type");
    let headers = [("Content-Type", "text/plain")];
    let (status, _) = request(
        &master,
        "POST",
        "/api/v1",
        &headers,
        br#"{"type":"GET_HEALTH"}"#,
    );
    assert_eq!(status, 415);
    let headers = [("Content-Type", JSON), ("Accept", "text/html")];
    let (status, _) = request(
        &master,
        "POST",
        "/api/v1",
        &headers,
        br#"{"type":"GET_HEALTH"}"#,
    );
    assert_eq!(status, 406);
    for body in [
        json!("not a call"),
        json!({}),
        json!({ "type": "NO_SUCH_CALL" }),
        json!({ "type": "TEARDOWN" }),
        json!({ "type": "TEARDOWN", "teardown": { "framework_id": { "value": "nobody" } } }),
        json!({ "type": "MARK_AGENT_GONE", "mark_agent_gone": { "agent_id": { "value": "nowhere" } } }),
        json!({ "type": "DEACTIVATE_AGENT", "deactivate_agent": { "agent_id": { "value": "nowhere" } } }),
    ] {
        let (status, answer) = call_json(&master, body.clone());
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer.as_str().is_some_and(|m| !m.is_empty()),
            "{body}: a reason"
        );
    }
    let (status, _) = request(
        &master,
        "POST",
        "/api/v1",
        &[("Content-Type", PROTOBUF)],
        &[0xff, 0xff, 0xff],
    );
    assert_eq!(status, 400);
    let state = get(&master, "GET_STATE");
    let frameworks = &state["get_state"]["get_frameworks"]["frameworks"];
    assert_eq!(
        frameworks[0]["framework_info"]["id"]["value"],
        fw.id.as_str()
    );
    let agents = &state["get_state"]["get_agents"]["agents"];
    assert_eq!(agents[0]["active"], true);
}

#[test]
fn operators_deactivate_and_reactivate_agents_and_tear_frameworks_down() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let mut fw = TestFramework::start(&master, framework_info("doomed", false));
    let offer = fw.offers().remove(0);
    let agent_id = offer.agent_id.value.clone();
    let task = command_task("long", &offer, "sleep 600", "cpus:0.5;mem:64");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("long", TaskState::TaskRunning);

    let agent = json!({ "agent_id": { "value": agent_id } });
    let (status, answer) = call_json(
        &master,
        json!({ "type": "DEACTIVATE_AGENT", "deactivate_agent": agent }),
    );
    assert_eq!(status, 200, "{answer}");
    let agents = get(&master, "GET_AGENTS");
    assert_eq!(agents["get_agents"]["agents"][0]["active"], false);
    assert_eq!(agents["get_agents"]["agents"][0]["deactivated"], true);
    // A deactivated agent is not offered.
    fw.driver.revive_offers();
    assert!(
        fw.try_offers(std::time::Duration::from_secs(2)).is_none(),
        "no offers from a deactivated agent"
    );
    let (status, answer) = call_json(
        &master,
        json!({ "type": "REACTIVATE_AGENT", "reactivate_agent": agent }),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        get(&master, "GET_AGENTS")["get_agents"]["agents"][0]["active"],
        true
    );
    let offers = fw.offers();
    assert_eq!(offers[0].agent_id.value, agent_id);

    let (status, answer) = call_json(
        &master,
        json!({ "type": "TEARDOWN", "teardown": { "framework_id": { "value": fw.id } } }),
    );
    assert_eq!(status, 200, "{answer}");
    let state = get(&master, "GET_STATE");
    let frameworks = &state["get_state"]["get_frameworks"];
    assert_eq!(
        frameworks["frameworks"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0),
        0
    );
    assert_eq!(
        frameworks["completed_frameworks"][0]["framework_info"]["id"]["value"],
        fw.id.as_str()
    );
    wait_until(DEADLINE, "the torn-down framework's task killed", || {
        get_json(&tc.cluster.agents[0].address, "/state")
            .map(|s| s["frameworks"].as_array().is_some_and(Vec::is_empty))
            .unwrap_or(false)
    });
}

/// An operator SUBSCRIBE stream read over HTTP/1.0 (the body ends with the
/// connection, no chunking), one RecordIO record per event.
struct OperatorStream {
    stream: std::net::TcpStream,
    decoder: meseta_proto::recordio::Decoder,
}

impl OperatorStream {
    fn open(master: &str) -> Self {
        use std::io::{Read, Write};
        let body = br#"{"type":"SUBSCRIBE"}"#;
        let mut stream = std::net::TcpStream::connect(master).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        write!(
            stream,
            "POST /api/v1 HTTP/1.0\r\nHost: {master}\r\nContent-Type: {JSON}\r\nAccept: {JSON}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .expect("write");
        stream.write_all(body).expect("write");
        // The head, byte by byte up to the blank line.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).expect("the response head");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        Self {
            stream,
            decoder: meseta_proto::recordio::Decoder::new(),
        }
    }

    fn next(&mut self) -> Value {
        use std::io::Read;
        loop {
            if let Some(record) = self.decoder.next_record().expect("RecordIO") {
                return serde_json::from_slice(&record).expect("a JSON event");
            }
            let mut buffer = [0u8; 8192];
            let read = self.stream.read(&mut buffer).expect("the event stream");
            assert!(read > 0, "the stream ended");
            self.decoder.feed(&buffer[..read]);
        }
    }

    /// The next event of type `kind` (HEARTBEATs and others skipped).
    fn expect(&mut self, kind: &str, mut matches: impl FnMut(&Value) -> bool) -> Value {
        loop {
            let event = self.next();
            if event["type"] == kind && matches(&event) {
                return event;
            }
        }
    }
}

#[test]
fn subscribe_streams_the_state_then_every_change_in_order() {
    let tc = start_cluster(
        1,
        "cpus:1;mem:256",
        &[
            "--agent-ping-timeout",
            "300ms",
            "--max-agent-ping-timeouts",
            "2",
        ],
    );
    let master = tc.master();
    let mut stream = OperatorStream::open(&master);
    let subscribed = stream.next();
    assert_eq!(subscribed["type"], "SUBSCRIBED", "{subscribed}");
    let state = &subscribed["subscribed"]["get_state"];
    assert_eq!(
        state["get_agents"]["agents"].as_array().map(Vec::len),
        Some(1),
        "{state}"
    );
    assert!(subscribed["subscribed"]["heartbeat_interval_seconds"].as_f64() > Some(0.0));

    assert_eq!(stream.next()["type"], "HEARTBEAT", "a heartbeat at once");

    let mut fw = TestFramework::start(&master, framework_info("watched", false));
    let added = stream.expect("FRAMEWORK_ADDED", |_| true);
    assert_eq!(
        added["framework_added"]["framework"]["framework_info"]["name"],
        "watched"
    );
    let offer = fw.offers().remove(0);
    let task = command_task("short", &offer, "true", "cpus:0.1;mem:32");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    let added = stream.expect("TASK_ADDED", |_| true);
    assert_eq!(added["task_added"]["task"]["task_id"]["value"], "short");
    assert_eq!(added["task_added"]["task"]["state"], "TASK_STAGING");
    // Then its updates, in the order they happened (`state` is the
    // task's latest state when each arrived, which may run ahead).
    let mut states = Vec::new();
    while states.last().map(String::as_str) != Some("TASK_FINISHED") {
        let update = stream.expect("TASK_UPDATED", |_| true);
        assert_eq!(
            update["task_updated"]["status"]["task_id"]["value"],
            "short"
        );
        states.push(
            update["task_updated"]["status"]["state"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
        );
    }
    assert_eq!(states, ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);

    // An agent that goes silent is removed.
    let agent_id = offer.agent_id.value.clone();
    tc.cluster.agents[0].pause();
    let removed = stream.expect("AGENT_REMOVED", |_| true);
    assert_eq!(
        removed["agent_removed"]["agent_id"]["value"],
        agent_id.as_str()
    );
    tc.cluster.agents[0].resume();

    fw.driver.stop(false);
    let removed = stream.expect("FRAMEWORK_REMOVED", |_| true);
    assert_eq!(
        removed["framework_removed"]["framework_info"]["name"],
        "watched"
    );
}

/// A JSON call to an agent's operator API (the same path as the master's).
fn agent_call(agent: &str, body: Value) -> (u16, Value) {
    call_json(agent, body)
}

#[test]
fn agents_answer_reads_and_kill_and_wait_for_containers() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let agent = tc.cluster.agents[0].address.clone();
    let mut fw = TestFramework::start(&master, framework_info("contained", false));
    let offer = fw.offers().remove(0);
    let task = command_task("victim", &offer, "sleep 600", "cpus:0.25;mem:32");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    let running = fw.state("victim", TaskState::TaskRunning);

    for kind in [
        "GET_HEALTH",
        "GET_VERSION",
        "GET_FLAGS",
        "GET_METRICS",
        "GET_AGENT",
    ] {
        let (status, answer) = agent_call(&agent, json!({ "type": kind }));
        assert_eq!(status, 200, "{kind}: {answer}");
        assert_eq!(answer["type"], kind);
    }
    let (_, state) = agent_call(&agent, json!({ "type": "GET_STATE" }));
    let launched = &state["get_state"]["get_tasks"]["launched_tasks"];
    assert_eq!(launched[0]["task_id"]["value"], "victim", "{state}");
    assert_eq!(launched[0]["state"], "TASK_RUNNING");
    assert_eq!(
        state["get_state"]["get_frameworks"]["frameworks"][0]["framework_info"]["name"],
        "contained"
    );
    let (_, containers) = agent_call(&agent, json!({ "type": "GET_CONTAINERS" }));
    let container = containers["get_containers"]["containers"][0]["container_id"].clone();
    let reported = running
        .container_status
        .and_then(|s| s.container_id)
        .map(|id| id.value)
        .unwrap_or_default();
    assert_eq!(container["value"], reported.as_str(), "{containers}");
    // With its live usage and its process.
    let first = &containers["get_containers"]["containers"][0];
    assert!(
        first["resource_statistics"]["timestamp"]
            .as_f64()
            .unwrap_or_default()
            > 0.0,
        "{containers}"
    );
    assert!(
        first["resource_statistics"]["mem_rss_bytes"]
            .as_u64()
            .is_some(),
        "{containers}"
    );
    assert!(
        first["container_status"]["executor_pid"]
            .as_u64()
            .unwrap_or_default()
            > 0,
        "{containers}"
    );

    let (status, _) = agent_call(
        &agent,
        json!({ "type": "KILL_CONTAINER", "kill_container": { "container_id": { "value": "no-such" } } }),
    );
    assert_eq!(status, 404);
    let (status, answer) = agent_call(
        &agent,
        json!({ "type": "KILL_CONTAINER", "kill_container": { "container_id": container } }),
    );
    assert_eq!(status, 200, "{answer}");
    let killed = fw.terminal("victim");
    assert_eq!(killed.state, TaskState::TaskKilled as i32, "{killed:?}");
    let (status, answer) = agent_call(
        &agent,
        json!({ "type": "WAIT_CONTAINER", "wait_container": { "container_id": container } }),
    );
    // The container has ended (or is already gone from the agent).
    assert!(status == 200 || status == 404, "{status}: {answer}");
}

#[test]
fn draining_an_agent_kills_its_tasks_and_reactivation_brings_it_back() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let mut fw = TestFramework::start(&master, framework_info("drained", false));
    let offer = fw.offers().remove(0);
    let agent_id = offer.agent_id.value.clone();
    let task = command_task("busy", &offer, "sleep 600", "cpus:0.5;mem:64");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("busy", TaskState::TaskRunning);

    let (status, answer) = call_json(
        &master,
        json!({ "type": "DRAIN_AGENT", "drain_agent": {
            "agent_id": { "value": agent_id },
            "max_grace_period": { "seconds": 1 }
        } }),
    );
    assert_eq!(status, 200, "{answer}");
    let killed = fw.terminal("busy");
    assert_eq!(killed.state, TaskState::TaskKilled as i32, "{killed:?}");
    wait_until(DEADLINE, "the agent drained", || {
        let agents = get(&master, "GET_AGENTS");
        agents["get_agents"]["agents"][0]["drain_info"]["state"] == "DRAINED"
    });
    let (status, answer) = call_json(
        &master,
        json!({ "type": "REACTIVATE_AGENT", "reactivate_agent": { "agent_id": { "value": agent_id } } }),
    );
    assert_eq!(status, 200, "{answer}");
    let agents = get(&master, "GET_AGENTS");
    assert_eq!(agents["get_agents"]["agents"][0]["active"], true);
    assert!(agents["get_agents"]["agents"][0]["drain_info"].is_null());
}

#[test]
fn the_logging_level_is_raised_for_a_while_then_falls_back() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let agent = tc.cluster.agents[0].address.clone();
    for address in [&master, &agent] {
        let level = |address: &str| {
            let (status, answer) = call_json(address, json!({ "type": "GET_LOGGING_LEVEL" }));
            assert_eq!(status, 200, "{answer}");
            answer["get_logging_level"]["level"].as_u64()
        };
        assert_eq!(level(address), Some(0));
        let (status, answer) = call_json(
            address,
            json!({ "type": "SET_LOGGING_LEVEL", "set_logging_level": {
                "level": 2, "duration": { "nanoseconds": 1_000_000_000u64 } } }),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(level(address), Some(2));
        wait_until(DEADLINE, "the level back to 0", || {
            level(address) == Some(0)
        });
        let (status, _) = call_json(
            address,
            json!({ "type": "SET_LOGGING_LEVEL", "set_logging_level": {
                "level": 1, "duration": { "nanoseconds": -1 } } }),
        );
        assert_eq!(status, 400, "a negative duration is refused");
        assert_eq!(level(address), Some(0), "and changes nothing");
    }
}

#[test]
fn agents_list_and_read_sandbox_files_and_masters_filter_legacy_lists() {
    let tc = start_cluster(2, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let mut fw = TestFramework::start(&master, framework_info("filed", false));
    let offer = fw.offers().remove(0);
    let task = command_task(
        "writer",
        &offer,
        "echo hello-files; sleep 600",
        "cpus:0.25;mem:32",
    );
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("writer", TaskState::TaskRunning);
    let agent = tc
        .cluster
        .agents
        .iter()
        .map(|a| a.address.clone())
        .find(|address| {
            get_json(address, "/state").is_ok_and(|s| s["id"] == offer.agent_id.value.as_str())
        })
        .expect("the task's agent");
    let state = get_json(&agent, "/state").expect("state");
    let sandbox = state["frameworks"][0]["executors"][0]["directory"]
        .as_str()
        .expect("a sandbox")
        .to_string();

    let (status, listed) = call_json(
        &agent,
        json!({ "type": "LIST_FILES", "list_files": { "path": sandbox } }),
    );
    assert_eq!(status, 200, "{listed}");
    let names: Vec<&str> = listed["list_files"]["file_infos"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(
        names.contains(&format!("{sandbox}/stdout").as_str()),
        "{listed}"
    );
    let stdout = format!("{sandbox}/stdout");
    wait_until(DEADLINE, "the line in stdout", || {
        let (status, read) = call_json(
            &agent,
            json!({ "type": "READ_FILE", "read_file": { "path": stdout, "offset": 0 } }),
        );
        // "hello-files\n", base64 in Mesos's JSON.
        status == 200 && read["read_file"]["data"] == "aGVsbG8tZmlsZXMK"
    });
    for bad in [
        json!({ "type": "READ_FILE", "read_file": { "path": "/etc/passwd", "offset": 0 } }),
        json!({ "type": "LIST_FILES", "list_files": { "path": "/nowhere" } }),
    ] {
        let (status, answer) = call_json(&agent, bad.clone());
        assert_eq!(status, 404, "{bad}: {answer}");
    }
    let (status, _) = call_json(&agent, json!({ "type": "READ_FILE" }));
    assert_eq!(status, 400);

    // The legacy lists filter by ID, as Mesos does.
    let one = get_json(
        &master,
        &format!("/master/slaves?slave_id={}", offer.agent_id.value),
    )
    .expect("slaves");
    assert_eq!(one["slaves"].as_array().map(Vec::len), Some(1));
    let none = get_json(&master, "/master/slaves?slave_id=nobody").expect("slaves");
    assert_eq!(none["slaves"].as_array().map(Vec::len), Some(0));
    let mine = get_json(
        &master,
        &format!("/master/frameworks?framework_id={}", fw.id),
    )
    .expect("frameworks");
    assert_eq!(mine["frameworks"].as_array().map(Vec::len), Some(1));
    let other = get_json(&master, "/master/frameworks?framework_id=other").expect("frameworks");
    assert_eq!(other["frameworks"].as_array().map(Vec::len), Some(0));
}
