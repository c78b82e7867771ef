//! Quota: guarantees are met before fair share and kept satisfiable by
//! headroom; limits are never exceeded, however greedy a framework is.

use std::time::Duration;

use meseta_allocator::testkit::{res, Cluster};
use meseta_allocator::Capabilities;
use meseta_allocator::{Allocation, Quota};

const HOUR: Duration = Duration::from_secs(3600);

fn quota(guarantees: &[(&str, f64)], limits: &[(&str, f64)]) -> Quota {
    let own = |list: &[(&str, f64)]| list.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    Quota {
        guarantees: own(guarantees),
        limits: own(limits),
    }
}

fn cpus_in(c: &Cluster, framework: &str, role: &str) -> f64 {
    c.allocator.allocated_in(framework, role).scalar("cpus")
}

fn total_cpus(offers: &[Allocation], role: &str) -> f64 {
    offers
        .iter()
        .filter(|o| o.role == role)
        .map(|o| o.resources.scalar("cpus"))
        .sum()
}

#[test]
fn a_guarantee_is_met_before_fair_share() {
    let mut c = Cluster::new();
    c.agents(10, "cpus:1;mem:1024");
    // Without quota, weight 9 against 1 would give "q" one agent in ten.
    c.allocator.set_weight("big", 9.0);
    c.allocator.set_quota("q", &quota(&[("cpus", 6.0)], &[]));
    c.framework("big-fw", "big").framework("q-fw", "q");
    let offers = c.cycle();
    assert_eq!(total_cpus(&offers, "q"), 6.0, "{offers:?}");
    assert_eq!(total_cpus(&offers, "big"), 4.0);
}

#[test]
fn a_guarantee_declined_is_laid_away_not_given_to_others() {
    let mut c = Cluster::new();
    c.agents(10, "cpus:1;mem:1024");
    c.allocator.set_quota("q", &quota(&[("cpus", 4.0)], &[]));
    c.framework("q-fw", "q");
    let first = c.cycle();
    assert_eq!(
        total_cpus(&first, "q"),
        10.0,
        "beyond its guarantee when no one else wants it"
    );
    c.decline(&first, Some(HOUR));

    c.framework("greedy", "other");
    c.advance(Duration::from_secs(1));
    let offers = c.cycle();
    assert_eq!(total_cpus(&offers, "q"), 0.0, "q filtered every agent");
    assert_eq!(
        total_cpus(&offers, "other"),
        6.0,
        "4 cpus stay unallocated for q's guarantee: {offers:?}"
    );
    for o in &offers {
        assert_eq!(
            o.resources.scalar("mem"),
            1024.0,
            "mem is not guaranteed: all offered"
        );
    }
}

#[test]
fn a_limit_holds_under_a_greedy_framework() {
    let mut c = Cluster::new();
    c.agents(5, "cpus:2;mem:1024;ports:[31000-31009]");
    c.allocator
        .set_quota("capped", &quota(&[], &[("cpus", 3.0)]));
    c.framework("greedy", "capped")
        .framework("other-fw", "other");
    // The greedy framework keeps everything it is offered, cycle after cycle.
    for _ in 0..5 {
        let offers = c.cycle();
        let others: Vec<Allocation> = offers.into_iter().filter(|o| o.role == "other").collect();
        c.decline(&others, None);
        c.advance(Duration::from_secs(1));
        assert!(cpus_in(&c, "greedy", "capped") <= 3.0);
    }
    assert_eq!(
        cpus_in(&c, "greedy", "capped"),
        3.0,
        "up to its limit, cut across agents"
    );
    // What the cut left on an agent went to the other role in the same cycle.
    let offers = c.cycle();
    assert_eq!(total_cpus(&offers, "other"), 7.0, "{offers:?}");
    assert!(
        offers.iter().all(|o| o.role == "other"),
        "a role at its limit is not offered"
    );
}

#[test]
fn a_zero_limit_keeps_a_resource_out_of_offers() {
    let mut c = Cluster::new();
    c.agents(2, "cpus:2;mem:1024;gpus:1");
    c.allocator
        .set_quota("no-gpus", &quota(&[], &[("gpus", 0.0)]));
    c.framework("f", "no-gpus");
    c.allocator.set_capabilities("f", gpus(true));
    let offers = c.cycle();
    assert_eq!(offers.len(), 2);
    for o in &offers {
        assert_eq!(o.resources, res("cpus:2;mem:1024"));
    }
}

#[test]
fn removing_a_quota_restores_fair_share() {
    let mut c = Cluster::new();
    c.agents(4, "cpus:1;mem:1024");
    c.allocator
        .set_quota("capped", &quota(&[], &[("cpus", 1.0), ("mem", 1024.0)]));
    c.framework("f", "capped");
    assert_eq!(c.cycle().len(), 1, "one agent's worth");
    c.allocator.set_quota("capped", &Quota::default());
    assert_eq!(c.cycle().len(), 3, "the rest, now that nothing limits it");
}

#[test]
fn guarantees_of_several_roles_are_all_kept_satisfiable() {
    let mut c = Cluster::new();
    c.agents(12, "cpus:1;mem:512");
    c.allocator
        .set_quota("a", &quota(&[("cpus", 3.0)], &[("cpus", 3.0)]));
    c.allocator
        .set_quota("b", &quota(&[("cpus", 5.0)], &[("cpus", 5.0)]));
    c.framework("greedy", "c");
    let first = c.cycle();
    assert_eq!(total_cpus(&first, "c"), 4.0, "8 cpus held for a and b");
    c.framework("fa", "a").framework("fb", "b");
    let offers = c.cycle();
    assert_eq!(total_cpus(&offers, "a"), 3.0);
    assert_eq!(total_cpus(&offers, "b"), 5.0);
}

fn gpus(gpu_resources: bool) -> Capabilities {
    Capabilities {
        gpu_resources,
        ..Capabilities::default()
    }
}
