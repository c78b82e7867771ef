//! Agent restarts with real processes: an agent killed with SIGKILL while
//! tasks of checkpointing frameworks run, and started again on the same
//! work dir, takes them back — the tasks' processes survive and finish,
//! their updates reach the framework, and nothing is reported lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use meseta_proto::v1::{self, TaskState};

use crate::common::*;

pub fn checkpointing(name: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        checkpoint: Some(true),
        ..framework_info(name, false)
    }
}

pub fn sandbox(tc: &TestCluster, agent: &str, framework: &str, executor: &str) -> PathBuf {
    tc.cluster.agents[0]
        .work_dir
        .join("slaves")
        .join(agent)
        .join("frameworks")
        .join(framework)
        .join("executors")
        .join(executor)
        .join("runs/latest")
}

/// Waits until the task in `dir` has started (it writes a `pid` file).
fn wait_started(dir: &Path) {
    wait_until(DEADLINE, "the task's pid file", || {
        std::fs::read_to_string(dir.join("pid")).is_ok_and(|t| t.ends_with('\n'))
    });
}

/// True while a live (not zombie) process works in `dir`: the task's
/// processes have their sandbox as working directory. (PIDs written by
/// the task are those of its own PID namespace, not the host's.)
fn running_in(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let proc_dir = entry.path();
        let zombie = std::fs::read_to_string(proc_dir.join("stat")).map_or(true, |stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        });
        !zombie && std::fs::read_link(proc_dir.join("cwd")).is_ok_and(|cwd| cwd == dir)
    })
}

/// Fails if any update for `tasks` that arrives within a moment (or is
/// queued) says the task was lost, failed or gone.
fn assert_nothing_lost(fw: &mut TestFramework, tasks: &[&str]) {
    while let Some(event) = fw.next_event(Duration::from_millis(500)) {
        if let Ev::Update(status) = event {
            let bad = [
                TaskState::TaskLost,
                TaskState::TaskFailed,
                TaskState::TaskGone,
                TaskState::TaskDropped,
                TaskState::TaskUnreachable,
                TaskState::TaskGoneByOperator,
            ];
            assert!(
                !(tasks.contains(&status.task_id.value.as_str())
                    && bad.iter().any(|s| *s as i32 == status.state)),
                "unexpected update {status:?}"
            );
        }
    }
}

#[test]
fn agent_kill_and_restart_with_tasks_running() {
    let mut tc = start_cluster(1, "cpus:2;mem:512", &[]);
    let master = tc.master();
    let mut fw = TestFramework::start(&master, checkpointing("restart"));
    let offer = fw.offers().remove(0);
    let agent_id = offer.agent_id.value.clone();
    // Each task waits for a `go` file in its sandbox, works a little, and
    // leaves a `done` file behind.
    let command =
        "echo $$ > pid; while [ ! -f go ]; do sleep 0.05; done; sleep 1; echo done > done";
    let ids = ["r0", "r1", "r2", "early"];
    let tasks: Vec<v1::TaskInfo> = ids
        .iter()
        .map(|id| command_task(id, &offer, command, "cpus:0.1;mem:16"))
        .collect();
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), tasks, None);
    for id in ids {
        fw.state(id, TaskState::TaskRunning);
    }
    let sandboxes: Vec<PathBuf> = ids
        .iter()
        .map(|id| sandbox(&tc, &agent_id, &fw.id, id))
        .collect();
    for dir in &sandboxes {
        wait_started(dir);
    }

    tc.cluster.kill_agent(0);
    assert!(
        sandboxes.iter().all(|dir| running_in(dir)),
        "tasks outlive the agent"
    );
    // One task finishes while the agent is down.
    std::fs::write(sandboxes[3].join("go"), "").expect("go");
    wait_until(DEADLINE, "the early task to finish", || {
        sandboxes[3].join("done").exists() && !running_in(&sandboxes[3])
    });

    tc.cluster.restart_agent(0).expect("the agent restarts");
    wait_for_active_agent(&tc, Some(&agent_id));
    for dir in &sandboxes[..3] {
        std::fs::write(dir.join("go"), "").expect("go");
    }
    for id in ids {
        let status = fw.terminal(id);
        assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    }
    for dir in &sandboxes {
        assert!(
            dir.join("done").exists(),
            "{} has no done file",
            dir.display()
        );
    }
    assert_nothing_lost(&mut fw, &ids);
    let state = get_json(&master, "/master/state").expect("state");
    assert_eq!(state["slaves"][0]["id"], agent_id.as_str());
}

#[test]
fn custom_executor_survives_an_agent_restart() {
    let executor_path = sibling_binary("example_executor");
    let mut tc = cluster_with_agent_args(
        "cpus:2;mem:512",
        &["--executor-reregistration-timeout", "10secs"],
    );
    let master = tc.master();
    let mut fw = TestFramework::start(&master, checkpointing("restart-executor"));
    let offer = fw.offers().remove(0);
    let agent_id = offer.agent_id.value.clone();
    let executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "example".into(),
        },
        command: Some(v1::CommandInfo {
            value: Some(executor_path.display().to_string()),
            ..Default::default()
        }),
        resources: meseta_proto::resources::parse_resources("cpus:0.1;mem:32").expect("resources"),
        ..Default::default()
    };
    let ids = ["x0", "x1"];
    let tasks: Vec<v1::TaskInfo> = ids
        .iter()
        .map(|id| v1::TaskInfo {
            name: id.to_string(),
            task_id: v1::TaskId {
                value: id.to_string(),
            },
            agent_id: offer.agent_id.clone(),
            resources: meseta_proto::resources::parse_resources("cpus:0.2;mem:32")
                .expect("resources"),
            executor: Some(executor.clone()),
            // Milliseconds of work: long enough to span the restart.
            data: Some(b"3000".to_vec()),
            ..Default::default()
        })
        .collect();
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), tasks, None);
    for id in ids {
        fw.state(id, TaskState::TaskRunning);
    }

    tc.cluster.kill_agent(0);
    tc.cluster.restart_agent(0).expect("the agent restarts");
    wait_for_active_agent(&tc, Some(&agent_id));
    for id in ids {
        let status = fw.terminal(id);
        assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    }
    assert_nothing_lost(&mut fw, &ids);
    // The executor is the same process as before: it subscribed again.
    let log = std::fs::read_to_string(sandbox(&tc, &agent_id, &fw.id, "example").join("stderr"))
        .unwrap_or_default();
    assert!(!log.contains("shutting the executor down"), "{log}");
}

#[test]
fn an_agent_restarted_with_other_resources_is_new_and_its_old_tasks_are_gone() {
    let mut tc = cluster_with_agent_args("cpus:1;mem:256", &[]);
    let master = tc.master();
    let info = v1::FrameworkInfo {
        checkpoint: Some(true),
        ..framework_info("reconfigured", true)
    };
    let mut fw = TestFramework::start(&master, info);
    let offer = fw.offers().remove(0);
    let old_agent = offer.agent_id.value.clone();
    let task = command_task("old", &offer, "sleep 600", "cpus:0.5;mem:32");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("old", TaskState::TaskRunning);

    tc.cluster.kill_agent(0);
    tc.cluster
        .restart_agent_with_resources(0, Some("cpus:2;mem:512"))
        .expect("agent restarts");

    let gone = fw.terminal("old");
    assert_eq!(gone.state, TaskState::TaskGone as i32, "{gone:?}");
    wait_until(DEADLINE, "a new agent with the new resources", || {
        let slaves = get_json(&master, "/master/slaves").unwrap_or_default();
        let agent = &slaves["slaves"][0];
        agent["active"] == true
            && agent["id"] != old_agent.as_str()
            && agent["resources"]["cpus"] == 2.0
    });
    // The old agent may not come back under its old ID.
    let state = get_json(&master, "/master/state").expect("state");
    assert_eq!(state["slaves"].as_array().map(Vec::len), Some(1));
}
