//! Agent restarts with real processes: an agent killed with SIGKILL while
//! tasks of checkpointing frameworks run, and started again on the same
//! work dir, takes them back — the tasks' processes survive and finish,
//! their updates reach the framework, and nothing is reported lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use meseta::launcher::{Cluster, ClusterSpec};
use meseta_proto::v1::{self, TaskState};

use crate::common::*;

/// A cluster like `start_cluster`'s, with extra agent flags.
fn cluster_with_agent_args(resources: &str, agent_args: &[&str]) -> TestCluster {
    let root = tempfile::tempdir().expect("temp dir");
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_meseta"), root.path(), 1);
    spec.agent_resources = Some(resources.to_string());
    spec.master_args = vec!["--allocation-interval".into(), "100ms".into()];
    spec.agent_args = ["--status-update-retry-interval", "1secs"]
        .iter()
        .chain(agent_args)
        .map(|s| s.to_string())
        .collect();
    let cluster = Cluster::start(spec).expect("cluster starts");
    let tc = TestCluster { cluster, root };
    wait_for_active_agent(&tc, None);
    tc
}

/// Waits until the master has one active agent (with this ID, if given).
fn wait_for_active_agent(tc: &TestCluster, id: Option<&str>) {
    wait_until(DEADLINE, "the agent to be active", || {
        let slaves = get_json(&tc.master(), "/master/slaves").unwrap_or_default();
        let agent = &slaves["slaves"][0];
        agent["active"] == true && id.is_none_or(|id| agent["id"] == id)
    });
}

fn checkpointing(name: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        checkpoint: Some(true),
        ..framework_info(name, false)
    }
}

fn sandbox(tc: &TestCluster, agent: &str, framework: &str, executor: &str) -> PathBuf {
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

fn read_pid(dir: &Path) -> i32 {
    let mut pid = 0;
    wait_until(DEADLINE, "the task's pid file", || {
        pid = std::fs::read_to_string(dir.join("pid"))
            .ok()
            .filter(|t| t.ends_with('\n'))
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    });
    pid
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
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
    let pids: Vec<i32> = sandboxes.iter().map(|dir| read_pid(dir)).collect();

    tc.cluster.kill_agent(0);
    assert!(
        pids.iter().all(|pid| alive(*pid)),
        "tasks outlive the agent"
    );
    // One task finishes while the agent is down.
    std::fs::write(sandboxes[3].join("go"), "").expect("go");
    wait_until(DEADLINE, "the early task to finish", || {
        sandboxes[3].join("done").exists() && !alive(pids[3])
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
