//! What is watched rather than prevented: listening ports and sandbox
//! size, enforced only when the operator asks (as in Mesos).

use meseta_proto::v1::{task_status::Reason, TaskId, TaskState};

use super::*;

/// A shell command listening on TCP `port` until killed (python3 is on
/// every machine of this kind).
fn listen(port: u16) -> String {
    format!(
        "exec python3 -c \"import socket, time; s = socket.socket(); \
         s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(600)\""
    )
}

fn with_ports(
    task: meseta_proto::v1::TaskInfo,
    begin: u64,
    end: u64,
) -> meseta_proto::v1::TaskInfo {
    let mut task = task;
    task.resources
        .push(meseta_proto::resources::ranges("ports", &[(begin, end)]));
    task
}

#[test]
fn a_task_listening_outside_its_ports_is_killed_when_enforced() {
    let Some(tc) = isolated(
        "cpus:2;mem:512;ports:[31000-31010]",
        &[
            "--enforce-container-ports",
            "--container-ports-watch-interval",
            "100ms",
        ],
    ) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("ports", false));
    let offer = fw.offers().remove(0);
    let inside = with_ports(
        command_task("inside", &offer, &listen(31001), "cpus:0.1;mem:64"),
        31001,
        31001,
    );
    let outside = command_task("outside", &offer, &listen(31005), "cpus:0.1;mem:64");
    launch(&fw, &offer, vec![inside, outside]);
    fw.state("inside", TaskState::TaskRunning);
    let killed = fw.terminal("outside");
    assert_status(
        &killed,
        TaskState::TaskFailed,
        Some(Reason::ContainerLimitation),
        &["unallocated port", "31005"],
    );
    let ports = killed.limitation.expect("the ports in the limitation");
    assert_eq!(ports.resources[0].name, "ports");
    // The task inside its grant was left alone.
    fw.driver.kill_task(&TaskId {
        value: "inside".into(),
    });
    assert_eq!(fw.terminal("inside").state, TaskState::TaskKilled as i32);
}

#[test]
fn without_enforcement_a_port_violation_is_only_counted() {
    let Some(tc) = isolated(
        "cpus:2;mem:512;ports:[31000-31010]",
        &["--container-ports-watch-interval", "100ms"],
    ) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("ports-watch", false));
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![command_task(
            "stray",
            &offer,
            &listen(31007),
            "cpus:0.1;mem:64",
        )],
    );
    fw.state("stray", TaskState::TaskRunning);
    let agent = &tc.cluster.agents[0].address;
    wait_until(DEADLINE, "the violation to be counted", || {
        get_json(agent, "/metrics/snapshot")
            .ok()
            .and_then(|m| m["containerizer/mesos/network/ports/violations"].as_f64())
            .is_some_and(|n| n >= 1.0)
    });
    fw.driver.kill_task(&TaskId {
        value: "stray".into(),
    });
    assert_eq!(fw.terminal("stray").state, TaskState::TaskKilled as i32);
}

#[test]
fn a_sandbox_past_its_disk_fails_when_enforced_and_within_it_finishes() {
    let Some(tc) = isolated(
        "cpus:2;mem:512;disk:1024",
        &[
            "--enforce-container-disk-quota",
            "--container-disk-watch-interval",
            "100ms",
        ],
    ) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("disk", false));
    let offer = fw.offers().remove(0);
    let write = "head -c 4m /dev/zero > blob && while [ ! -f go ]; do sleep 0.05; done";
    launch(
        &fw,
        &offer,
        vec![
            command_task("big", &offer, write, "cpus:0.1;mem:32;disk:1"),
            command_task("fits", &offer, write, "cpus:0.1;mem:32;disk:16"),
        ],
    );
    let big = fw.terminal("big");
    assert_status(
        &big,
        TaskState::TaskFailed,
        Some(Reason::ContainerLimitationDisk),
        &["Disk usage", "exceeds quota (1MB)"],
    );
    fw.state("fits", TaskState::TaskRunning);
    let mut stats = serde_json::Value::Null;
    wait_until(DEADLINE, "the sandbox to be measured", || {
        stats = statistics(&tc, "fits");
        stats["disk_used_bytes"].as_u64().unwrap_or(0) >= 4 << 20
    });
    assert_eq!(stats["disk_limit_bytes"], 16u64 << 20, "{stats}");
    std::fs::write(task_sandbox(&tc, "fits").join("go"), "").expect("go");
    assert_eq!(fw.terminal("fits").state, TaskState::TaskFinished as i32);
}
