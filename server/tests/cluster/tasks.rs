//! Task lifecycle, kill, reconciliation, sandboxes and the endpoints that
//! show them.

use meseta_proto::v1::{self, task_status::Reason, TaskState};

use crate::common::*;

#[test]
fn task_runs_to_finished_and_leaves_its_output_in_the_sandbox() {
    let tc = start_cluster(1, "cpus:2;mem:512;disk:1024", &[]);
    let mut fw = TestFramework::start(&tc.master(), framework_info("lifecycle", false));
    let offer = fw.offers().remove(0);
    let task = command_task(
        "hello",
        &offer,
        "echo hello from $MESOS_TASK_ID",
        "cpus:0.5;mem:64",
    );
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    let running = fw.state("hello", TaskState::TaskRunning);
    assert!(
        running.uuid.is_some(),
        "updates from the agent carry a uuid"
    );
    let done = fw.terminal("hello");
    assert_eq!(done.state, TaskState::TaskFinished as i32, "{done:?}");

    // The master shows the task as completed once acknowledged.
    let master = tc.master();
    wait_until(DEADLINE, "task completed in /master/state", || {
        let state = get_json(&master, "/master/state").unwrap_or_default();
        state["frameworks"][0]["completed_tasks"][0]["state"] == "TASK_FINISHED"
    });
    let metrics = get_json(&master, "/metrics/snapshot").expect("metrics");
    assert_eq!(metrics["master/tasks_finished"], 1.0);
    assert_eq!(metrics["master/cpus_used"], 0.0);
    assert_eq!(metrics["master/cpus_total"], 2.0);

    // stdout is in the sandbox, served by the agent's /files API.
    let agent = &tc.cluster.agents[0].address;
    let state = get_json(agent, "/state").expect("agent state");
    let directory = find_directory(&state, "hello").expect("sandbox directory in agent state");
    let path = format!("/files/read?path={directory}/stdout&offset=0");
    let read = get_json(agent, &path).expect("files/read");
    assert!(
        read["data"]
            .as_str()
            .unwrap_or("")
            .contains("hello from hello"),
        "stdout was {read}"
    );
}

/// The sandbox directory of a task in the agent's `/state`.
fn find_directory(state: &serde_json::Value, task_id: &str) -> Option<String> {
    for key in ["frameworks", "completed_frameworks"] {
        for framework in state[key].as_array().into_iter().flatten() {
            for list in ["executors", "completed_executors"] {
                for executor in framework[list].as_array().into_iter().flatten() {
                    let has = ["tasks", "completed_tasks", "queued_tasks"]
                        .iter()
                        .any(|k| {
                            executor[*k]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|t| t["id"] == task_id)
                        });
                    if has || executor["id"] == task_id {
                        return executor["directory"].as_str().map(String::from);
                    }
                }
            }
        }
    }
    None
}

#[test]
fn failing_task_is_failed_and_killed_task_is_killed() {
    let tc = start_cluster(1, "cpus:2;mem:512", &[]);
    let mut fw = TestFramework::start(&tc.master(), framework_info("kill", false));
    let offer = fw.offers().remove(0);
    let fail = command_task("fail", &offer, "exit 3", "cpus:0.5;mem:32");
    let sleep = command_task("sleep", &offer, "sleep 600", "cpus:0.5;mem:32");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![fail, sleep], None);
    let failed = fw.terminal("fail");
    assert_eq!(failed.state, TaskState::TaskFailed as i32);
    assert!(failed.message.unwrap_or_default().contains('3'));
    fw.state("sleep", TaskState::TaskRunning);
    fw.driver.kill_task(&v1::TaskId {
        value: "sleep".into(),
    });
    let killed = fw.terminal("sleep");
    assert_eq!(killed.state, TaskState::TaskKilled as i32, "{killed:?}");
}

#[test]
fn reconciliation_reports_latest_and_unknown_tasks() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let mut fw = TestFramework::start(&tc.master(), framework_info("reconcile", false));
    let offer = fw.offers().remove(0);
    fw.driver.launch_tasks(
        std::slice::from_ref(&offer.id),
        vec![command_task("long", &offer, "sleep 600", "cpus:0.5;mem:32")],
        None,
    );
    fw.state("long", TaskState::TaskRunning);
    let known = v1::TaskStatus {
        task_id: v1::TaskId {
            value: "long".into(),
        },
        state: TaskState::TaskStaging as i32,
        ..Default::default()
    };
    let unknown = v1::TaskStatus {
        task_id: v1::TaskId {
            value: "ghost".into(),
        },
        state: TaskState::TaskRunning as i32,
        ..Default::default()
    };
    fw.driver.reconcile_tasks(&[known, unknown]);
    let long = fw.state("long", TaskState::TaskRunning);
    assert_eq!(long.reason, Some(Reason::Reconciliation as i32));
    let ghost = fw.terminal("ghost");
    assert_eq!(
        ghost.state,
        TaskState::TaskLost as i32,
        "not partition-aware: LOST"
    );
    fw.driver.reconcile_tasks(&[]);
    let implicit = fw.state("long", TaskState::TaskRunning);
    assert_eq!(implicit.reason, Some(Reason::Reconciliation as i32));
}

#[test]
fn meseta_execute_prints_each_status_and_exits_with_the_task_code() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_meseta"))
        .args([
            "execute",
            "--master",
            &tc.master(),
            "--name",
            "seven",
            "--command",
            "echo out; exit 7",
        ])
        .args(["--resources", "cpus:0.2;mem:32", "--env", "GREETING=hi"])
        .output()
        .expect("meseta execute runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(7), "{stdout}");
    let order: Vec<&str> = ["TASK_STAGING", "TASK_RUNNING", "TASK_FAILED"]
        .into_iter()
        .filter(|s| stdout.contains(s))
        .collect();
    assert_eq!(
        order,
        ["TASK_STAGING", "TASK_RUNNING", "TASK_FAILED"],
        "{stdout}"
    );
    assert!(stdout.find("TASK_STAGING") < stdout.find("TASK_FAILED"));
    // Neither stream is a terminal here: no colour codes in either.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "escape codes in piped output: {stderr}"
    );
    let agent_log = std::fs::read_to_string(&tc.cluster.agents[0].log).unwrap_or_default();
    assert!(
        !agent_log.is_empty() && !agent_log.contains('\x1b'),
        "escape codes in the agent's log file"
    );

    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_meseta"))
        .args([
            "execute",
            "--master",
            &tc.master(),
            "--name",
            "ok",
            "--command",
            "test \"$GREETING\" = hi",
        ])
        .args(["--env", "GREETING=hi"])
        .output()
        .expect("meseta execute runs");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}
