//! Reserved resources are offered only to frameworks in their role or a
//! role below it; the unreserved rest of an agent goes to anyone.

use std::time::Duration;

use meseta_allocator::testkit::Cluster;
use meseta_allocator::Allocation;

fn offered_to<'a>(offers: &'a [Allocation], framework: &str) -> Vec<&'a Allocation> {
    offers
        .iter()
        .filter(|o| o.framework_id == framework)
        .collect()
}

fn reserved_cpus(offer: &Allocation, role: &str) -> f64 {
    offer
        .resources
        .reserved_parts()
        .iter()
        .filter(|(r, _)| r.role == role)
        .map(|(_, part)| part.scalar("cpus"))
        .sum()
}

#[test]
fn a_reservation_is_never_offered_to_another_role() {
    let mut c = Cluster::new();
    c.agent("a", "cpus:2;mem:1024;cpus(ml):4;mem(ml):2048");
    c.framework("web", "web");
    // Only web is there: it gets the unreserved part and nothing of ml's,
    // however often it declines.
    for _ in 0..5 {
        let offers = c.cycle();
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].resources.scalar("cpus"), 2.0);
        assert!(offers[0].resources.reserved_parts().is_empty());
        c.decline(&offers, None);
        c.advance(Duration::from_secs(1));
    }
    // Once a framework of ml arrives, the reservation is its.
    c.framework("trainer", "ml");
    let offers = c.cycle();
    let ml = offered_to(&offers, "trainer");
    assert_eq!(ml.len(), 1);
    assert_eq!(reserved_cpus(ml[0], "ml"), 4.0);
    for o in offered_to(&offers, "web") {
        assert!(o.resources.reserved_parts().is_empty());
    }
}

#[test]
fn a_reservation_goes_to_the_roles_below_its_role() {
    let mut c = Cluster::new();
    c.agent("a", "cpus(eng):4;mem(eng):1024");
    c.framework("ml", "eng/ml");
    let offers = c.cycle();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].role, "eng/ml");
    assert_eq!(reserved_cpus(&offers[0], "eng"), 4.0);

    // A sibling's subrole is not below it.
    let mut c = Cluster::new();
    c.agent("a", "cpus(eng/web):4;mem(eng/web):1024");
    c.framework("ml", "eng/ml").framework("top", "eng");
    assert!(c.cycle().is_empty());
}

#[test]
fn launching_on_a_reservation_takes_it_from_the_free_pool() {
    let mut c = Cluster::new();
    c.agent("a", "cpus:1;mem:512;cpus(ml):3;mem(ml):512");
    c.framework("trainer", "ml");
    let offers = c.cycle();
    assert_eq!(offers[0].resources.scalar("cpus"), 4.0);
    // The framework keeps 2 reserved cpus and 256 reserved mem (a task) and
    // declines the rest.
    let task = meseta_allocator::testkit::res("cpus(ml):2;mem(ml):256");
    let mut rest = offers[0].resources.clone();
    assert!(rest.contains(&task));
    rest.subtract(&task);
    c.allocator
        .recover("trainer", "ml", "a", &rest, None, Duration::ZERO);
    let free = c.allocator.free("a").expect("known agent");
    assert_eq!(free.scalar("cpus"), 2.0);
    assert_eq!(free.unreserved().scalar("cpus"), 1.0);
    // The task ends: its reserved resources come back reserved.
    c.allocator
        .recover("trainer", "ml", "a", &task, None, Duration::ZERO);
    let free = c.allocator.free("a").expect("known agent");
    assert_eq!(free.unreserved().scalar("cpus"), 1.0);
    assert_eq!(free.scalar("cpus"), 4.0);
}

#[test]
fn a_reservation_made_in_an_offer_stays_with_its_role() {
    let mut c = Cluster::new();
    c.agent("a", "cpus:4;mem:1024");
    c.framework("trainer", "ml");
    let offers = c.cycle();
    assert_eq!(offers.len(), 1);
    let from = meseta_allocator::testkit::res("cpus:3;mem:512");
    let to = meseta_allocator::testkit::res("cpus(ml):3;mem(ml):512");
    assert!(!c
        .allocator
        .convert_allocated("trainer", "ml", "a", &to, &from));
    assert!(c
        .allocator
        .convert_allocated("trainer", "ml", "a", &from, &to));
    let mut offered = offers[0].resources.clone();
    offered.subtract(&from);
    offered.add(&to);
    c.decline(
        &[Allocation {
            resources: offered,
            ..offers[0].clone()
        }],
        None,
    );
    c.framework("web", "web");
    c.advance(Duration::from_secs(1));
    let offers = c.cycle();
    for o in offered_to(&offers, "web") {
        assert!(o.resources.reserved_parts().is_empty());
        assert!(o.resources.scalar("cpus") <= 1.0);
    }
    // Undone by the operator, it is anyone's again.
    c.decline(&offers, None);
    assert!(c.allocator.convert_free("a", &to, &from));
    assert!(!c.allocator.convert_free("a", &to, &from));
    let free = c.allocator.free("a").expect("known agent");
    assert!(free.reserved_parts().is_empty());
    assert_eq!(free.scalar("cpus"), 4.0);
}
