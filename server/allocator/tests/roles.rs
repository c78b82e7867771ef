//! Frameworks subscribed to several roles (MULTI_ROLE): one client per
//! role, each with its own share, suppression and filters.

use std::time::Duration;

use meseta_allocator::testkit::{res, Cluster};

const HOUR: Duration = Duration::from_secs(3600);

fn roles_of(offers: &[meseta_allocator::Allocation]) -> Vec<String> {
    let mut roles: Vec<String> = offers.iter().map(|o| o.role.clone()).collect();
    roles.sort();
    roles
}

#[test]
fn a_framework_in_two_roles_is_offered_in_each() {
    let mut c = Cluster::new();
    c.agents(2, "cpus:4;mem:1024");
    c.allocator.add_framework_in_roles("m", &["a", "b"], &[]);
    let offers = c.cycle();
    assert!(offers.iter().all(|o| o.framework_id == "m"));
    assert_eq!(
        roles_of(&offers),
        ["a", "b"],
        "each role's share is its own"
    );
    assert!(c.allocator.role_share("a") > 0.0);
    assert!(c.allocator.role_share("b") > 0.0);
    assert_eq!(c.allocator.allocated("m"), res("cpus:8;mem:2048"));
    assert_eq!(c.allocator.allocated_in("m", "a"), res("cpus:4;mem:1024"));
}

#[test]
fn a_role_left_keeps_what_was_allocated_in_it_until_recovered() {
    let mut c = Cluster::new();
    c.agents(2, "cpus:4;mem:1024");
    c.allocator.add_framework_in_roles("m", &["a", "b"], &[]);
    let offers = c.cycle();
    let in_a = offers
        .iter()
        .find(|o| o.role == "a")
        .expect("an offer in a");
    let (agent, held) = (in_a.agent_id.clone(), in_a.resources.clone());

    c.allocator.add_framework_in_roles("m", &["b"], &[]);
    assert!(c.allocator.role_share("a") > 0.0, "still counted in a");
    assert_eq!(c.allocator.allocated_in("m", "a"), held);
    c.allocator.recover("m", "a", &agent, &held, None, c.now);
    assert_eq!(c.allocator.role_share("a"), 0.0);
    let again = c.cycle();
    assert_eq!(roles_of(&again), ["b"], "nothing is offered in a role left");
}

#[test]
fn suppressing_one_role_leaves_the_others_offered() {
    let mut c = Cluster::new();
    c.agents(2, "cpus:4;mem:1024");
    c.allocator.add_framework_in_roles("m", &["a", "b"], &["a"]);
    assert_eq!(roles_of(&c.cycle()), ["b", "b"]);

    let mut c = Cluster::new();
    c.agents(2, "cpus:4;mem:1024");
    c.allocator.add_framework_in_roles("m", &["a", "b"], &[]);
    c.allocator.suppress_role("m", "b");
    assert_eq!(roles_of(&c.cycle()), ["a", "a"]);
    c.allocator.revive_role("m", "b");
    c.allocator.recover_all("m");
    assert_eq!(roles_of(&c.cycle()), ["a", "b"]);
}

#[test]
fn a_decline_filters_the_agent_in_its_role_only() {
    let mut c = Cluster::new();
    c.agent("only", "cpus:4;mem:1024");
    c.allocator.add_framework_in_roles("m", &["a", "b"], &[]);
    let first = c.cycle();
    assert_eq!(first.len(), 1);
    let declined_role = first[0].role.clone();
    c.decline(&first, Some(HOUR));
    let next = c.cycle();
    assert_eq!(next.len(), 1, "the agent comes back in the other role");
    assert_ne!(next[0].role, declined_role);
    c.decline(&next, Some(HOUR));
    assert!(c.cycle().is_empty(), "both roles declined it");
}

#[test]
fn removing_a_framework_keeps_every_role_holding_until_recovered() {
    let mut c = Cluster::new();
    c.agents(2, "cpus:4;mem:1024");
    c.allocator.add_framework_in_roles("m", &["a", "b"], &[]);
    c.cycle();
    c.allocator.remove_framework("m");
    assert!(c.cycle().is_empty(), "both agents still held");
    let back = c.allocator.recover_all("m");
    assert_eq!(back.len(), 2);
    assert_eq!(
        c.allocator.allocated("m"),
        meseta_allocator::Resources::new()
    );
    assert_eq!(
        c.allocator.role_share("a") + c.allocator.role_share("b"),
        0.0
    );
}
