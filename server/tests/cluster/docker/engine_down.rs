//! An engine that is stopped, or hung: Docker launches fail clearly and
//! within bounds, and the agent's other tasks and its updates go on. The
//! shared engine is left alone: these agents point at sockets of their
//! own.

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use meseta_proto::v1::{task_status::Reason, TaskState};

use super::*;
use crate::isolation::{assert_status, launch};

/// Launches a Docker task and a plain one on the cluster's agent.
fn launch_both(tc: &TestCluster, name: &str) -> TestFramework {
    let mut fw = TestFramework::start(&tc.master(), framework_info(name, false));
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![
            docker_task(
                "in-docker",
                &offer,
                "echo never",
                "cpus:0.1;mem:32",
                docker_info("busybox"),
            ),
            command_task("plain", &offer, "echo fine", "cpus:0.1;mem:32"),
        ],
    );
    fw
}

#[test]
fn a_stopped_engine_fails_docker_tasks_clearly_and_others_run() {
    let root = tempfile::tempdir().expect("temp dir");
    // A socket file nobody listens on, as a stopped engine leaves it.
    let socket = root.path().join("stopped.sock");
    drop(UnixListener::bind(&socket).expect("bind"));
    let socket_text = socket.display().to_string();
    let tc = cluster_with_agent_args(
        "cpus:1;mem:256",
        &[
            "--containerizers",
            "docker,mesos",
            "--docker-socket",
            &socket_text,
        ],
    );
    let mut fw = launch_both(&tc, "engine-stopped");
    assert_status(&fw.terminal("plain"), TaskState::TaskFinished, None, &[]);
    assert_status(
        &fw.terminal("in-docker"),
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        &["Docker engine", &socket_text],
    );
}

#[test]
fn a_hung_engine_fails_docker_launches_in_bounded_time_and_blocks_nothing_else() {
    let root = tempfile::tempdir().expect("temp dir");
    let socket = root.path().join("hung.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    // Accepts every connection and never answers.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let socket_text = socket.display().to_string();
    let tc = cluster_with_agent_args(
        "cpus:1;mem:256",
        &[
            "--containerizers",
            "docker,mesos",
            "--docker-socket",
            &socket_text,
        ],
    );
    let started = Instant::now();
    let mut fw = launch_both(&tc, "engine-hung");
    assert_status(&fw.terminal("plain"), TaskState::TaskFinished, None, &[]);
    let asked = Instant::now();
    get_json(&tc.cluster.agents[0].address, "/state").expect("the agent answers");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the agent stays responsive"
    );
    let status = terminal_within(&mut fw, "in-docker", Duration::from_secs(120));
    assert_status(
        &status,
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        &["did not answer", &socket_text],
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}
