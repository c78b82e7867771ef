//! The offer timeout: offers held too long are rescinded and their
//! resources offered again; without a timeout, offers are never taken back.

use super::*;

/// The rescinded offer IDs and the new offers among the pending events.
fn rescinds_and_offers(h: &mut Harness, conn: ConnId) -> (Vec<String>, Vec<v1::Offer>) {
    let events = h.events(conn);
    let rescinded = events
        .iter()
        .filter_map(|e| e.rescind.as_ref())
        .map(|r| r.offer_id.value.clone())
        .collect();
    let offers = events
        .into_iter()
        .filter_map(|e| e.offers)
        .flat_map(|o| o.offers)
        .collect();
    (rescinded, offers)
}

#[test]
fn an_offer_held_past_the_timeout_is_rescinded_and_offered_again() {
    let mut h = Harness::with_settings(Settings {
        offer_timeout: Some(Duration::from_secs(30)),
        ..Settings::default()
    });
    h.add_agent(1, "cpus:2;mem:1024");
    h.subscribe(10, framework_info("holder", false));
    h.advance(Duration::from_secs(1));
    let offers = h.offers(10);
    assert_eq!(offers.len(), 1);

    h.advance(Duration::from_secs(20));
    let (rescinded, _) = rescinds_and_offers(&mut h, 10);
    assert!(rescinded.is_empty(), "not yet: 21 s of 30");

    h.advance(Duration::from_secs(10));
    // Rescinded, and (no filter) the same resources offered again at once.
    let (rescinded, again) = rescinds_and_offers(&mut h, 10);
    assert_eq!(rescinded, vec![offers[0].id.value.clone()]);
    assert_eq!(h.master.counters().offers_rescinded, 1);
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, offers[0].id);
    assert_eq!(again[0].agent_id, offers[0].agent_id);
}

#[test]
fn without_a_timeout_offers_are_never_rescinded() {
    let mut h = Harness::new();
    h.add_agent(1, "cpus:2;mem:1024");
    h.subscribe(10, framework_info("holder", false));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.offers(10).len(), 1);
    // (Within the agent's ping timeouts: the harness's agent never answers.)
    for _ in 0..6 {
        h.advance(Duration::from_secs(10));
    }
    assert!(rescinds_and_offers(&mut h, 10).0.is_empty());
    assert_eq!(h.master.counters().offers_rescinded, 0);
}
