//! Role quotas, end to end: a guarantee is met before fair share, a limit
//! holds under a greedy framework, `/quota` and the operator API read and
//! change quotas (refusing bad input), and a restarted master keeps them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use meseta_proto::v1;
use serde_json::json;

use crate::common::*;

fn in_role(name: &str, role: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        roles: vec![role.into()],
        ..framework_info(name, false)
    }
}

fn update_quota(master: &str, configs: serde_json::Value, force: bool) -> (u16, serde_json::Value) {
    call_json(
        master,
        json!({"type": "UPDATE_QUOTA", "update_quota": {"force": force, "quota_configs": configs}}),
    )
}

fn text(master: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let (status, body) = request(master, method, path, &[], body.as_bytes());
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn a_guarantee_comes_before_fair_share_and_a_limit_holds_under_a_greedy_framework() {
    let mut tc = start_cluster(0, "cpus:1;mem:64", &["--weights", "heavy=10,capped=100"]);
    let master = tc.master();
    let (status, answer) = update_quota(
        &master,
        json!([
            {"role": "guaranteed", "guarantees": {"cpus": {"value": 2}}},
            {"role": "capped", "limits": {"cpus": {"value": 1}}},
        ]),
        true, // no agents yet: beyond the cluster's capacity
    );
    assert_eq!(status, 200, "{answer}");
    let roles = ["guaranteed", "heavy", "capped"];
    let mut frameworks: Vec<TestFramework> = roles
        .iter()
        .map(|role| TestFramework::start(&master, in_role(&format!("{role}-fw"), role)))
        .collect();
    // Agents come one at a time; every framework fills every offer with a
    // task that never ends. Without quota, "heavy" (weight 10) and
    // "capped" (weight 100) would take nearly everything.
    for index in 0..6 {
        tc.cluster.add_agent(index).expect("agent starts");
    }
    let mut held: HashMap<&str, f64> = HashMap::new();
    let end = Instant::now() + DEADLINE;
    while held.values().sum::<f64>() < 6.0 {
        assert!(Instant::now() < end, "the cluster never filled: {held:?}");
        for (role, fw) in roles.iter().zip(frameworks.iter_mut()) {
            let Some(offers) = fw.try_offers(Duration::from_millis(100)) else {
                continue;
            };
            for offer in offers {
                let amount = |name: &str| -> f64 {
                    offer
                        .resources
                        .iter()
                        .filter(|r| r.name == name)
                        .filter_map(|r| r.scalar.as_ref())
                        .map(|s| s.value)
                        .sum()
                };
                // An offer cut down by a limit may lack cpus or mem; a
                // long filter keeps that part from coming back, while the
                // agent's whole pool still may.
                if amount("cpus") < 1.0 || amount("mem") < 64.0 {
                    let hour = v1::Filters {
                        refuse_seconds: Some(3600.0),
                    };
                    fw.driver.decline_offer(&offer.id, Some(hour));
                    continue;
                }
                let id = format!("{role}-{}", offer.id.value);
                let task = command_task(&id, &offer, "sleep 600", "cpus:1;mem:64");
                fw.driver
                    .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
                *held.entry(role).or_default() += 1.0;
            }
        }
    }
    assert_eq!(
        held.get("capped").copied(),
        Some(1.0),
        "the limit holds: {held:?}"
    );
    assert_eq!(
        held.get("guaranteed").copied(),
        Some(2.0),
        "the guarantee is met: {held:?}"
    );
    assert_eq!(held.get("heavy").copied(), Some(3.0), "{held:?}");
    let capped = |roles: &serde_json::Value| {
        roles["roles"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == "capped"))
            .map(|r| {
                (
                    r["quota"]["limit"]["cpus"].as_f64(),
                    r["quota"]["consumed"]["cpus"].as_f64(),
                )
            })
    };
    wait_until(
        DEADLINE,
        "/master/roles to show the limit and what it consumed",
        || {
            let roles = get_json(&master, "/master/roles").unwrap_or_default();
            capped(&roles) == Some((Some(1.0), Some(1.0)))
        },
    );
}

#[test]
fn quota_endpoints_refuse_bad_input_and_quotas_survive_a_restart() {
    let mut tc = start_cluster(2, "cpus:2;mem:1024", &[]);
    let master = tc.master();
    wait_until(DEADLINE, "two agents", || {
        get_json(&master, "/master/slaves")
            .ok()
            .and_then(|s| s["slaves"].as_array().map(Vec::len))
            == Some(2)
    });
    // The pre-1.9 endpoint: a guarantee that is also the limit.
    let request = r#"{"role": "web", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}"#;
    assert_eq!(text(&master, "POST", "/quota", request).0, 200);
    let (status, message) = text(&master, "POST", "/quota", request);
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("already has quota"), "{message}");
    let too_much = r#"{"role": "big", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 9}}]}"#;
    let (status, message) = text(&master, "POST", "/quota", too_much);
    assert_eq!(status, 409, "{message}");
    assert!(message.contains("force"), "{message}");
    let (status, message) = text(&master, "POST", "/quota", "{not json");
    assert_eq!(status, 400, "{message}");

    // The operator API: all or nothing.
    let (status, answer) = update_quota(
        &master,
        json!([
            {"role": "eng", "guarantees": {"cpus": {"value": 1}}, "limits": {"cpus": {"value": 3}}},
            {"role": "bad", "guarantees": {"cpus": {"value": 2}}, "limits": {"cpus": {"value": 1}}},
        ]),
        false,
    );
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = update_quota(
        &master,
        json!([{"role": "eng", "guarantees": {"cpus": {"value": 1}}, "limits": {"cpus": {"value": 3}}}]),
        false,
    );
    assert_eq!(status, 200, "{answer}");

    let configs = |master: &str| {
        let status = get_json(master, "/quota").expect("GET /quota");
        let mut roles: Vec<(String, Option<f64>, Option<f64>)> = status["configs"]
            .as_array()
            .expect("configs")
            .iter()
            .map(|c| {
                (
                    c["role"].as_str().unwrap_or_default().to_string(),
                    c["guarantees"]["cpus"]["value"].as_f64(),
                    c["limits"]["cpus"]["value"].as_f64(),
                )
            })
            .collect();
        roles.sort_by(|a, b| a.0.cmp(&b.0));
        roles
    };
    let expected = vec![
        ("eng".to_string(), Some(1.0), Some(3.0)),
        ("web".to_string(), Some(1.0), Some(1.0)),
    ];
    assert_eq!(configs(&master), expected);
    let (status, answer) = call_json(&master, json!({"type": "GET_QUOTA"}));
    assert_eq!(status, 200);
    assert_eq!(
        answer["get_quota"]["status"]["configs"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{answer}"
    );

    tc.restart_master_until_it_answers("/quota");
    assert_eq!(configs(&master), expected, "kept in the registry");
    assert_eq!(text(&master, "DELETE", "/quota/web", "").0, 200);
    let (status, message) = text(&master, "DELETE", "/quota/web", "");
    assert_eq!(status, 400, "{message}");
    assert_eq!(configs(&master), expected[..1]);
}
