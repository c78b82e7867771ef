//! Fair sharing: DRF between frameworks and weighted DRF between roles.

use meseta_allocator::testkit::{res, Cluster};

#[test]
fn drf_two_frameworks_split_identical_agents_evenly() {
    let mut c = Cluster::new();
    c.agents(10, "cpus:4;mem:1024")
        .framework("a", "r")
        .framework("b", "r");
    let offers = c.cycle();
    assert_eq!(offers.len(), 10);
    let counts = Cluster::per_framework(&offers);
    assert_eq!(counts.get("a"), Some(&5));
    assert_eq!(counts.get("b"), Some(&5));
    let (sa, sb) = (
        c.allocator.dominant_share("a"),
        c.allocator.dominant_share("b"),
    );
    assert!(
        (sa - 0.5).abs() < 1e-9 && (sb - 0.5).abs() < 1e-9,
        "{sa} {sb}"
    );
}

#[test]
fn drf_newcomer_gets_released_resources_first() {
    let mut c = Cluster::new();
    c.agents(4, "cpus:4;mem:1024").framework("old", "r");
    let offers = c.cycle();
    assert_eq!(offers.len(), 4);
    c.framework("new", "r");
    // "old" gives back two agents; "new" (share 0) must get both.
    c.decline(&offers[..2], None);
    let again = c.cycle();
    assert_eq!(Cluster::per_framework(&again).get("new"), Some(&2));
    assert!((c.allocator.dominant_share("old") - 0.5).abs() < 1e-9);
    assert!((c.allocator.dominant_share("new") - 0.5).abs() < 1e-9);
}

#[test]
fn drf_dominant_resource_decides() {
    // Cluster: 30 cpus, 300 mem. x holds 9 cpus (dominant share 0.3, sum
    // of shares 0.3); y holds 4.5 cpus + 60 mem (shares 0.15 and 0.2: dominant
    // 0.2, sum 0.35). DRF compares 0.3 with 0.2, so y gets the free agent.
    let mut c = Cluster::new();
    c.framework("x", "r").framework("y", "r");
    c.allocator.add_agent(
        "a",
        res("cpus:10;mem:100"),
        &[("x".into(), "r".into(), res("cpus:9"))],
    );
    c.allocator.add_agent(
        "b",
        res("cpus:10;mem:100"),
        &[("y".into(), "r".into(), res("cpus:4.5;mem:60"))],
    );
    c.agent("free", "cpus:10;mem:100");
    c.allocator.deactivate_agent("a");
    c.allocator.deactivate_agent("b");
    assert!((c.allocator.dominant_share("x") - 0.3).abs() < 1e-9);
    assert!((c.allocator.dominant_share("y") - 0.2).abs() < 1e-9);
    let offers = c.cycle();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id, "y");
}

#[test]
fn drf_declining_frameworks_each_see_every_agent_once() {
    // The benchmark's workload in miniature: everyone declines everything
    // with a long filter, so each cycle offers each agent to a framework
    // that has not seen it yet, until all pairs are filtered.
    let (agents, frameworks) = (20, 4);
    let mut c = Cluster::new();
    c.agents(agents, "cpus:24;mem:4096;disk:4096;ports:[31000-32000]");
    for f in 0..frameworks {
        c.framework(&format!("f{f}"), "r");
    }
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..frameworks {
        let offers = c.cycle();
        assert_eq!(offers.len(), agents);
        for o in &offers {
            assert!(seen.insert((o.framework_id.clone(), o.agent_id.clone())));
        }
        c.decline(&offers, Some(std::time::Duration::from_secs(3600)));
    }
    assert_eq!(seen.len(), agents * frameworks);
    assert!(c.cycle().is_empty());
    assert_eq!(c.allocator.filter_count(), agents * frameworks);
}

#[test]
fn drf_role_weights_scale_shares() {
    let mut c = Cluster::new();
    c.agents(30, "cpus:2;mem:512")
        .framework("heavy", "gold")
        .framework("light", "bronze");
    c.allocator.set_weight("gold", 2.0);
    let counts = Cluster::per_framework(&c.cycle());
    let (h, l) = (counts["heavy"], counts["light"]);
    assert_eq!(h + l, 30);
    assert!((19..=21).contains(&h), "gold got {h}, bronze {l}");
    assert_eq!(c.allocator.weight("gold"), 2.0);
    assert!((c.allocator.role_share("gold") - c.allocator.role_share("bronze")).abs() < 0.05);
}

#[test]
fn drf_roles_are_compared_before_frameworks() {
    // Role "many" has three frameworks, role "one" has one: each role gets
    // half of the cluster, however many frameworks it has.
    let mut c = Cluster::new();
    c.agents(12, "cpus:1;mem:128")
        .framework("m1", "many")
        .framework("m2", "many")
        .framework("m3", "many")
        .framework("o1", "one");
    let counts = Cluster::per_framework(&c.cycle());
    assert_eq!(counts["o1"], 6);
    assert_eq!(counts["m1"] + counts["m2"] + counts["m3"], 6);
    assert_eq!(counts["m1"], 2);
}

#[test]
fn drf_invalid_weight_is_ignored() {
    let mut c = Cluster::new();
    c.allocator.set_weight("r", 0.0);
    c.allocator.set_weight("r", f64::NAN);
    assert_eq!(c.allocator.weight("r"), 1.0);
}
