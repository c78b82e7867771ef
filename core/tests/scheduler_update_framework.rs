//! `UPDATE_FRAMEWORK` and `suppressed_roles` in the scheduler session: what
//! the calls carry, and that the session keeps the new info for every
//! later SUBSCRIBE.

mod fixtures;

use fixtures::*;
use meseta_core::detector::Endpoint;
use meseta_core::scheduler::{Request, Session};
use meseta_core::v1;
use meseta_proto::scheduler::call;

fn roles(list: &[&str]) -> Vec<String> {
    list.iter().map(|r| r.to_string()).collect()
}

fn renamed(name: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        name: name.into(),
        ..framework()
    }
}

fn update(framework: v1::FrameworkInfo, suppressed: &[&str]) -> Request {
    Request::UpdateFramework {
        framework: Box::new(framework),
        suppressed_roles: roles(suppressed),
    }
}

fn subscribe_body(session: &Session) -> call::Subscribe {
    session.subscribe_call().subscribe.expect("subscribe body")
}

#[test]
fn subscribe_carries_the_roles_that_start_suppressed() {
    let session = Session::new(framework());
    assert!(subscribe_body(&session).suppressed_roles.is_empty());
    let session = Session::new(framework()).with_suppressed_roles(roles(&["*"]));
    assert_eq!(subscribe_body(&session).suppressed_roles, roles(&["*"]));
}

#[test]
fn update_framework_when_subscribed_sends_the_call_with_the_assigned_id() {
    let mut session = Session::new(framework());
    session.connected(&Endpoint::new("master", 5050));
    session.handle_event(subscribed("fw-1", None));

    // Whatever ID the new info carries, the assigned one is kept.
    let mut info = renamed("agent-renamed");
    info.id = Some(framework_id("someone-else"));
    let request = update(info, &["*"]);
    assert_eq!(request.name(), "UPDATE_FRAMEWORK");
    let sent = session.prepare(request, NOW).expect("subscribed");
    assert_eq!(sent.r#type, Some(call::Type::UpdateFramework as i32));
    assert_eq!(sent.framework_id, Some(framework_id("fw-1")));
    let body = sent.update_framework.expect("update_framework body");
    assert_eq!(body.framework_info.id, Some(framework_id("fw-1")));
    assert_eq!(body.framework_info.name, "agent-renamed");
    assert_eq!(body.suppressed_roles, roles(&["*"]));

    // A later re-subscription carries the new info and suppressed roles.
    session.disconnected();
    let resubscribe = subscribe_body(&session);
    assert_eq!(resubscribe.framework_info.name, "agent-renamed");
    assert_eq!(resubscribe.framework_info.id, Some(framework_id("fw-1")));
    assert_eq!(resubscribe.suppressed_roles, roles(&["*"]));
}

#[test]
fn update_framework_while_disconnected_is_kept_for_the_next_subscribe() {
    let mut session = Session::new(framework()).with_suppressed_roles(roles(&["*"]));
    session.connected(&Endpoint::new("master", 5050));
    session.handle_event(subscribed("fw-1", None));
    session.disconnected();

    let dropped = session.prepare(update(renamed("agent-offline"), &[]), NOW);
    assert_eq!(dropped, Err(vec![]), "nothing to report for the call");
    assert_eq!(session.framework().name, "agent-offline");
    assert_eq!(session.framework().id, Some(framework_id("fw-1")));
    let resubscribe = session.subscribe_call();
    assert_eq!(resubscribe.framework_id, Some(framework_id("fw-1")));
    let body = resubscribe.subscribe.expect("subscribe body");
    assert_eq!(body.framework_info.name, "agent-offline");
    assert!(body.suppressed_roles.is_empty());
}

#[test]
fn update_framework_before_any_subscription_does_not_invent_an_id() {
    let mut session = Session::new(framework());
    let mut info = renamed("agent-early");
    info.id = Some(framework_id("made-up"));
    assert_eq!(session.prepare(update(info, &["*"]), NOW), Err(vec![]));
    let first = session.subscribe_call();
    assert_eq!(first.framework_id, None);
    let body = first.subscribe.expect("subscribe body");
    assert_eq!(body.framework_info.id, None);
    assert_eq!(body.framework_info.name, "agent-early");
    assert_eq!(body.suppressed_roles, roles(&["*"]));
}

#[test]
fn update_framework_request_builds_its_call() {
    let built =
        update(renamed("agent-built"), &["a", "b"]).into_call(Some(framework_id("fw-9")), None);
    assert_eq!(built.r#type, Some(call::Type::UpdateFramework as i32));
    assert_eq!(built.framework_id, Some(framework_id("fw-9")));
    let body = built.update_framework.expect("update_framework body");
    assert_eq!(body.framework_info.name, "agent-built");
    assert_eq!(body.suppressed_roles, roles(&["a", "b"]));
    assert!(body.offer_constraints.is_none());
}
