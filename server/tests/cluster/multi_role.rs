//! A MULTI_ROLE framework on real processes: offered resources in each of
//! its roles, its tasks counted in the role of the offer they came from.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use meseta_proto::v1::{self, TaskState};

use crate::common::*;

fn offer_role(offer: &v1::Offer) -> String {
    offer
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.clone())
        .unwrap_or_default()
}

#[test]
fn a_framework_in_two_roles_runs_a_task_in_each() {
    let tc = start_cluster(2, "cpus:1;mem:64", &[]);
    let master = tc.master();
    let info = v1::FrameworkInfo {
        roles: vec!["x".into(), "y".into()],
        ..framework_info("two-roles", false)
    };
    let mut fw = TestFramework::start(&master, info);
    let mut launched: BTreeMap<String, String> = BTreeMap::new();
    let end = Instant::now() + DEADLINE;
    while launched.len() < 2 {
        assert!(Instant::now() < end, "offers in both roles: {launched:?}");
        let Some(offers) = fw.try_offers(Duration::from_millis(200)) else {
            continue;
        };
        for offer in offers {
            let role = offer_role(&offer);
            assert!(
                offer.resources.iter().all(|r| r
                    .allocation_info
                    .as_ref()
                    .and_then(|a| a.role.as_deref())
                    == Some(role.as_str())),
                "every resource says its role: {offer:?}"
            );
            let id = format!("in-{role}");
            let task = command_task(&id, &offer, "sleep 600", "cpus:1;mem:64");
            fw.driver
                .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
            launched.insert(role, id);
        }
    }
    assert_eq!(launched.keys().collect::<Vec<_>>(), ["x", "y"]);
    for id in launched.values() {
        fw.state(id, TaskState::TaskRunning);
    }
    let held = |roles: &serde_json::Value, name: &str| {
        roles["roles"].as_array().and_then(|r| {
            r.iter()
                .find(|r| r["name"] == name)
                .map(|r| (r["allocated"]["cpus"].as_f64(), r["frameworks"].clone()))
        })
    };
    wait_until(DEADLINE, "/master/roles shows a task in each role", || {
        let roles = get_json(&master, "/master/roles").unwrap_or_default();
        let framework = serde_json::json!([fw.id]);
        held(&roles, "x") == Some((Some(1.0), framework.clone()))
            && held(&roles, "y") == Some((Some(1.0), framework))
    });
}
