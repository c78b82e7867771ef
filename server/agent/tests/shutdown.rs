//! Stopping work: `ShutdownFramework` from the master and the agent's own
//! shutdown stop the processes, and leave nothing waiting for
//! acknowledgements that will never come.

mod common;

use std::time::Duration;

use common::*;
use meseta_proto::cluster::{master_message, ShutdownFramework};
use meseta_proto::v1::{self, TaskState};

fn fid() -> v1::FrameworkId {
    v1::FrameworkId {
        value: "fw-1".into(),
    }
}

fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

#[tokio::test]
async fn shutdown_framework_and_agent_stop_the_processes() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let command = "echo $$ > pid; exec sleep 100";
    master.send(run_tasks(
        framework("fw-1"),
        None,
        vec![command_task("a", "agent-1", command)],
    ));
    master.send(run_tasks(
        framework("fw-2"),
        None,
        vec![command_task("b", "agent-1", command)],
    ));
    let mut running = 0;
    while running < 2 {
        let update = master.update().await;
        master.ack(&update);
        if update.status.state() == TaskState::TaskRunning {
            running += 1;
        }
    }
    let pid_of = |framework: &str, task: &str| -> i32 {
        let file = latest_run(dir.path(), "agent-1", framework, task).join("pid");
        let mut text = String::new();
        for _ in 0..500 {
            text = std::fs::read_to_string(&file).unwrap_or_default();
            if text.ends_with('\n') {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        text.trim().parse().unwrap()
    };
    let (a, b) = (pid_of("fw-1", "a"), pid_of("fw-2", "b"));
    assert!(pid_alive(a) && pid_alive(b));

    master.send(master_message::Kind::ShutdownFramework(ShutdownFramework {
        framework_id: fid(),
    }));
    eventually("fw-1's task to die", || !pid_alive(a)).await;
    assert!(pid_alive(b));
    let addr = agent.http_address();
    let mut completed = false;
    for _ in 0..200 {
        let state = get_json(addr, "/state").await;
        if state["completed_frameworks"][0]["id"] == "fw-1" {
            completed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(completed, "fw-1 should be a completed framework");

    agent.shutdown().await;
    assert!(!pid_alive(b), "the agent's shutdown stops its tasks");
}

#[tokio::test]
async fn shutdown_framework_completes_unacknowledged_terminal_tasks() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    master.send(run_tasks(
        framework("fw-1"),
        None,
        vec![command_task("t", "agent-1", "true")],
    ));
    master.expect_update("t", TaskState::TaskStarting).await;
    master.expect_update("t", TaskState::TaskRunning).await;
    let finished = master.update().await; // never acknowledged
    assert_eq!(finished.status.state(), TaskState::TaskFinished);
    master.send(master_message::Kind::ShutdownFramework(ShutdownFramework {
        framework_id: fid(),
    }));
    let addr = agent.http_address();
    let mut state = serde_json::Value::Null;
    for _ in 0..200 {
        state = get_json(addr, "/state").await;
        if state["frameworks"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let task = &state["completed_frameworks"][0]["completed_executors"][0]["completed_tasks"][0];
    assert_eq!(task["state"], "TASK_FINISHED", "{state}");
    let metrics = get_json(addr, "/metrics/snapshot").await;
    assert_eq!(metrics["slave/cpus_used"], 0.0);
    assert_eq!(metrics["slave/status_updates_pending"], 0);
    agent.shutdown().await;
}

#[tokio::test]
async fn shutdown_right_after_a_launch_leaves_no_process_behind() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    master.send(run_tasks(
        framework("fw-1"),
        None,
        vec![command_task(
            "t",
            "agent-1",
            "echo $$ > pid; exec sleep 100",
        )],
    ));
    // Shut down while the task may be anywhere between RunTasks and running.
    eventually("the task to be known", || {
        latest_run(dir.path(), "agent-1", "fw-1", "t").exists()
    })
    .await;
    agent.shutdown().await;
    let pid_file = latest_run(dir.path(), "agent-1", "fw-1", "t").join("pid");
    if let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    {
        eventually("the task to be stopped", || !pid_alive(pid)).await;
    }
    let leftovers = std::fs::read_dir(dir.path().join("meta/containers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "every container ended and was forgotten");
}
