//! Offer constraints end to end: a framework subscribing over the HTTP API
//! with a constraint on an agent attribute is offered only agents that
//! have it, while the others go to another framework; bad constraints are
//! refused with the reason.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::common::*;
use crate::raw_scheduler::subscribe_raw_with;

fn framework(name: &str) -> Value {
    json!({"user": "root", "name": name, "roles": ["web"], "capabilities": [{"type": "MULTI_ROLE"}]})
}

fn rack_is(rack: &str) -> Value {
    json!({"role_constraints": {"web": {"groups": [{"attribute_constraints": [{
        "selector": {"attribute_name": "rack"},
        "predicate": {"text_equals": {"value": rack}},
    }]}]}}})
}

/// The rack of each agent offered to each framework, by framework ID.
fn offered_racks(master: &str) -> BTreeMap<String, Vec<String>> {
    let Ok(agents) = get_json(master, "/master/slaves") else {
        return BTreeMap::new();
    };
    let rack_of = |id: &str| {
        agents["slaves"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["id"] == id))
            .and_then(|s| s["attributes"]["rack"].as_str())
            .unwrap_or("?")
            .to_string()
    };
    let Ok(frameworks) = get_json(master, "/master/frameworks") else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for f in frameworks["frameworks"].as_array().into_iter().flatten() {
        let mut racks: Vec<String> = f["offers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| rack_of(o["slave_id"].as_str().unwrap_or_default()))
            .collect();
        racks.sort();
        out.insert(f["id"].as_str().unwrap_or_default().to_string(), racks);
    }
    out
}

#[test]
fn a_framework_constrained_to_a_rack_is_offered_only_that_rack() {
    let mut tc = start_cluster(0, "cpus:1;mem:256", &[]);
    let master = tc.master();
    for (index, rack) in ["r1", "r2", "r1", "r2"].into_iter().enumerate() {
        tc.cluster
            .add_agent_with(index, &["--attributes", &format!("rack:{rack}")])
            .expect("agent starts");
    }
    wait_until(DEADLINE, "four agents", || {
        get_json(&master, "/master/slaves")
            .ok()
            .and_then(|s| s["slaves"].as_array().map(Vec::len))
            == Some(4)
    });

    let picky = subscribe_raw_with(
        &master,
        json!({"framework_info": framework("picky"), "offer_constraints": rack_is("r1")}),
    );
    wait_until(
        DEADLINE,
        "the r1 agents offered to the picky framework",
        || offered_racks(&master).get(&picky.framework_id) == Some(&vec!["r1".into(), "r1".into()]),
    );
    // The r2 agents were left; another framework gets them.
    let any = subscribe_raw_with(&master, json!({"framework_info": framework("any")}));
    wait_until(
        DEADLINE,
        "the r2 agents offered to the other framework",
        || {
            let offered = offered_racks(&master);
            offered.get(&picky.framework_id) == Some(&vec!["r1".into(), "r1".into()])
                && offered.get(&any.framework_id) == Some(&vec!["r2".into(), "r2".into()])
        },
    );
    let (status, answer) = call_json(&master, json!({"type": "GET_FRAMEWORKS"}));
    assert_eq!(status, 200);
    let shown = answer["get_frameworks"]["frameworks"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| f["framework_info"]["id"]["value"] == picky.framework_id.as_str())
        })
        .map(|f| f["offer_constraints"].clone());
    assert_eq!(shown, Some(rack_is("r1")), "{answer}");
}

#[test]
fn bad_offer_constraints_are_refused_with_the_reason() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let bad_regex = json!({"role_constraints": {"web": {"groups": [{"attribute_constraints": [{
        "selector": {"attribute_name": "rack"},
        "predicate": {"text_matches": {"regex": "(unclosed"}},
    }]}]}}});
    for (constraints, complaint) in [
        (bad_regex, "invalid regular expression"),
        (
            json!({"role_constraints": {"db": {"groups": [{"attribute_constraints": []}]}}}),
            "not among the framework's roles",
        ),
    ] {
        let call = json!({"type": "SUBSCRIBE", "subscribe": {
            "framework_info": framework("bad"), "offer_constraints": constraints}});
        let (status, body) = request(
            &master,
            "POST",
            "/api/v1/scheduler",
            &[("Content-Type", "application/json")],
            call.to_string().as_bytes(),
        );
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(complaint), "{body}");
    }
}
