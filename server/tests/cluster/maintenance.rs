//! Maintenance end to end over Mesos's endpoints: a schedule drains an
//! agent's machine (a framework running a task there is sent an inverse
//! offer, which the status shows), `/machine/down` removes the agent,
//! `/machine/up` ends it; bad bodies are refused with the reason, and the
//! schedule survives a master restart.

use serde_json::{json, Value};

use crate::common::*;

fn post(master: &str, path: &str, body: &Value) -> (u16, String) {
    let (status, body) = request(master, "POST", path, &[], body.to_string().as_bytes());
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn a_machine_is_drained_taken_down_and_brought_up() {
    let mut tc = start_cluster(1, "cpus:2;mem:256", &[]);
    let master = tc.master();
    let mut fw = TestFramework::start(&master, framework_info("steady", false));
    let offer = fw.offers().remove(0);
    let hostname = offer.hostname.clone();
    let task = command_task("steady", &offer, "sleep 600", "cpus:0.5;mem:32");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("steady", meseta_proto::v1::TaskState::TaskRunning);

    let machine = json!({"hostname": hostname});
    let schedule = json!({"windows": [{
        "machine_ids": [machine],
        "unavailability": {"start": {"nanoseconds": 1_000_000_000u64}},
    }]});
    let (status, body) = post(&master, "/maintenance/schedule", &schedule);
    assert_eq!(status, 200, "{body}");
    let shown = get_json(&master, "/maintenance/schedule").expect("GET schedule");
    assert_eq!(
        shown["windows"][0]["machine_ids"][0]["hostname"],
        hostname.as_str()
    );
    wait_until(
        DEADLINE,
        "the framework's inverse offer in the status",
        || {
            get_json(&master, "/maintenance/status")
                .ok()
                .is_some_and(|s| s["draining_machines"][0]["statuses"][0]["status"] == "UNKNOWN")
        },
    );

    for (path, body, complaint) in [
        (
            "/maintenance/schedule",
            json!({"windows": [{"machine_ids": [{}], "unavailability": {"start": {"nanoseconds": 1}}}]}),
            "hostname or an ip",
        ),
        (
            "/machine/down",
            json!([{"hostname": "nowhere"}]),
            "not in the maintenance schedule",
        ),
        ("/machine/up", json!([machine]), "not down"),
        ("/machine/down", json!({"not": "a list"}), "list"),
    ] {
        let (status, message) = post(&master, path, &body);
        assert_eq!(status, 400, "{path} {body}: {message}");
        assert!(message.contains(complaint), "{path}: {message}");
    }

    tc.restart_master_until_it_answers("/maintenance/schedule");
    let kept = get_json(&master, "/maintenance/schedule").expect("the schedule");
    assert_eq!(
        kept["windows"][0]["machine_ids"][0]["hostname"],
        hostname.as_str(),
        "the restarted master keeps the schedule"
    );
    wait_until(DEADLINE, "the agent back with the restarted master", || {
        get_json(&master, "/master/slaves")
            .ok()
            .and_then(|s| s["slaves"].as_array().map(Vec::len))
            == Some(1)
    });

    let (status, body) = post(&master, "/machine/down", &json!([machine]));
    assert_eq!(status, 200, "{body}");
    wait_until(DEADLINE, "the agent removed", || {
        get_json(&master, "/master/slaves")
            .ok()
            .and_then(|s| s["slaves"].as_array().map(Vec::len))
            == Some(0)
    });
    let status = get_json(&master, "/maintenance/status").expect("status");
    assert_eq!(
        status["down_machines"][0]["hostname"],
        hostname.as_str(),
        "{status}"
    );
    let (status, body) = post(&master, "/machine/up", &json!([machine]));
    assert_eq!(status, 200, "{body}");
    let schedule = get_json(&master, "/maintenance/schedule").expect("schedule");
    assert_eq!(schedule, json!({}), "the machine left the schedule");
}
