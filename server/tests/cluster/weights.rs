//! Role weights, end to end: `--weights` seeds them, `/weights` and the
//! operator API read and change them, a restarted master keeps them, and
//! two greedy frameworks in roles weighted 1:3 split the cluster 1:3.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use meseta_proto::v1;

use crate::common::*;

fn weights(master: &str) -> Vec<(String, f64)> {
    let listed = get_json(master, "/weights").expect("GET /weights");
    let mut out: Vec<(String, f64)> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|w| {
            (
                w["role"].as_str().expect("role").to_string(),
                w["weight"].as_f64().expect("weight"),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn put_weights(master: &str, body: &str) -> (u16, String) {
    let (status, body) = request(master, "PUT", "/weights", &[], body.as_bytes());
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn in_role(name: &str, role: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        roles: vec![role.into()],
        ..framework_info(name, false)
    }
}

#[test]
fn greedy_frameworks_in_roles_weighted_one_to_three_split_the_cpus_one_to_three() {
    let mut tc = start_cluster(0, "cpus:1;mem:64", &["--weights", "light=1,heavy=3"]);
    let master = tc.master();
    assert_eq!(
        weights(&master),
        [("heavy".into(), 3.0), ("light".into(), 1.0)],
        "--weights seeds the registry"
    );
    let mut frameworks = [
        TestFramework::start(&master, in_role("light-fw", "light")),
        TestFramework::start(&master, in_role("heavy-fw", "heavy")),
    ];
    // Agents come one at a time; each framework fills every offer with a
    // task that never ends, so what it holds only grows.
    for index in 0..4 {
        tc.cluster.add_agent(index).expect("agent starts");
    }
    let mut held: HashMap<usize, f64> = HashMap::new();
    let end = Instant::now() + DEADLINE;
    while held.values().sum::<f64>() < 4.0 {
        assert!(Instant::now() < end, "the cluster never filled: {held:?}");
        for (i, fw) in frameworks.iter_mut().enumerate() {
            let Some(offers) = fw.try_offers(Duration::from_millis(100)) else {
                continue;
            };
            for offer in offers {
                let id = format!("{i}-{}", offer.id.value);
                let task = command_task(&id, &offer, "sleep 600", "cpus:1;mem:64");
                fw.driver
                    .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
                *held.entry(i).or_default() += 1.0;
            }
        }
    }
    assert_eq!(
        (held.get(&0).copied(), held.get(&1).copied()),
        (Some(1.0), Some(3.0)),
        "light gets one cpu for each three of heavy"
    );
    let (status, roles) = call_json(&master, serde_json::json!({"type": "GET_ROLES"}));
    assert_eq!(status, 200);
    let heavy = roles["get_roles"]["roles"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "heavy"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(heavy["weight"], 3.0, "GET_ROLES: {roles}");
    // `/master/roles`, as Mesos's web UI reads it.
    let cpus_of = |roles: &serde_json::Value, name: &str| {
        roles["roles"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == name))
            .map(|r| {
                (
                    r["weight"].as_f64(),
                    r["allocated"]["cpus"].as_f64(),
                    r["frameworks"].as_array().map(Vec::len),
                )
            })
    };
    wait_until(DEADLINE, "/master/roles shows the 1:3 split", || {
        let roles = get_json(&master, "/master/roles").unwrap_or_default();
        cpus_of(&roles, "light") == Some((Some(1.0), Some(1.0), Some(1)))
            && cpus_of(&roles, "heavy") == Some((Some(3.0), Some(3.0), Some(1)))
    });
}

#[test]
fn weights_change_at_run_time_refuse_bad_input_and_survive_a_restart() {
    let mut tc = start_cluster(0, "cpus:1;mem:64", &["--weights", "eng=2"]);
    let master = tc.master();
    assert_eq!(weights(&master), [("eng".into(), 2.0)]);

    let (status, _) = put_weights(
        &master,
        r#"[{"role":"eng","weight":4},{"role":"ops","weight":0.5}]"#,
    );
    assert_eq!(status, 200);
    let changed = vec![("eng".to_string(), 4.0), ("ops".to_string(), 0.5)];
    assert_eq!(weights(&master), changed);

    for (body, complaint) in [
        ("not json", "not JSON"),
        (r#"[{"role":"eng","weight":0}]"#, "above zero"),
        (
            r#"[{"role":"ok","weight":2},{"role":"bad role","weight":2}]"#,
            "whitespace",
        ),
    ] {
        let (status, message) = put_weights(&master, body);
        assert_eq!(status, 400, "{body}: {message}");
        assert!(message.contains(complaint), "{body}: {message}");
    }
    let (status, answer) = call_json(
        &master,
        serde_json::json!({"type": "UPDATE_WEIGHTS",
            "update_weights": {"weight_infos": [{"role": "-x", "weight": 1}]}}),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(weights(&master), changed, "refused calls changed nothing");

    // The operator API sees the same; a restarted master (same flag) keeps
    // the operator's weights, not the flag's.
    let (status, answer) = call_json(&master, serde_json::json!({"type": "GET_WEIGHTS"}));
    assert_eq!(status, 200);
    assert_eq!(
        answer["get_weights"]["weight_infos"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{answer}"
    );
    tc.restart_master_until_it_answers("/weights");
    assert_eq!(weights(&master), changed);
}
