//! Agent restarts: an agent dropped without a shutdown (as a crash leaves
//! it) and a new one started on the same work dir takes back the tasks of
//! checkpointing frameworks — their processes keep running, their updates
//! arrive, nothing is reported lost — and discards what it cannot take back.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use meseta_agent::Agent;
use meseta_proto::cluster::{self, master_message, KillTask};
use meseta_proto::v1::{self, task_status::Reason, TaskState};

/// A task that waits for a `go` file in its sandbox, then writes `done`
/// and exits with `code`.
const GATED: &str = "echo $$ > pid; while [ ! -f go ]; do sleep 0.05; done; echo done > done";

fn gated(code: i32) -> String {
    format!("{GATED}; exit {code}")
}

fn checkpointing(id: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        checkpoint: Some(true),
        ..framework(id)
    }
}

fn sandbox(dir: &Path, task: &str) -> PathBuf {
    latest_run(dir, "agent-1", "fw-1", task)
}

fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

async fn task_pid(dir: &Path, task: &str) -> i32 {
    let file = sandbox(dir, task).join("pid");
    let mut pid = 0;
    eventually("the task's pid file", || {
        pid = std::fs::read_to_string(&file)
            .ok()
            .filter(|t| t.ends_with('\n'))
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    })
    .await;
    pid
}

/// Starts a task and waits until it runs (its updates acknowledged).
async fn run_gated(
    master: &mut FakeMaster,
    agent: &Agent,
    framework: v1::FrameworkInfo,
    task: &str,
    code: i32,
) {
    master.send(run_tasks(
        framework,
        None,
        vec![command_task(task, "agent-1", &gated(code))],
    ));
    master.expect_update(task, TaskState::TaskStarting).await;
    master.expect_update(task, TaskState::TaskRunning).await;
    settled(agent).await;
}

/// Drops the agent as a crash would (once its port is free again, which a
/// real crash frees at once) and starts a new one on the same dir; returns
/// it with its `Register`.
async fn restart(
    master: &mut FakeMaster,
    agent: Agent,
    work_dir: &Path,
) -> (Agent, cluster::Register) {
    let address = agent.http_address();
    drop(agent);
    eventually("the old agent's port to be free", || {
        std::net::TcpListener::bind(address).is_ok()
    })
    .await;
    let agent = Agent::start(config(master, work_dir.into())).await.unwrap();
    let register = master.accept("agent-1").await;
    (agent, register)
}

#[tokio::test]
async fn restarted_agent_takes_back_a_running_task() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let old_address = agent.http_address();
    run_gated(&mut master, &agent, checkpointing("fw-1"), "t", 0).await;
    let pid = task_pid(dir.path(), "t").await;

    let (agent, register) = restart(&mut master, agent, dir.path()).await;
    assert_eq!(
        register.info.id.as_ref().map(|i| i.value.as_str()),
        Some("agent-1")
    );
    assert_eq!(register.previous_agent_id, None);
    assert_eq!(register.frameworks.len(), 1);
    assert_eq!(register.tasks.len(), 1, "{register:?}");
    assert_eq!(register.tasks[0].task_id.value, "t");
    assert_eq!(register.tasks[0].state(), TaskState::TaskRunning);
    assert_eq!(
        agent.http_address(),
        old_address,
        "port 0 reuses the old port"
    );
    assert!(pid_alive(pid), "the task survived the agent");

    std::fs::write(sandbox(dir.path(), "t").join("go"), "").unwrap();
    // The very next update is the task's end: nothing lost, nothing failed.
    let finished = master.expect_update("t", TaskState::TaskFinished).await;
    assert_eq!(
        finished.status.message.as_deref(),
        Some("Command exited with status 0")
    );
    assert!(sandbox(dir.path(), "t").join("done").exists());
    eventually("the task to be complete", || {
        !dir.path().join("meta/frameworks/fw-1").exists()
    })
    .await;
    agent.shutdown().await;
}

#[tokio::test]
async fn task_that_ended_while_the_agent_was_down_reports_its_exit_status() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    run_gated(&mut master, &agent, checkpointing("fw-1"), "t", 3).await;
    let pid = task_pid(dir.path(), "t").await;
    drop(agent);

    std::fs::write(sandbox(dir.path(), "t").join("go"), "").unwrap();
    eventually("the task to end", || !pid_alive(pid)).await;
    let agent = Agent::start(config(&master, dir.path().into()))
        .await
        .unwrap();
    let register = master.accept("agent-1").await;
    assert_eq!(register.tasks.len(), 1);
    let failed = master.expect_update("t", TaskState::TaskFailed).await;
    assert_eq!(
        failed.status.message.as_deref(),
        Some("Command exited with status 3")
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn unacknowledged_updates_are_resent_after_a_restart() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    master.send(run_tasks(
        checkpointing("fw-1"),
        None,
        vec![command_task("t", "agent-1", &gated(0))],
    ));
    master.expect_update("t", TaskState::TaskStarting).await;
    let running = master.update().await; // never acknowledged
    assert_eq!(running.status.state(), TaskState::TaskRunning);

    let (agent, register) = restart(&mut master, agent, dir.path()).await;
    assert_eq!(register.tasks[0].status_update_uuid, running.status.uuid);
    let resent = master.update().await;
    assert_eq!(resent.status, running.status, "the same update, same UUID");
    master.ack(&resent);
    std::fs::write(sandbox(dir.path(), "t").join("go"), "").unwrap();
    master.expect_update("t", TaskState::TaskFinished).await;
    agent.shutdown().await;
}

#[tokio::test]
async fn kill_requested_before_a_restart_ends_as_killed() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    // The task ignores SIGTERM, so the kill is still under way at the crash.
    let command = format!("trap '' TERM; {GATED}");
    master.send(run_tasks(
        checkpointing("fw-1"),
        None,
        vec![command_task("t", "agent-1", &command)],
    ));
    master.expect_update("t", TaskState::TaskStarting).await;
    master.expect_update("t", TaskState::TaskRunning).await;
    let pid = task_pid(dir.path(), "t").await;
    master.send(master_message::Kind::KillTask(KillTask {
        framework_id: v1::FrameworkId {
            value: "fw-1".into(),
        },
        task_id: v1::TaskId { value: "t".into() },
        kill_policy: Some(v1::KillPolicy {
            grace_period: Some(v1::DurationInfo {
                nanoseconds: 30_000_000_000,
            }),
        }),
    }));
    eventually("the kill to be checkpointed", || {
        dir.path()
            .join("meta/frameworks/fw-1/tasks/t/kill_requested")
            .exists()
    })
    .await;

    let (agent, _) = restart(&mut master, agent, dir.path()).await;
    assert!(pid_alive(pid));
    // The restarted agent goes on with the kill (SIGTERM, ignored here;
    // SIGKILL after the 30 s grace period). End the task as that SIGKILL
    // would: the agent knows a kill was under way, so it is TASK_KILLED.
    // SAFETY: kill(2) on the task's own process.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let killed = master.expect_update("t", TaskState::TaskKilled).await;
    assert!(
        killed
            .status
            .message
            .as_deref()
            .unwrap_or("")
            .contains("signal"),
        "{killed:?}"
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn frameworks_that_do_not_checkpoint_are_not_taken_back() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    run_gated(&mut master, &agent, framework("fw-1"), "t", 0).await;
    let pid = task_pid(dir.path(), "t").await;

    let (agent, register) = restart(&mut master, agent, dir.path()).await;
    assert_eq!(
        register.info.id.as_ref().map(|i| i.value.as_str()),
        Some("agent-1")
    );
    assert!(register.tasks.is_empty(), "{register:?}");
    eventually("the orphaned task to be killed", || !pid_alive(pid)).await;
    agent.shutdown().await;
}

#[tokio::test]
async fn incompatible_restart_registers_anew_and_kills_the_old_tasks() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    run_gated(&mut master, &agent, checkpointing("fw-1"), "t", 0).await;
    let pid = task_pid(dir.path(), "t").await;
    eventually("the agent info checkpoint", || {
        dir.path().join("meta/agent.json").exists()
    })
    .await;

    drop(agent);
    let mut changed = config(&master, dir.path().into());
    changed.resources = Some("cpus:3;mem:1024;disk:1000;ports:[31000-31010]".into());
    let agent = Agent::start(changed).await.unwrap();
    let register = master.accept("agent-2").await;
    assert_eq!(register.info.id, None);
    assert_eq!(
        register.previous_agent_id.map(|i| i.value).as_deref(),
        Some("agent-1")
    );
    assert!(register.tasks.is_empty() && register.frameworks.is_empty());
    eventually("the old task to be killed", || !pid_alive(pid)).await;
    assert!(dir.path().join("meta.agent-1.discarded").is_dir());
    eventually("the new ID", || {
        agent.agent_id().as_deref() == Some("agent-2")
    })
    .await;
    agent.shutdown().await;

    // The new identity sticks.
    let mut changed = config(&master, dir.path().into());
    changed.resources = Some("cpus:3;mem:1024;disk:1000;ports:[31000-31010]".into());
    let agent = Agent::start(changed).await.unwrap();
    let register = master.accept("agent-2").await;
    assert_eq!(
        register.info.id.map(|i| i.value).as_deref(),
        Some("agent-2")
    );
    assert_eq!(register.previous_agent_id, None);
    agent.shutdown().await;
}

#[tokio::test]
async fn task_group_of_the_default_executor_is_taken_back() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: "default".into(),
        },
        ..Default::default()
    };
    let tasks: Vec<v1::TaskInfo> = ["a", "b"]
        .iter()
        .map(|id| command_task(id, "agent-1", &gated(0)))
        .collect();
    master.send(master_message::Kind::RunTasks(cluster::RunTasks {
        framework: checkpointing("fw-1"),
        executor: Some(executor),
        tasks,
        group: Some(true),
    }));
    let mut running = 0;
    while running < 2 {
        let update = master.update().await;
        master.ack(&update);
        if update.status.state() == TaskState::TaskRunning {
            running += 1;
        }
    }
    settled(&agent).await;
    let (agent, register) = restart(&mut master, agent, dir.path()).await;
    assert_eq!(register.tasks.len(), 2);
    assert_eq!(register.executors.len(), 1);
    let run = latest_run(dir.path(), "agent-1", "fw-1", "default");
    for id in ["a", "b"] {
        std::fs::write(run.join("tasks").join(id).join("go"), "").unwrap();
    }
    let mut finished = Vec::new();
    while finished.len() < 2 {
        let update = master.update().await;
        master.ack(&update);
        match update.status.state() {
            TaskState::TaskFinished => finished.push(update.status.task_id.value),
            other => panic!("unexpected {other:?}: {update:?}"),
        }
    }
    finished.sort();
    assert_eq!(finished, ["a", "b"]);
    // The master hears that the default executor ended.
    loop {
        if let cluster::agent_message::Kind::ExecutorExited(exited) = master.message().await {
            assert_eq!(exited.executor_id.value, "default");
            break;
        }
    }
    agent.shutdown().await;
}

#[tokio::test]
async fn task_that_never_started_is_reported_lost_after_a_restart() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    // A fetch that never completes keeps the task in launch at the crash.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut task = command_task("t", "agent-1", "true");
    if let Some(command) = task.command.as_mut() {
        command.uris.push(v1::command_info::Uri {
            value: format!("http://{}/never", listener.local_addr().unwrap()),
            ..Default::default()
        });
    }
    master.send(run_tasks(checkpointing("fw-1"), None, vec![task]));
    eventually("the task checkpoint", || {
        dir.path()
            .join("meta/frameworks/fw-1/tasks/t/task.json")
            .exists()
    })
    .await;

    let (agent, register) = restart(&mut master, agent, dir.path()).await;
    assert_eq!(register.tasks.len(), 1);
    let lost = master.expect_update("t", TaskState::TaskLost).await;
    assert_eq!(lost.status.reason, Some(Reason::AgentRestarted as i32));
    drop(listener);
    agent.shutdown().await;
}

#[tokio::test]
async fn recover_cleanup_kills_everything_and_registers_anew() {
    let mut master = FakeMaster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = agent_for(&mut master, dir.path(), "agent-1").await;
    run_gated(&mut master, &agent, checkpointing("fw-1"), "t", 0).await;
    let pid = task_pid(dir.path(), "t").await;

    drop(agent);
    let mut cleanup = config(&master, dir.path().into());
    cleanup.recover = meseta_agent::RecoverMode::Cleanup;
    let agent = Agent::start(cleanup).await.unwrap();
    let register = master.accept("agent-2").await;
    assert_eq!(register.info.id, None);
    assert_eq!(
        register.previous_agent_id.map(|i| i.value).as_deref(),
        Some("agent-1")
    );
    assert!(register.tasks.is_empty());
    eventually("the old task to be killed", || !pid_alive(pid)).await;
    agent.shutdown().await;
}
