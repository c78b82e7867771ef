//! Isolation with real cgroups and namespaces: agents running as root on
//! this machine isolate by default. Each test says what a task can see and
//! use, and what happens when it goes past what it was given. Where the
//! machine cannot isolate (not root, no writable cgroups) the tests say so
//! loudly and do nothing.

mod config;
mod limits;
mod restart;
mod view;
mod watch;

use std::path::{Path, PathBuf};

use meseta_agent::containerizer::cgroups::{Cgroup, Controller, Hierarchy};
use meseta_proto::v1;

use crate::common::*;

/// True when this machine can isolate (else prints why, loudly).
pub fn can_isolate() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED (loudly): isolation tests need root");
        return false;
    }
    let probe = format!("meseta-probe-{}", std::process::id());
    match Hierarchy::detect(
        Path::new("/sys/fs/cgroup"),
        &probe,
        &[Controller::Cpu, Controller::Memory, Controller::Pids],
    ) {
        Ok(hierarchy) => {
            for dir in hierarchy.base_dirs() {
                let _ = std::fs::remove_dir(dir);
            }
            true
        }
        Err(e) => {
            eprintln!("SKIPPED (loudly): no writable cgroups on this machine: {e}");
            false
        }
    }
}

/// One isolated agent with `agent_args`, or `None` (loudly) where the
/// machine cannot isolate.
pub fn isolated(resources: &str, agent_args: &[&str]) -> Option<TestCluster> {
    can_isolate().then(|| cluster_with_agent_args(resources, agent_args))
}

/// The cgroup of a container of agent 0 (in the hierarchies of `controllers`).
pub fn container_cgroup(tc: &TestCluster, container: &str, controllers: &[Controller]) -> Cgroup {
    let root = tc.cluster.agent_cgroups_root(0);
    Hierarchy::detect(Path::new("/sys/fs/cgroup"), &root, controllers)
        .expect("the agent's cgroups")
        .cgroup(container)
}

/// The container ID in a status (`parent.child` for nested ones), as the
/// cgroup path below the agent's root.
pub fn container_path(status: &v1::TaskStatus) -> String {
    fn path(id: &v1::ContainerId) -> String {
        match &id.parent {
            Some(parent) => format!("{}/{}", path(parent), id.value),
            None => id.value.clone(),
        }
    }
    let id = status
        .container_status
        .as_ref()
        .and_then(|c| c.container_id.as_ref())
        .expect("the status names its container");
    path(id)
}

/// The sandbox of a command task (its executor has the task's ID).
pub fn task_sandbox(tc: &TestCluster, task_id: &str) -> PathBuf {
    let state = get_json(&tc.cluster.agents[0].address, "/state").expect("agent state");
    for key in ["frameworks", "completed_frameworks"] {
        for framework in state[key].as_array().into_iter().flatten() {
            for list in ["executors", "completed_executors"] {
                for executor in framework[list].as_array().into_iter().flatten() {
                    if executor["id"] == task_id {
                        return PathBuf::from(executor["directory"].as_str().unwrap_or_default());
                    }
                }
            }
        }
    }
    panic!("no sandbox for {task_id} in the agent's state: {state}");
}

/// A sandbox file of a command task.
pub fn sandbox_file(tc: &TestCluster, task_id: &str, name: &str) -> String {
    std::fs::read_to_string(task_sandbox(tc, task_id).join(name)).unwrap_or_default()
}

/// `/monitor/statistics` of the executor `executor_id` (a command task's
/// ID), once it is listed.
pub fn statistics(tc: &TestCluster, executor_id: &str) -> serde_json::Value {
    let agent = &tc.cluster.agents[0].address;
    let mut found = serde_json::Value::Null;
    wait_until(DEADLINE, "the executor in /monitor/statistics", || {
        let all = get_json(agent, "/monitor/statistics").unwrap_or_default();
        found = all
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["executor_id"] == executor_id)
            .map(|e| e["statistics"].clone())
            .unwrap_or_default();
        !found.is_null()
    });
    found
}

/// Processes on the host whose command line holds `marker`.
pub fn processes_with(marker: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (text.contains(marker) && !zombie).then_some(pid)
        })
        .collect()
}

/// A command task with a `ContainerInfo` of type MESOS.
pub fn contained_task(
    id: &str,
    offer: &v1::Offer,
    command: &str,
    resources: &str,
    container: v1::ContainerInfo,
) -> v1::TaskInfo {
    v1::TaskInfo {
        container: Some(container),
        ..command_task(id, offer, command, resources)
    }
}

/// Launches `tasks` on `offer`.
pub fn launch(fw: &TestFramework, offer: &v1::Offer, tasks: Vec<v1::TaskInfo>) {
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), tasks, None);
}

/// Asserts a terminal status: state, reason, source, and words in the
/// message.
pub fn assert_status(
    status: &v1::TaskStatus,
    state: v1::TaskState,
    reason: Option<v1::task_status::Reason>,
    words: &[&str],
) {
    assert_eq!(status.state, state as i32, "{status:?}");
    if let Some(reason) = reason {
        assert_eq!(status.reason, Some(reason as i32), "{status:?}");
    }
    let message = status.message.clone().unwrap_or_default();
    for word in words {
        assert!(message.contains(word), "{word:?} not in {message:?}");
    }
}
