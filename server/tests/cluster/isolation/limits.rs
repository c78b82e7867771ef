//! What a task may use: memory, CPU, processes; and that nothing of it
//! outlives it.

use meseta_proto::v1::{task_status::Reason, task_status::Source, TaskState};

use super::*;

/// 600 MB held by `tail`, which keeps all of a newline-free input.
const HOG: &str = "head -c 600m /dev/zero | tail";

#[test]
fn a_task_over_its_memory_fails_while_its_neighbour_runs_on() {
    let Some(tc) = isolated("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("memory", false));
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![
            command_task("calm", &offer, "sleep 120", "cpus:0.1;mem:32"),
            command_task("hog", &offer, HOG, "cpus:0.1;mem:32"),
        ],
    );
    fw.state("calm", TaskState::TaskRunning);
    let stats = statistics(&tc, "calm");
    assert_eq!(stats["mem_limit_bytes"], 32u64 << 20, "{stats}");
    assert!(stats["timestamp"].as_f64().unwrap_or(0.0) > 0.0, "{stats}");
    assert!(stats["processes"].as_u64().unwrap_or(0) >= 1, "{stats}");
    let all = get_json(&tc.cluster.agents[0].address, "/monitor/statistics").expect("stats");
    let entry = all
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["executor_id"] == "calm")
        .expect("calm is listed");
    for key in ["framework_id", "executor_name", "source", "statistics"] {
        assert!(!entry[key].is_null(), "{key} missing from {entry}");
    }

    let hog = fw.terminal("hog");
    assert_status(
        &hog,
        TaskState::TaskFailed,
        Some(Reason::ContainerLimitationMemory),
        &["Memory limit exceeded", "Requested: 32MB", "Maximum Used:"],
    );
    assert_eq!(hog.source, Some(Source::Agent as i32));
    let limited = hog.limitation.as_ref().expect("the limitation's resources");
    assert_eq!(limited.resources[0].name, "mem");

    // The neighbour was untouched: it is still running, until killed.
    fw.driver.kill_task(&meseta_proto::v1::TaskId {
        value: "calm".into(),
    });
    let calm = fw.terminal("calm");
    assert_eq!(calm.state, TaskState::TaskKilled as i32, "{calm:?}");
}

/// CPU seconds of a command task's container so far, and when.
fn cpu_seconds(tc: &TestCluster, task: &str) -> (f64, f64) {
    let stats = statistics(tc, task);
    let used = stats["cpus_user_time_secs"].as_f64().unwrap_or(0.0)
        + stats["cpus_system_time_secs"].as_f64().unwrap_or(0.0);
    (used, stats["timestamp"].as_f64().unwrap_or(0.0))
}

#[test]
fn busy_tasks_on_one_core_share_it_by_their_cpus() {
    let Some(tc) = isolated("cpus:4;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("shares", false));
    let offer = fw.offers().remove(0);
    let spin = "exec taskset -c 0 sh -c 'while :; do :; done'";
    launch(
        &fw,
        &offer,
        vec![
            command_task("one", &offer, spin, "cpus:1;mem:32"),
            command_task("three", &offer, spin, "cpus:3;mem:32"),
        ],
    );
    fw.state("one", TaskState::TaskRunning);
    fw.state("three", TaskState::TaskRunning);
    let (one_start, _) = cpu_seconds(&tc, "one");
    let (three_start, _) = cpu_seconds(&tc, "three");
    let (mut one, mut three) = (0.0, 0.0);
    wait_until(DEADLINE, "four CPU seconds used between them", || {
        one = cpu_seconds(&tc, "one").0 - one_start;
        three = cpu_seconds(&tc, "three").0 - three_start;
        one + three >= 4.0
    });
    let ratio = three / one.max(1e-3);
    eprintln!("cpu shares: cpus:1 used {one:.2}s, cpus:3 used {three:.2}s, ratio {ratio:.2}");
    assert!(
        (1.8..=5.0).contains(&ratio),
        "1 and 3 cpus on one core should share it about 1:3; got {one:.2}s and {three:.2}s"
    );
}

#[test]
fn with_cfs_a_quarter_cpu_gets_about_a_quarter_of_a_core() {
    let Some(tc) = isolated("cpus:2;mem:512", &["--cgroups-enable-cfs"]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("cfs", false));
    let offer = fw.offers().remove(0);
    let spin = "while :; do :; done";
    launch(
        &fw,
        &offer,
        vec![command_task("quarter", &offer, spin, "cpus:0.25;mem:32")],
    );
    fw.state("quarter", TaskState::TaskRunning);
    let (used_start, at_start) = cpu_seconds(&tc, "quarter");
    let (mut used, mut elapsed) = (0.0, 0.0);
    wait_until(DEADLINE, "three seconds of wall time", || {
        let (now_used, now) = cpu_seconds(&tc, "quarter");
        used = now_used - used_start;
        elapsed = now - at_start;
        elapsed >= 3.0
    });
    let share = used / elapsed;
    eprintln!("cfs: cpus:0.25 used {used:.2}s of CPU in {elapsed:.2}s ({share:.2} of a core)");
    assert!(
        (0.1..=0.4).contains(&share),
        "a cpus:0.25 busy loop under CFS should get about a quarter core, got {share:.2}"
    );
    let stats = statistics(&tc, "quarter");
    assert!(
        stats["cpus_nr_throttled"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
}

#[test]
fn a_daemon_that_left_its_session_dies_with_its_task() {
    for (label, args) in [
        ("with a PID namespace", &[][..]),
        (
            "without a PID namespace (the freezer)",
            &["--isolation", "cgroups/cpu,cgroups/mem,filesystem/linux"][..],
        ),
    ] {
        let Some(tc) = isolated("cpus:2;mem:512", args) else {
            return;
        };
        let mut fw = TestFramework::start(&tc.master(), framework_info("daemon", false));
        let offer = fw.offers().remove(0);
        let marker = format!("431.{}", std::process::id());
        let command = format!(
            "setsid sh -c 'sleep {marker}' </dev/null >/dev/null 2>&1 & \
             while ! pgrep -f 'sleep {marker}' >/dev/null; do sleep 0.05; done"
        );
        launch(
            &fw,
            &offer,
            vec![command_task("daemon", &offer, &command, "cpus:0.1;mem:32")],
        );
        let done = fw.terminal("daemon");
        assert_eq!(
            done.state,
            TaskState::TaskFinished as i32,
            "{label}: {done:?}"
        );
        let left = processes_with(&format!("sleep {marker}"));
        assert!(
            left.is_empty(),
            "{label}: the daemon outlived its task: {left:?}"
        );
    }
}

#[test]
fn a_fork_bomb_stays_inside_its_process_cap() {
    let Some(tc) = isolated("cpus:2;mem:512", &["--cgroups-max-pids", "32"]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("forks", false));
    let offer = fw.offers().remove(0);
    let marker = format!("522.{}", std::process::id());
    // The inner shell gives up at the cap; its sleeps stay, as does the
    // outer shell (exec forks nothing).
    let bomb =
        format!("sh -c 'for i in $(seq 200); do sleep {marker} & done'; exec sleep {marker}");
    launch(
        &fw,
        &offer,
        vec![command_task("bomb", &offer, &bomb, "cpus:0.1;mem:128")],
    );
    fw.state("bomb", TaskState::TaskRunning);
    wait_until(DEADLINE, "the shell to hit the cap", || {
        sandbox_file(&tc, "bomb", "stderr").contains("fork")
    });
    let running = processes_with(&format!("sleep {marker}")).len();
    assert!(
        (20..=32).contains(&running),
        "the cap of 32 holds the bomb to it: {running} sleeps run"
    );
    // The host still forks: another task on the same agent runs.
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![command_task("after", &offer, "true", "cpus:0.1;mem:32")],
    );
    assert_eq!(fw.terminal("after").state, TaskState::TaskFinished as i32);
    fw.driver.kill_task(&meseta_proto::v1::TaskId {
        value: "bomb".into(),
    });
    assert_eq!(fw.terminal("bomb").state, TaskState::TaskKilled as i32);
    let left = processes_with(&format!("sleep {marker}"));
    assert!(left.is_empty(), "nothing of the bomb is left: {left:?}");
}
