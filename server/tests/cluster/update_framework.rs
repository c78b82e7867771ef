//! UPDATE_FRAMEWORK end to end: the scheduler API's answers (`200 OK` as in
//! Mesos, `400` for a forbidden change), the new info in the endpoints, and
//! suppressed roles turning a driver's offers off and on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use meseta_proto::v1;
use serde_json::{json, Value};

use crate::common::*;

const JSON: &str = "application/json";

/// A subscription opened by hand (JSON): the open stream, which must stay
/// open for calls to be accepted, its `Mesos-Stream-Id`, and the framework ID.
struct RawSubscription {
    _stream: TcpStream,
    stream_id: String,
    framework_id: String,
}

fn subscribe_raw(master: &str, framework_info: &Value) -> RawSubscription {
    let body =
        json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}}).to_string();
    let mut stream = TcpStream::connect(master).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let head = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {master}\r\nContent-Type: {JSON}\r\nAccept: {JSON}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body.as_bytes()).expect("write");
    let end = Instant::now() + DEADLINE;
    let mut received = Vec::new();
    loop {
        assert!(Instant::now() < end, "no SUBSCRIBED event in time");
        let mut buffer = [0u8; 4096];
        let n = stream.read(&mut buffer).expect("read the subscription");
        assert!(n > 0, "the master closed the subscription: {received:?}");
        received.extend_from_slice(&buffer[..n]);
        let Some(split) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&received[..split]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let stream_id = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("mesos-stream-id")
                    .then(|| value.trim().to_string())
            })
            .expect("Mesos-Stream-Id header");
        // Body: `<chunk size>\r\n<record size>\n{event}...`; the first
        // event is SUBSCRIBED.
        let body = &received[split + 4..];
        let Some(start) = body.iter().position(|b| *b == b'{') else {
            continue;
        };
        let mut events = serde_json::Deserializer::from_slice(&body[start..]).into_iter::<Value>();
        let Some(Ok(event)) = events.next() else {
            continue;
        };
        assert_eq!(event["type"], "SUBSCRIBED", "{event}");
        let framework_id = event["subscribed"]["framework_id"]["value"]
            .as_str()
            .expect("framework ID")
            .to_string();
        return RawSubscription {
            _stream: stream,
            stream_id,
            framework_id,
        };
    }
}

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
