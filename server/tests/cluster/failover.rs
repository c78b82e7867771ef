//! Framework failover: `FrameworkInfo.failover_timeout` is honoured.

use std::time::Duration;

use meseta_proto::v1::{self, TaskState};

use crate::common::*;

#[test]
fn framework_failover_within_and_after_the_timeout() {
    let tc = start_cluster(1, "cpus:2;mem:512", &[]);
    let master = tc.master();

    // Within the timeout: a new scheduler with the same ID takes the task over.
    let mut info = framework_info("phoenix", false);
    info.failover_timeout = Some(3600.0);
    let mut first = TestFramework::start(&master, info.clone());
    let offer = first.offers().remove(0);
    let task = command_task("kept", &offer, "sleep 600", "cpus:0.5;mem:32");
    first
        .driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    first.state("kept", TaskState::TaskRunning);
    first.driver.stop(true);
    first.driver.join();
    wait_until(DEADLINE, "the framework shows as disconnected", || {
        get_json(&master, "/metrics/snapshot")
            .ok()
            .and_then(|m| m["master/frameworks_disconnected"].as_f64())
            == Some(1.0)
    });
    info.id = Some(v1::FrameworkId {
        value: first.id.clone(),
    });
    let mut second = TestFramework::start(&master, info);
    assert_eq!(second.id, first.id);
    second.driver.reconcile_tasks(&[]);
    second.state("kept", TaskState::TaskRunning);
    // It wants nothing more: the next framework must not wait for offers
    // it holds (there is no offer timeout).
    second.driver.suppress_offers();
    while let Some(offers) = second.try_offers(Duration::from_millis(300)) {
        for offer in offers {
            second.driver.decline_offer(&offer.id, None);
        }
    }

    // After the timeout: the framework is removed and its tasks are killed.
    let mut short = framework_info("ephemeral", false);
    short.failover_timeout = Some(1.0);
    let mut gone = TestFramework::start(&master, short);
    let offer = gone.offers().remove(0);
    let task = command_task("doomed", &offer, "sleep 600", "cpus:0.5;mem:32");
    gone.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    gone.state("doomed", TaskState::TaskRunning);
    gone.driver.stop(true);
    gone.driver.join();
    let gone_id = gone.id.clone();
    wait_until(
        DEADLINE,
        "the framework is torn down after its failover timeout",
        || {
            let frameworks = get_json(&master, "/master/frameworks").unwrap_or_default();
            frameworks["completed_frameworks"]
                .as_array()
                .is_some_and(|done| done.iter().any(|f| f["id"] == gone_id.as_str()))
        },
    );
    wait_until(DEADLINE, "its task is killed on the agent", || {
        let state = get_json(&tc.cluster.agents[0].address, "/state").unwrap_or_default();
        let running = state["frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["id"] == gone_id.as_str())
            .flat_map(|f| f["executors"].as_array().cloned().unwrap_or_default())
            .flat_map(|e| e["tasks"].as_array().cloned().unwrap_or_default())
            .count();
        running == 0
    });
    // The framework that failed over in time still has its task.
    let metrics = get_json(&master, "/metrics/snapshot").expect("metrics");
    assert_eq!(metrics["master/tasks_running"], 1.0);
}
