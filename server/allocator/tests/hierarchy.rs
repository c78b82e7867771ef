//! Hierarchical roles: the cluster is shared among the top roles by their
//! weights, then each role's part among the roles below it (and its own
//! frameworks), and quota holds for a whole subtree.

use std::collections::BTreeMap;

use meseta_allocator::testkit::Cluster;
use meseta_allocator::{Allocation, Quota};

/// Cpus offered, by role.
fn split(offers: &[Allocation]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for o in offers {
        *out.entry(o.role.clone()).or_default() += o.resources.scalar("cpus");
    }
    out
}

fn cpus(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(r, c)| (r.to_string(), *c)).collect()
}

#[test]
fn a_parent_shares_with_its_siblings_before_its_children_share_its_part() {
    let mut c = Cluster::new();
    c.agents(8, "cpus:1;mem:1024");
    c.framework("ml", "eng/ml")
        .framework("web", "eng/web")
        .framework("ops", "ops");
    // Flat, three roles would get about a third each; as a tree, ops gets
    // half and eng's half is split between ml and web.
    assert_eq!(
        split(&c.cycle()),
        cpus(&[("eng/ml", 2.0), ("eng/web", 2.0), ("ops", 4.0)])
    );
    assert_eq!(c.allocator.role_share("eng"), c.allocator.role_share("ops"));
}

#[test]
fn weights_apply_among_siblings_at_every_level() {
    let mut c = Cluster::new();
    c.agents(8, "cpus:1;mem:1024");
    c.allocator.set_weight("eng/ml", 3.0);
    c.framework("ml", "eng/ml")
        .framework("web", "eng/web")
        .framework("ops", "ops");
    assert_eq!(
        split(&c.cycle()),
        cpus(&[("eng/ml", 3.0), ("eng/web", 1.0), ("ops", 4.0)])
    );
}

#[test]
fn a_roles_own_frameworks_share_with_its_children() {
    let mut c = Cluster::new();
    c.agents(8, "cpus:1;mem:1024");
    c.framework("lead", "eng")
        .framework("ml", "eng/ml")
        .framework("ops", "ops");
    assert_eq!(
        split(&c.cycle()),
        cpus(&[("eng", 2.0), ("eng/ml", 2.0), ("ops", 4.0)])
    );
}

#[test]
fn a_parents_limit_holds_for_its_whole_subtree_and_its_guarantee_serves_it() {
    let mut c = Cluster::new();
    c.agents(8, "cpus:1;mem:1024");
    c.allocator.set_quota(
        "eng",
        &Quota {
            guarantees: vec![],
            limits: vec![("cpus".into(), 3.0)],
        },
    );
    c.framework("ml", "eng/ml").framework("web", "eng/web");
    let offers = c.cycle();
    let eng: f64 = split(&offers).values().sum();
    assert_eq!(eng, 3.0, "limited below eng: {offers:?}");

    let mut c = Cluster::new();
    c.agents(8, "cpus:1;mem:1024");
    c.allocator.set_weight("ops", 10.0);
    c.allocator.set_quota(
        "eng",
        &Quota {
            guarantees: vec![("cpus".into(), 5.0)],
            limits: vec![],
        },
    );
    c.framework("ml", "eng/ml").framework("ops", "ops");
    assert_eq!(
        split(&c.cycle()),
        cpus(&[("eng/ml", 5.0), ("ops", 3.0)]),
        "eng's guarantee is met through eng/ml"
    );
}

#[test]
fn roles_emptied_of_frameworks_and_allocations_are_forgotten() {
    let mut c = Cluster::new();
    c.agents(2, "cpus:1;mem:1024");
    c.framework("deep", "a/b/c");
    let offers = c.cycle();
    assert_eq!(offers.len(), 2);
    assert!(c.allocator.role_share("a") > 0.0);
    c.decline(&offers, None);
    c.allocator.remove_framework("deep");
    assert_eq!(c.allocator.role_share("a"), 0.0);
    c.framework("other", "a");
    assert_eq!(
        c.cycle().len(),
        2,
        "the tree under a is gone, a works alone"
    );
}
