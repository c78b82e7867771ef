//! The worst numbers a framework can send: `refuse_seconds` and
//! `failover_timeout` that are NaN, negative, infinite or huge. Nothing may
//! panic; an invalid value means no filter and no failover time (see
//! `Master::refuse_for` and `recovery::failover_timeout`), a huge one is
//! capped at 1e9 seconds (about 31 years).

use meseta_proto::registry::operation::Kind;

use super::*;
use crate::registry::RegistryState;

/// Values that set no filter and no failover time.
const INVALID: [f64; 6] = [f64::NAN, -1.0, f64::NEG_INFINITY, f64::INFINITY, 0.0, -0.0];
/// Values capped at 1e9 seconds.
const HUGE: [f64; 3] = [1e300, f64::MAX, 1e12];
/// Just under the cap.
const ALMOST_CAP: Duration = Duration::from_secs(999_000_000);

/// Moves time on by `by` in one step, the agent on stream 1 answering a
/// ping just before the tick (so that it stays reachable).
fn jump(h: &mut Harness, by: Duration) {
    h.now += by;
    let pong = AgentMessage {
        kind: Some(agent_message::Kind::Pong(cluster::Pong { sequence: None })),
    };
    let actions = h.master.agent_message(h.now, 1, pong);
    h.actions.extend(actions);
    h.advance(Duration::ZERO);
}

/// An agent offered to a framework (stream 10).
fn offered() -> (Harness, (String, String), v1::Offer) {
    let mut h = Harness::new();
    h.register(1, mock::agent());
    let fw = h.subscribe(10, mock::framework().build());
    let offer = h.cycle(10).remove(0);
    (h, fw, offer)
}

#[test]
fn a_decline_with_an_invalid_or_tiny_refuse_seconds_sets_no_filter() {
    for refuse in INVALID.into_iter().chain([1e-300, f64::MIN_POSITIVE]) {
        let (mut h, fw, offer) = offered();
        h.call(&fw, mock::decline(&[offer], Some(refuse)))
            .unwrap_or_else(|e| panic!("refuse_seconds {refuse}: {e}"));
        assert_eq!(
            h.cycle(10).len(),
            1,
            "refuse_seconds {refuse}: offered again"
        );
    }
}

#[test]
fn an_accept_with_an_invalid_refuse_seconds_sets_no_filter() {
    for refuse in INVALID {
        let (mut h, fw, offer) = offered();
        // Nothing launched: the whole offer goes back, unfiltered.
        h.call(&fw, mock::accept(&[&offer], Vec::new(), Some(refuse)))
            .unwrap();
        assert_eq!(
            h.cycle(10).len(),
            1,
            "refuse_seconds {refuse}: offered again"
        );
    }
}

#[test]
fn a_decline_with_a_huge_refuse_seconds_filters_for_the_cap_until_revived() {
    for refuse in HUGE {
        let (mut h, fw, offer) = offered();
        h.call(&fw, mock::decline(&[offer], Some(refuse))).unwrap();
        jump(&mut h, ALMOST_CAP);
        assert!(h.offers(10).is_empty(), "refuse_seconds {refuse}: filtered");
        h.call(&fw, mock::bare(call::Type::Revive)).unwrap();
        assert_eq!(h.cycle(10).len(), 1, "refuse_seconds {refuse}: revived");
    }
}

#[test]
fn a_huge_filter_expires_at_the_cap() {
    let (mut h, fw, offer) = offered();
    h.call(&fw, mock::decline(&[offer], Some(f64::MAX)))
        .unwrap();
    jump(&mut h, Duration::from_secs(1_000_000_001));
    assert_eq!(h.offers(10).len(), 1);
}

/// A framework subscribed on stream 10 with `failover_timeout`.
fn subscribed(failover_timeout: f64) -> (Harness, v1::FrameworkInfo) {
    let mut h = Harness::new();
    let info = mock::framework()
        .with_failover_timeout(failover_timeout)
        .build();
    let (id, _) = h.subscribe(10, info.clone());
    let info = v1::FrameworkInfo {
        id: Some(v1::FrameworkId { value: id }),
        ..info
    };
    h.actions.clear();
    (h, info)
}

fn removes(actions: &[Action], framework_id: &str) -> bool {
    actions.iter().any(|a| {
        matches!(a, Action::Persist(op)
            if matches!(&op.kind, Some(Kind::RemoveFramework(f)) if f.value == framework_id))
    })
}

#[test]
fn an_invalid_failover_timeout_removes_the_framework_when_it_disconnects() {
    for timeout in INVALID {
        let (mut h, info) = subscribed(timeout);
        let id = info.id.clone().unwrap().value;
        let actions = h.master.framework_disconnected(h.now, 10);
        assert!(
            removes(&actions, &id),
            "failover_timeout {timeout}: {actions:?}"
        );
        let again = h.master.subscribe(h.now, mock::subscribe(info), 11);
        assert!(
            matches!(again, Err(CallError::Forbidden(_))),
            "failover_timeout {timeout}: {again:?}"
        );
    }
}

#[test]
fn a_huge_failover_timeout_is_capped() {
    for timeout in HUGE {
        let (mut h, info) = subscribed(timeout);
        let id = info.id.clone().unwrap().value;
        let actions = h.master.framework_disconnected(h.now, 10);
        assert!(!removes(&actions, &id), "failover_timeout {timeout}");
        h.advance(ALMOST_CAP);
        assert!(!removes(&h.actions, &id), "failover_timeout {timeout}");

        // Still there: it may come back...
        let back = h
            .master
            .subscribe(h.now, mock::subscribe(info.clone()), 11)
            .unwrap_or_else(|e| panic!("failover_timeout {timeout}: {e}"));
        assert_eq!(back.framework_id, id);
        // ... and once it leaves again, it is removed at the cap.
        h.master.framework_disconnected(h.now, 11);
        h.actions.clear();
        h.advance(Duration::from_secs(1_000_000_000));
        assert!(removes(&h.actions, &id), "failover_timeout {timeout}");
    }
}

#[test]
fn a_recovered_framework_with_an_invalid_failover_timeout_gets_the_reregistration_window() {
    let mut registry = RegistryState::default();
    for (id, timeout) in [("F-nan", f64::NAN), ("F-neg", -5.0), ("F-huge", 1e300)] {
        let info = v1::FrameworkInfo {
            id: Some(v1::FrameworkId { value: id.into() }),
            ..mock::framework().with_failover_timeout(timeout).build()
        };
        registry.frameworks.insert(id.into(), info);
    }
    let mut h = Harness::new();
    h.master.recover(h.now, registry);
    // `agent_reregister_timeout` (600 s) is the least a framework gets.
    h.advance(Duration::from_secs(599));
    assert!(!removes(&h.actions, "F-nan"));
    h.advance(Duration::from_secs(2));
    assert!(removes(&h.actions, "F-nan"));
    assert!(removes(&h.actions, "F-neg"));
    assert!(!removes(&h.actions, "F-huge"));
    let mut left: Vec<&String> = h.master.frameworks().keys().collect();
    left.sort();
    assert_eq!(left, vec!["F-huge"]);
}
