//! Limits and kills of Docker containers: the memory limit, an OOM kill
//! with its reason, and a kill that honours the task's grace period.

use std::time::{Duration, Instant};

use meseta_proto::v1::{self, task_status::Reason, TaskState};

use super::*;
use crate::isolation::{assert_status, launch, sandbox_file};

#[test]
fn an_oom_kill_fails_the_task_with_the_memory_reason() {
    let Some((tc, env)) = docker_cluster("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("docker-oom", false));
    let offer = fw.offers().remove(0);
    let command =
        "while [ ! -f $MESOS_SANDBOX/go ]; do sleep 0.05; done; head -c 300m /dev/zero | tail";
    launch(
        &fw,
        &offer,
        vec![docker_task(
            "hog",
            &offer,
            command,
            "cpus:0.5;mem:48",
            docker_info(meseta::docker_env::TEST_IMAGE),
        )],
    );
    let running = fw.state("hog", TaskState::TaskRunning);
    let inspected = inspect(env, &container_name(&running)).expect("the container");
    assert_eq!(
        inspected["HostConfig"]["Memory"],
        48u64 << 20,
        "{inspected}"
    );
    assert_eq!(inspected["HostConfig"]["CpuShares"], 512, "{inspected}");
    std::fs::write(crate::isolation::task_sandbox(&tc, "hog").join("go"), "").expect("go");
    let status = fw.terminal("hog");
    assert_status(
        &status,
        TaskState::TaskFailed,
        Some(Reason::ContainerLimitationMemory),
        &["Memory limit exceeded", "48MB"],
    );
    assert!(status.limitation.is_some(), "{status:?}");
}

#[test]
fn a_kill_honours_the_grace_period_then_forces() {
    let Some((tc, _env)) = docker_cluster("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("docker-kill", false));
    let offer = fw.offers().remove(0);
    // Ignores SIGTERM (it only says so) and never ends by itself.
    let command = "trap 'echo got SIGTERM' TERM; echo ready; while true; do sleep 0.1; done";
    let grace = Duration::from_secs(3);
    let mut task = docker_task(
        "stubborn",
        &offer,
        command,
        "cpus:0.1;mem:32",
        docker_info(meseta::docker_env::TEST_IMAGE),
    );
    task.kill_policy = Some(v1::KillPolicy {
        grace_period: Some(v1::DurationInfo {
            nanoseconds: i64::try_from(grace.as_nanos()).unwrap_or(i64::MAX),
        }),
    });
    launch(&fw, &offer, vec![task]);
    let running = fw.state("stubborn", TaskState::TaskRunning);
    wait_until(DEADLINE, "the task to be ready", || {
        sandbox_file(&tc, "stubborn", "stdout").contains("ready")
    });
    let asked = Instant::now();
    fw.driver.kill_task(&running.task_id);
    let status = fw.terminal("stubborn");
    let took = asked.elapsed();
    assert_status(&status, TaskState::TaskKilled, None, &[]);
    assert!(
        took >= grace - Duration::from_millis(300),
        "killed after {took:?}, before the grace period"
    );
    assert!(
        took < grace + Duration::from_secs(15),
        "killed after {took:?}"
    );
    wait_until(DEADLINE, "the SIGTERM handler's line", || {
        sandbox_file(&tc, "stubborn", "stdout").contains("got SIGTERM")
    });
}
