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
