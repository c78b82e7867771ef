//! Offers: filters, revive, and fair sharing between frameworks.

use std::collections::HashMap;

use meseta_proto::v1::{self, TaskState};

use crate::common::*;

#[test]
fn declined_offer_is_filtered_until_revive_and_goes_to_others_meanwhile() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let mut a = TestFramework::start(&tc.master(), framework_info("a", false));
    let offer = a.offers().remove(0);
    let long = Some(v1::Filters {
        refuse_seconds: Some(3600.0),
    });
    a.driver.decline_offer(&offer.id, long);

    // The resources are free again, and another framework gets them.
    let mut b = TestFramework::start(&tc.master(), framework_info("b", false));
    let offer_b = b.offers().remove(0);
    assert_eq!(offer_b.agent_id, offer.agent_id);
    b.driver.decline_offer(&offer_b.id, long);

    // Revive clears a's filter: the agent comes back to a.
    a.driver.revive_offers();
    let again = a.offers().remove(0);
    assert_eq!(again.agent_id, offer.agent_id);
}

#[test]
fn two_frameworks_share_agents_fairly() {
    // Frameworks first, then agents one by one: each new agent goes to the
    // framework with the lower dominant share. A task takes a whole agent,
    // so no remainder offers blur the shares.
    let mut tc = start_cluster(0, "cpus:1;mem:64", &[]);
    let master = tc.master();
    let mut frameworks: Vec<TestFramework> = (0..2)
        .map(|i| TestFramework::start(&master, framework_info(&format!("fair-{i}"), false)))
        .collect();
    for index in 0..4 {
        tc.cluster.add_agent(index).expect("agent starts");
    }
    // Each framework fills every offer it gets with one long task.
    let mut launched: HashMap<usize, usize> = HashMap::new();
    let mut total = 0;
    let end = std::time::Instant::now() + DEADLINE;
    while total < 4 {
        assert!(
            std::time::Instant::now() < end,
            "cluster never filled: {launched:?}"
        );
        for (i, fw) in frameworks.iter_mut().enumerate() {
            let Some(offers) = fw.try_offers(std::time::Duration::from_millis(100)) else {
                continue;
            };
            for offer in offers {
                let id = format!("fw{i}-task{total}");
                let task = command_task(&id, &offer, "sleep 600", "cpus:1;mem:64");
                fw.driver
                    .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
                *launched.entry(i).or_default() += 1;
                total += 1;
            }
        }
    }
    assert_eq!(
        launched.get(&0),
        Some(&2),
        "DRF gives each framework half: {launched:?}"
    );
    assert_eq!(
        launched.get(&1),
        Some(&2),
        "DRF gives each framework half: {launched:?}"
    );
    for fw in &mut frameworks {
        fw.expect("a running task", |e| match e {
            Ev::Update(s) if s.state == TaskState::TaskRunning as i32 => Some(()),
            _ => None,
        });
    }
}
