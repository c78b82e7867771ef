//! UPDATE_FRAMEWORK end to end: the scheduler API's answers (`200 OK` as in
//! Mesos, `400` for a forbidden change), the new info in the endpoints, and
//! suppressed roles turning a driver's offers off and on.

use std::time::Duration;

use meseta_proto::v1;
use serde_json::{json, Value};

use crate::common::*;
use crate::raw_scheduler::subscribe_raw;

const JSON: &str = "application/json";

fn framework_json(name: &str) -> Value {
    json!({
        "user": "root",
        "name": name,
        "roles": ["*"],
        "capabilities": [{"type": "MULTI_ROLE"}],
    })
}

/// The framework's entry in `/master/frameworks` (or `/master/state`).
fn listed(master: &str, path: &str, framework_id: &str) -> Option<Value> {
    let listing = get_json(master, path).ok()?;
    listing["frameworks"]
        .as_array()?
        .iter()
        .find(|f| f["id"] == framework_id)
        .cloned()
}

#[test]
fn update_framework_over_http_is_answered_200_and_forbidden_changes_400() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let sub = subscribe_raw(&master, &framework_json("agent-raw"));
    let post = |call: Value| {
        let body = call.to_string();
        let (status, body) = request(
            &master,
            "POST",
            "/api/v1/scheduler",
            &[("Content-Type", JSON), ("Mesos-Stream-Id", &sub.stream_id)],
            body.as_bytes(),
        );
        (status, String::from_utf8_lossy(&body).to_string())
    };
    let update = |info: Value, suppressed: Value| {
        json!({
            "type": "UPDATE_FRAMEWORK",
            "framework_id": {"value": sub.framework_id},
            "update_framework": {"framework_info": info, "suppressed_roles": suppressed},
        })
    };
    let with_id = |mut info: Value, id: &str| {
        info["id"] = json!({ "value": id });
        info
    };

    let mut renamed = with_id(framework_json("agent-raw-renamed"), &sub.framework_id);
    renamed["failover_timeout"] = json!(120.0);
    let (status, body) = post(update(renamed.clone(), json!([])));
    assert_eq!(status, 200, "{body}");
    // 200 means applied: the endpoints show it at once.
    let entry = listed(&master, "/master/frameworks", &sub.framework_id).expect("listed");
    assert_eq!(entry["name"], "agent-raw-renamed");
    assert_eq!(entry["failover_timeout"], 120.0);

    let mut other_user = renamed.clone();
    other_user["user"] = json!("nobody");
    other_user["name"] = json!("agent-raw-refused");
    let (status, body) = post(update(other_user, json!([])));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("'user'"), "{body}");

    let elsewhere = with_id(framework_json("agent-raw-refused"), "someone-else");
    let (status, body) = post(update(elsewhere, json!([])));
    assert_eq!(status, 400, "{body}");

    let (status, body) = post(update(renamed, json!(["not-my-role"])));
    assert_eq!(status, 400, "{body}");

    let entry = listed(&master, "/master/state", &sub.framework_id).expect("listed");
    assert_eq!(
        entry["name"], "agent-raw-renamed",
        "refused calls change nothing"
    );
    assert_eq!(entry["user"], "root");
}

#[test]
fn driver_update_framework_renames_and_suppressed_roles_stop_and_resume_offers() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let master = tc.master();
    let mut a = TestFramework::start(&master, framework_info("agent-update", false));
    let offer = a.offers().remove(0);

    // Rename and suppress the only role, then hand the offer back with no
    // filter: the calls go out in order, so the decline finds `*` suppressed.
    let renamed = v1::FrameworkInfo {
        name: "agent-update-renamed".into(),
        ..framework_info("agent-update", false)
    };
    a.driver.update_framework(renamed.clone(), vec!["*".into()]);
    let no_filter = Some(v1::Filters {
        refuse_seconds: Some(0.0),
    });
    a.driver.decline_offer(&offer.id, no_filter);
    wait_until(DEADLINE, "the new name in /master/frameworks", || {
        listed(&master, "/master/frameworks", &a.id)
            .is_some_and(|f| f["name"] == "agent-update-renamed")
    });
    let state = listed(&master, "/master/state", &a.id).expect("in /master/state");
    assert_eq!(state["name"], "agent-update-renamed");

    // The freed resources go to another framework, not to the suppressed one.
    let mut b = TestFramework::start(&master, framework_info("agent-other", false));
    let offer_b = b.offers().remove(0);
    assert_eq!(offer_b.agent_id, offer.agent_id);
    let long = Some(v1::Filters {
        refuse_seconds: Some(3600.0),
    });
    b.driver.decline_offer(&offer_b.id, long);
    wait_until(DEADLINE, "b's decline to free the agent", || {
        get_json(&master, "/master/frameworks").is_ok_and(|f| {
            f["frameworks"]
                .as_array()
                .is_some_and(|l| l.iter().all(|f| f["offered_resources"]["cpus"] == 0.0))
        })
    });
    // Free resources and ten allocation cycles: still nothing for `a`.
    assert!(
        a.try_offers(Duration::from_secs(1)).is_none(),
        "a suppressed role got offers"
    );

    // Unsuppressing resumes offers, and the name sticks.
    a.driver.update_framework(renamed, Vec::new());
    let again = a.offers().remove(0);
    assert_eq!(again.agent_id, offer.agent_id);
    let entry = listed(&master, "/master/frameworks", &a.id).expect("listed");
    assert_eq!(entry["name"], "agent-update-renamed");
    while let Some(event) = a.next_event(Duration::ZERO) {
        assert!(
            !matches!(event, Ev::Error(_)),
            "a call was refused: {event:?}"
        );
    }
}
