//! Offer lifecycle: filters, revive, suppress, recovery, agent and
//! framework state.

use std::time::Duration;

use meseta_allocator::testkit::{res, Cluster};
use meseta_allocator::{Allocator, AllocatorConfig, Resources};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn offers_whole_free_pool_to_one_framework() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:4;mem:1024;ports:[31000-32000]")
        .framework("f", "web");
    let offers = c.cycle();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id, "a1");
    assert_eq!(offers[0].role, "web");
    assert_eq!(
        offers[0].resources,
        res("cpus:4;mem:1024;ports:[31000-32000]")
    );
    assert_eq!(c.allocator.free("a1"), Some(Resources::new()));
    assert!(c.cycle().is_empty(), "nothing left to offer");
}

#[test]
fn offers_filter_honoured_until_expiry() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:4;mem:1024").framework("f", "r");
    let offers = c.cycle();
    c.decline(&offers, Some(Duration::from_secs(5)));
    assert!(c.cycle().is_empty(), "filtered for 5 s");
    c.advance(Duration::from_millis(4999));
    assert!(c.cycle().is_empty(), "still filtered");
    c.advance(Duration::from_millis(1));
    assert_eq!(c.cycle().len(), 1, "filter expired");
    assert_eq!(c.allocator.filter_count(), 0);
}

#[test]
fn offers_filter_passes_to_next_framework() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:4;mem:1024").framework("f", "r");
    let offers = c.cycle();
    c.framework("g", "r");
    c.decline(&offers, Some(HOUR));
    let next = c.cycle();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].framework_id, "g");
}

#[test]
fn offers_filter_ignored_when_more_is_free() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:4;mem:1024").framework("f", "r");
    let offers = c.cycle();
    // Decline only part of the offer with a filter, then the rest without:
    // the free pool is now larger than what was refused.
    let part = res("cpus:1;mem:256");
    c.allocator
        .recover("f", "r", "a1", &part, Some(HOUR), c.now);
    assert!(c.cycle().is_empty(), "1 cpu is filtered");
    let mut rest = offers[0].resources.clone();
    rest.subtract(&part);
    c.allocator.recover("f", "r", "a1", &rest, None, c.now);
    assert_eq!(c.cycle().len(), 1);
}

#[test]
fn offers_zero_refusal_creates_no_filter() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:4;mem:1024").framework("f", "r");
    let offers = c.cycle();
    c.decline(&offers, Some(Duration::ZERO));
    assert_eq!(c.allocator.filter_count(), 0);
    assert_eq!(c.cycle().len(), 1);
}

#[test]
fn offers_revive_clears_filters() {
    let mut c = Cluster::new();
    c.agents(3, "cpus:4;mem:1024").framework("f", "r");
    let offers = c.cycle();
    c.decline(&offers, Some(HOUR));
    assert!(c.cycle().is_empty());
    c.allocator.revive("f");
    assert_eq!(c.allocator.filter_count(), 0);
    assert_eq!(c.cycle().len(), 3);
}

#[test]
fn offers_suppress_stops_offers_until_revive() {
    let mut c = Cluster::new();
    c.agents(2, "cpus:4;mem:1024").framework("f", "r");
    c.allocator.suppress("f");
    assert!(c.cycle().is_empty());
    c.allocator.revive("f");
    assert_eq!(c.cycle().len(), 2);
    let mut c = Cluster::new();
    c.agents(2, "cpus:4;mem:1024");
    c.allocator.add_framework("s", "r", true);
    assert!(c.cycle().is_empty(), "subscribed suppressed");
}

#[test]
fn offers_suppressed_framework_still_counts_in_role_share() {
    let mut c = Cluster::new();
    c.agents(4, "cpus:1;mem:128")
        .framework("f1", "r")
        .framework("g", "other");
    let offers = c.cycle();
    assert_eq!(Cluster::per_framework(&offers)["f1"], 2);
    c.allocator.suppress("f1");
    c.framework("f2", "r");
    // Role "r" still holds half the cluster through f1, so a freed agent
    // goes to "other" rather than to f2.
    let g_offer: Vec<_> = offers
        .iter()
        .filter(|o| o.framework_id == "g")
        .cloned()
        .collect();
    c.decline(&g_offer[..1], None);
    let next = c.cycle();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].framework_id, "g");
}

#[test]
fn offers_deactivated_agent_not_offered() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:4;mem:1024")
        .agent("a2", "cpus:4;mem:1024")
        .framework("f", "r");
    c.allocator.deactivate_agent("a1");
    let offers = c.cycle();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id, "a2");
    c.allocator.activate_agent("a1");
    let offers = c.cycle();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id, "a1");
}

#[test]
fn offers_inactive_framework_not_offered() {
    let mut c = Cluster::new();
    c.agents(1, "cpus:4;mem:1024").framework("f", "r");
    c.allocator.deactivate_framework("f");
    assert!(c.cycle().is_empty());
    c.allocator.activate_framework("f");
    assert_eq!(c.cycle().len(), 1);
}

#[test]
fn offers_recovered_resources_reoffered() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:4;mem:1024;ports:[31000-31009]")
        .framework("f", "r");
    let offer = c.cycle().remove(0);
    // A task keeps 1 cpu, 128 MB and two ports; the rest is recovered.
    let task = res("cpus:1;mem:128;ports:[31000-31001]");
    let mut unused = offer.resources.clone();
    unused.subtract(&task);
    c.allocator.recover("f", "r", "a1", &unused, None, c.now);
    assert_eq!(c.allocator.allocated("f"), task);
    let again = c.cycle();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].resources,
        res("cpus:3;mem:896;ports:[31002-31009]")
    );
    // The task ends: its resources come back too.
    c.allocator.recover("f", "r", "a1", &task, None, c.now);
    assert_eq!(c.allocator.allocated("f"), again[0].resources);
    c.allocator
        .recover("f", "r", "a1", &again[0].resources, None, c.now);
    assert_eq!(
        c.allocator.free("a1"),
        Some(res("cpus:4;mem:1024;ports:[31000-31009]"))
    );
    assert_eq!(c.allocator.dominant_share("f"), 0.0);
}

#[test]
fn offers_recover_more_than_held_is_clamped() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:4;mem:1024").framework("f", "r");
    c.cycle();
    c.allocator
        .recover("f", "r", "a1", &res("cpus:100;mem:1;disk:5"), None, c.now);
    assert_eq!(c.allocator.free("a1"), Some(res("cpus:4;mem:1")));
    assert_eq!(c.allocator.allocated("f"), res("mem:1023"));
    c.allocator
        .recover("nobody", "r", "a1", &res("mem:1023"), None, c.now);
    c.allocator
        .recover("f", "r", "nowhere", &res("mem:1023"), None, c.now);
    assert_eq!(c.allocator.allocated("f"), res("mem:1023"));
}

#[test]
fn offers_small_free_pool_not_offered() {
    let mut c = Cluster::new();
    c.agent("tiny", "cpus:0.005;mem:31;disk:1000")
        .agent("cpu-only", "cpus:0.01")
        .framework("f", "r");
    let offers = c.cycle();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id, "cpu-only");
}

#[test]
fn offers_removing_agent_drops_it() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:4;mem:1024")
        .agent("a2", "cpus:4;mem:1024")
        .framework("f", "r");
    let offers = c.cycle();
    assert_eq!(offers.len(), 2);
    c.allocator.remove_agent("a1");
    assert_eq!(c.allocator.free("a1"), None);
    assert_eq!(c.allocator.agent_count(), 1);
    assert_eq!(c.allocator.allocated("f"), res("cpus:4;mem:1024"));
    assert_eq!(c.allocator.total(), res("cpus:4;mem:1024"));
    assert_eq!(c.allocator.dominant_share("f"), 1.0);
    c.decline(&offers, None);
    let again = c.cycle();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].agent_id, "a2");
}

#[test]
fn offers_agent_added_with_used_resources() {
    let mut alloc = Allocator::new(AllocatorConfig {
        seed: Some(3),
        ..AllocatorConfig::default()
    });
    let used = vec![(
        "old".to_string(),
        "batch".to_string(),
        res("cpus:3;mem:512"),
    )];
    alloc.add_agent("a1", res("cpus:4;mem:1024"), &used);
    assert_eq!(alloc.free("a1"), Some(res("cpus:1;mem:512")));
    // "old" re-registers later, in its real role, and keeps its holding.
    alloc.add_framework("old", "batch", false);
    assert_eq!(alloc.allocated("old"), res("cpus:3;mem:512"));
    assert!(alloc.role_share("batch") > 0.7);
    assert_eq!(alloc.role_share("*"), 0.0);
    let offers = alloc.allocate(Duration::ZERO);
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, res("cpus:1;mem:512"));
}

#[test]
fn offers_removed_framework_keeps_holdings_until_recovered() {
    let mut c = Cluster::new();
    c.agents(2, "cpus:4;mem:1024")
        .framework("f", "r")
        .framework("g", "s");
    let offers = c.cycle();
    assert_eq!(offers.len(), 2);
    c.allocator.remove_framework("f");
    assert!(c.cycle().is_empty(), "f's agent is still held");
    let back = c.allocator.recover_all("f");
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].1, res("cpus:4;mem:1024"));
    assert_eq!(c.allocator.allocated("f"), Resources::new());
    let next = c.cycle();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].framework_id, "g");
}

#[test]
fn offers_recover_all_then_remove() {
    let mut c = Cluster::new();
    c.agents(3, "cpus:4;mem:1024").framework("f", "r");
    c.cycle();
    assert_eq!(c.allocator.recover_all("f").len(), 3);
    c.allocator.remove_framework("f");
    assert!(c.cycle().is_empty());
    c.framework("f", "r");
    assert_eq!(c.cycle().len(), 3);
}

#[test]
fn offers_reproducible_with_seed() {
    let run = || {
        let mut c = Cluster::new();
        c.agents(50, "cpus:1;mem:64")
            .framework("f", "r")
            .framework("g", "r");
        c.cycle()
            .into_iter()
            .map(|o| (o.agent_id, o.framework_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn offers_to_mesos_carries_role() {
    let mut c = Cluster::new();
    c.agent("a1", "cpus:0.1").framework("f", "web");
    c.allocator
        .recover("f", "web", "a1", &res("cpus:0.1"), None, c.now);
    let offer = c.cycle().remove(0);
    let wire = offer.resources.to_mesos(&offer.role);
    assert_eq!(wire.len(), 1);
    assert_eq!(
        wire[0]
            .allocation_info
            .as_ref()
            .and_then(|a| a.role.as_deref()),
        Some("web")
    );
}
