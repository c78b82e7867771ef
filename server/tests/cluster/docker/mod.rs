//! The Docker containerizer against a real engine: the private one of
//! `meseta::docker_env` (nothing is pulled from the internet). Where that
//! engine cannot run, each test says so loudly and does nothing.
//!
//! Agents here run `--containerizers=docker,mesos` against the shared
//! engine; their containers carry their own work dir as a label, so
//! tests running side by side never take each other's containers for
//! orphans.

mod engine_down;
mod limits;
mod restart;
mod run;

use std::time::{Duration, Instant};

use meseta::docker_env::DockerEnv;
use meseta_proto::v1::{self, container_info::docker_info};

use crate::common::*;

/// One agent with the Docker containerizer on the private engine (plus
/// `extra` flags), or `None` (loudly) where the engine cannot run.
pub fn docker_cluster(
    resources: &str,
    extra: &[&str],
) -> Option<(TestCluster, &'static DockerEnv)> {
    let env = crate::docker_env::docker()?;
    let socket = env.socket.display().to_string();
    let mut args = vec![
        "--containerizers",
        "docker,mesos",
        "--docker-socket",
        &socket,
    ];
    args.extend_from_slice(extra);
    Some((cluster_with_agent_args(resources, &args), env))
}

/// A `DockerInfo` for `image` on the host network.
pub fn docker_info(image: &str) -> v1::container_info::DockerInfo {
    v1::container_info::DockerInfo {
        image: image.into(),
        ..Default::default()
    }
}

/// A bridge-network `DockerInfo` mapping `host_port` to `container_port`.
pub fn bridged(image: &str, host_port: u32, container_port: u32) -> v1::container_info::DockerInfo {
    v1::container_info::DockerInfo {
        network: Some(docker_info::Network::Bridge as i32),
        port_mappings: vec![docker_info::PortMapping {
            host_port,
            container_port,
            protocol: Some("tcp".into()),
        }],
        ..docker_info(image)
    }
}

/// A shell command task running in a Docker container.
pub fn docker_task(
    id: &str,
    offer: &v1::Offer,
    command: &str,
    resources: &str,
    docker: v1::container_info::DockerInfo,
) -> v1::TaskInfo {
    v1::TaskInfo {
        container: Some(v1::ContainerInfo {
            r#type: v1::container_info::Type::Docker as i32,
            docker: Some(docker),
            ..Default::default()
        }),
        ..command_task(id, offer, command, resources)
    }
}

/// The engine's name for the container of a task's status:
/// `mesos-<ContainerID>`.
pub fn container_name(status: &v1::TaskStatus) -> String {
    let id = status
        .container_status
        .as_ref()
        .and_then(|c| c.container_id.as_ref())
        .expect("the status names its container");
    format!("mesos-{}", id.value)
}

/// `docker inspect NAME`, or `None` when the engine has no such container.
pub fn inspect(env: &DockerEnv, name: &str) -> Option<serde_json::Value> {
    let output = env.run(&["inspect", name]).ok()?;
    let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    parsed.get(0).cloned()
}

/// True while the engine says the container runs.
pub fn is_running(env: &DockerEnv, name: &str) -> bool {
    inspect(env, name).is_some_and(|c| c["State"]["Running"] == true)
}

/// The next terminal status of `task_id`, waiting up to `deadline` (the
/// common helpers wait [`DEADLINE`], too short for a hung engine).
pub fn terminal_within(
    fw: &mut TestFramework,
    task_id: &str,
    deadline: Duration,
) -> v1::TaskStatus {
    let end = Instant::now() + deadline;
    let mut seen = Vec::new();
    while Instant::now() < end {
        let Some(event) = fw.next_event(Duration::from_millis(200)) else {
            continue;
        };
        if let Ev::Update(status) = &event {
            let state = v1::TaskState::try_from(status.state).unwrap_or(v1::TaskState::TaskLost);
            if status.task_id.value == task_id && meseta_core::scheduler::is_terminal(state) {
                return status.clone();
            }
        }
        seen.push(event);
    }
    panic!("no terminal update of {task_id} within {deadline:?}; events: {seen:?}");
}

/// A loopback TCP port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
