//! Agents that go away and come back.

use meseta_proto::v1::TaskState;

use crate::common::*;

#[test]
fn lost_agent_reports_tasks_lost_and_returns_with_the_same_id() {
    let mut tc = start_cluster(
        1,
        "cpus:1;mem:256",
        &[
            "--agent-ping-timeout",
            "200ms",
            "--max-agent-ping-timeouts",
            "3",
        ],
    );
    let master = tc.master();
    let mut plain = TestFramework::start(&master, framework_info("plain", false));
    let offer = plain.offers().remove(0);
    let agent_id = offer.agent_id.value.clone();
    plain.driver.launch_tasks(
        std::slice::from_ref(&offer.id),
        vec![command_task(
            "doomed",
            &offer,
            "sleep 30",
            "cpus:0.5;mem:32",
        )],
        None,
    );
    plain.state("doomed", TaskState::TaskRunning);

    tc.cluster.kill_agent(0);
    let lost = plain.terminal("doomed");
    assert_eq!(lost.state, TaskState::TaskLost as i32, "{lost:?}");
    plain.expect("slave_lost", |e| match e {
        Ev::AgentLost(id) if *id == agent_id => Some(()),
        _ => None,
    });
    let metrics = get_json(&master, "/metrics/snapshot").expect("metrics");
    assert_eq!(metrics["master/slaves_unreachable"], 1.0);

    // The agent comes back from its work dir with the same ID.
    tc.cluster.restart_agent(0).expect("agent restarts");
    wait_until(DEADLINE, "agent active again", || {
        let slaves = get_json(&master, "/master/slaves").unwrap_or_default();
        slaves["slaves"][0]["id"] == agent_id.as_str() && slaves["slaves"][0]["active"] == true
    });
}

#[test]
fn partitioned_agent_returns_and_its_tasks_reconcile() {
    let tc = start_cluster(
        1,
        "cpus:2;mem:256",
        &[
            "--agent-ping-timeout",
            "200ms",
            "--max-agent-ping-timeouts",
            "3",
        ],
    );
    let master = tc.master();
    let mut aware = TestFramework::start(&master, framework_info("aware", true));
    let mut plain = TestFramework::start(&master, framework_info("plain", false));
    for (fw, task) in [(&mut aware, "survivor"), (&mut plain, "casualty")] {
        let offer = fw.offers().remove(0);
        let task = command_task(task, &offer, "sleep 600", "cpus:0.5;mem:32");
        fw.driver
            .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    }
    aware.state("survivor", TaskState::TaskRunning);
    plain.state("casualty", TaskState::TaskRunning);

    // A partition: the agent process is alive but silent.
    tc.cluster.pause_agent(0);
    let unreachable = aware.state("survivor", TaskState::TaskUnreachable);
    assert!(
        unreachable.uuid.is_none(),
        "master-made updates are not acknowledged"
    );
    plain.state("casualty", TaskState::TaskLost);
    tc.cluster.resume_agent(0);

    // The agent reconnects with its running tasks: the partition-aware
    // framework's task is running again; the other's (reported lost) is killed.
    wait_until(DEADLINE, "agent re-registered", || {
        get_json(&master, "/metrics/snapshot")
            .ok()
            .and_then(|m| m["master/slaves_active"].as_f64())
            == Some(1.0)
    });
    plain.state("casualty", TaskState::TaskKilled);
    let reconcile = meseta_proto::v1::TaskStatus {
        task_id: meseta_proto::v1::TaskId {
            value: "survivor".into(),
        },
        state: TaskState::TaskRunning as i32,
        ..Default::default()
    };
    wait_until(DEADLINE, "survivor reconciles as running", || {
        aware
            .driver
            .reconcile_tasks(std::slice::from_ref(&reconcile));
        matches!(
            aware.next_event(std::time::Duration::from_millis(500)),
            Some(Ev::Update(s)) if s.task_id.value == "survivor" && s.state == TaskState::TaskRunning as i32
        )
    });
}
