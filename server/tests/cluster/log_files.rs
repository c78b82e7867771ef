//! Masters and agents started with `--log-dir` write their log there and
//! serve it at Mesos's paths (`/master/log`, `/slave/log`) through
//! `/files/*` and the operator API's LIST_FILES and READ_FILE; without it,
//! and for any other path, a 404 that says why.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

fn list(address: &str, path: &str) -> (u16, Value) {
    call_json(
        address,
        json!({ "type": "LIST_FILES", "list_files": { "path": path } }),
    )
}

/// READ_FILE's data as text.
fn read(address: &str, path: &str) -> String {
    let (status, answer) = call_json(
        address,
        json!({ "type": "READ_FILE", "read_file": { "path": path, "offset": 0 } }),
    );
    assert_eq!(status, 200, "{answer}");
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD
        .decode(answer["read_file"]["data"].as_str().unwrap_or_default())
        .expect("base64");
    assert_eq!(
        answer["read_file"]["size"].as_u64(),
        Some(data.len() as u64),
        "the whole (small) log"
    );
    String::from_utf8_lossy(&data).into_owned()
}

#[test]
fn a_master_serves_its_log_file() {
    let logs = tempfile::tempdir().expect("temp dir");
    let dir = logs.path().display().to_string();
    let tc = start_cluster(1, "cpus:1;mem:128", &["--log-dir", &dir]);
    let master = tc.master();

    let (status, listed) = list(&master, "/master/log");
    assert_eq!(status, 200, "{listed}");
    let file = &listed["list_files"]["file_infos"][0];
    assert_eq!(file["path"], "/master/log", "{listed}");
    assert!(file["size"].as_u64().unwrap_or_default() > 0, "{listed}");
    assert!(read(&master, "/master/log").contains("master starting"));
    let written = std::fs::read_to_string(logs.path().join("meseta-master.log")).expect("the file");
    assert!(written.contains("master starting"), "{written}");

    let chunk = get_json(&master, "/files/read?path=/master/log&offset=0").expect("/files/read");
    assert!(chunk["data"]
        .as_str()
        .unwrap_or_default()
        .contains("master starting"));
    let browsed = get_json(&master, "/files/browse?path=/master/log").expect("/files/browse");
    assert_eq!(browsed[0]["path"], "/master/log", "{browsed}");
    let debug = get_json(&master, "/files/debug").expect("/files/debug");
    assert!(debug["/master/log"]
        .as_str()
        .unwrap_or_default()
        .ends_with("meseta-master.log"));
    let (_, flags) = call_json(&master, json!({ "type": "GET_FLAGS" }));
    let flags = flags["get_flags"]["flags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(flags
        .iter()
        .any(|f| f["name"] == "log_dir" && f["value"] == dir.as_str()));

    let (status, answer) = list(&master, "/etc");
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = call_json(&master, json!({ "type": "LIST_FILES" }));
    assert_eq!(status, 400, "{answer}");
    // The agent was started without --log-dir.
    let agent = tc.cluster.agents[0].address.clone();
    let (status, answer) = list(&agent, "/slave/log");
    assert_eq!(status, 404, "{answer}");
    assert!(answer.to_string().contains("--log-dir"), "{answer}");
}

#[test]
fn an_agent_serves_its_log_file() {
    let logs = tempfile::tempdir().expect("temp dir");
    let dir = logs.path().display().to_string();
    let tc = cluster_with_agent_args("cpus:1;mem:128", &["--log-dir", &dir]);
    let agent = tc.cluster.agents[0].address.clone();
    let (status, listed) = list(&agent, "/slave/log");
    assert_eq!(status, 200, "{listed}");
    assert!(read(&agent, "/slave/log").contains("agent starting"));
    // The master books the agent a moment before the agent hears back and
    // logs it.
    wait_until(
        Duration::from_secs(10),
        "the agent's log to say it registered",
        || {
            get_json(&agent, "/files/read?path=/slave/log&offset=0")
                .map(|chunk| {
                    chunk["data"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("registered with the master")
                })
                .unwrap_or(false)
        },
    );
    // The master has no log file here.
    let (status, answer) = list(&tc.master(), "/master/log");
    assert_eq!(status, 404, "{answer}");
}
