//! The operator commands of the `meseta` binary against a real cluster:
//! `tasks`, `agents`, `frameworks` (tables and `--json`) and `logs`
//! (`--follow` included), and their one-line errors.

use std::process::{Command, Output, Stdio};

use meseta_proto::v1::TaskState;

use crate::common::*;

pub(crate) fn meseta(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meseta"))
        .args(args)
        .env_remove("MESOS_MASTER")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("meseta runs")
}

pub(crate) fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The one line a failed command prints (its log lines aside).
pub(crate) fn failure(output: &Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("meseta: "))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {stderr}");
    lines[0].to_string()
}

#[test]
fn tables_json_and_logs_show_what_runs() {
    let tc = start_cluster(1, "cpus:2;mem:512", &[]);
    let master = tc.master();
    let mut fw = TestFramework::start(&master, framework_info("cli-watched", false));
    let offer = fw.offers().remove(0);
    let marker = tempfile::tempdir().expect("temp dir");
    let go = marker.path().join("go");
    // Writes a line, waits for the test's signal, writes another, ends.
    let command = format!(
        "echo first line; while [ ! -e {go} ]; do sleep 0.05; done; echo second line; echo oops >&2",
        go = go.display()
    );
    let task = command_task("chatty", &offer, &command, "cpus:0.5;mem:64");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("chatty", TaskState::TaskRunning);

    let tasks = stdout(&meseta(&["tasks", "--master", &master]));
    let mut lines = tasks.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("ID") && header.contains("STATE"),
        "{tasks}"
    );
    let row = lines.find(|l| l.starts_with("chatty")).unwrap_or_default();
    assert!(
        row.contains("TASK_RUNNING") && row.contains(&fw.id),
        "{tasks}"
    );
    assert!(row.contains("0.5"), "{tasks}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&meseta(&["tasks", "--master", &master, "--json"])))
            .expect("--json prints JSON");
    assert_eq!(json["tasks"][0]["task_id"]["value"], "chatty");

    let agents = stdout(&meseta(&["agents", "--master", &master]));
    assert_eq!(agents.lines().count(), 2, "{agents}");
    assert!(agents.contains("0.5/2"), "cpus in use/total: {agents}");
    let frameworks = stdout(&meseta(&["frameworks", "--master", &master]));
    assert!(frameworks.contains("cli-watched"), "{frameworks}");
    let (status, answer) = call_json(
        &master,
        serde_json::json!({"type": "UPDATE_QUOTA", "update_quota": {"force": true, "quota_configs": [
            {"role": "*", "guarantees": {"cpus": {"value": 1}}}]}}),
    );
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = call_json(
        &master,
        serde_json::json!({"type": "UPDATE_QUOTA", "update_quota": {"force": true, "quota_configs": [
            {"role": "eng", "guarantees": {"cpus": {"value": 1}}, "limits": {"cpus": {"value": 2}, "mem": {"value": 512}}}]}}),
    );
    assert_eq!(status, 200, "{answer}");
    let slaves = get_json(&master, "/master/slaves").expect("/master/slaves");
    let agent_id = slaves["slaves"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, answer) = call_json(
        &master,
        serde_json::json!({"type": "RESERVE_RESOURCES", "reserve_resources": {
            "agent_id": {"value": agent_id},
            "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 64},
                           "reservations": [{"type": "DYNAMIC", "role": "ml"}]}]}}),
    );
    assert_eq!(status, 200, "{answer}");
    let roles = stdout(&meseta(&["roles", "--master", &master]));
    let ml = roles
        .lines()
        .find(|l| l.starts_with("ml "))
        .unwrap_or_default();
    assert!(
        ml.contains("mem:64"),
        "what agents reserved for ml: {roles}"
    );
    let star = roles
        .lines()
        .find(|l| l.starts_with("* "))
        .unwrap_or_default();
    assert!(
        star.contains("0.5"),
        "the default role holds the task's cpus: {roles}"
    );
    let eng = roles
        .lines()
        .find(|l| l.starts_with("eng "))
        .unwrap_or_default();
    assert!(
        eng.contains("cpus:1") && eng.contains("cpus:2 mem:512"),
        "{roles}"
    );

    wait_until(DEADLINE, "the first line in the sandbox", || {
        let output = meseta(&["logs", "chatty", "--master", &master]);
        output.status.success() && String::from_utf8_lossy(&output.stdout) == "first line\n"
    });
    // --follow prints what comes later, and ends with the task.
    let follower = Command::new(env!("CARGO_BIN_EXE_meseta"))
        .args(["logs", "chatty", "--follow", "--master", &master])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("meseta logs --follow");
    std::fs::write(&go, b"").expect("signal the task");
    fw.state("chatty", TaskState::TaskFinished);
    let followed = follower.wait_with_output().expect("the follower ends");
    assert_eq!(stdout(&followed), "first line\nsecond line\n");
    let stderr = stdout(&meseta(&[
        "logs", "chatty", "--stderr", "--master", &master,
    ]));
    assert_eq!(stderr, "oops\n");
    let all = stdout(&meseta(&["tasks", "--all", "--master", &master]));
    assert!(all.contains("TASK_FINISHED"), "{all}");
}

#[test]
fn kill_ends_a_task_killed_and_refuses_what_cannot_be_killed() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let mut fw = TestFramework::start(&master, framework_info("cli-killed", false));
    let offer = fw.offers().remove(0);
    let task = command_task("sleeper", &offer, "sleep 600", "cpus:0.25;mem:32");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("sleeper", TaskState::TaskRunning);
    let said = stdout(&meseta(&["kill", "sleeper", "--master", &master]));
    assert!(said.contains("sleeper"), "{said}");
    let status = fw.terminal("sleeper");
    assert_eq!(status.state, TaskState::TaskKilled as i32, "{status:?}");
    let line = failure(&meseta(&["kill", "sleeper", "--master", &master]));
    assert!(line.contains("already ended"), "{line}");
    let line = failure(&meseta(&["kill", "ghost", "--master", &master]));
    assert!(line.contains("ghost"), "{line}");
}

#[test]
fn unknown_tasks_and_unreachable_masters_fail_in_one_line() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let line = failure(&meseta(&["logs", "no-such-task", "--master", &master]));
    assert!(line.contains("no-such-task"), "{line}");
    let nobody = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("address").to_string()
    };
    let line = failure(&meseta(&["tasks", "--master", &nobody]));
    assert!(line.contains("cannot reach the master"), "{line}");
}
