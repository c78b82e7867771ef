//! Reservations are quota consumption of their role whether used or not
//! (Mesos 1.9's rule): they go toward its guarantee and against its limits,
//! a limit never takes a reservation away, and free reserved resources are
//! not headroom for anyone else's guarantee. Each case runs over several
//! shuffle seeds: the agents' visit order must not matter.

use meseta_allocator::testkit::{res, Cluster};
use meseta_allocator::{Allocation, AllocatorConfig, Quota};

fn quota(guarantees: &[(&str, f64)], limits: &[(&str, f64)]) -> Quota {
    let own = |list: &[(&str, f64)]| list.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    Quota {
        guarantees: own(guarantees),
        limits: own(limits),
    }
}

fn seeded(seed: u64) -> Cluster {
    Cluster::with_config(AllocatorConfig {
        seed: Some(seed),
        ..AllocatorConfig::default()
    })
}

/// (reserved, unreserved) cpus offered to `role`.
fn cpus_to(offers: &[Allocation], role: &str) -> (f64, f64) {
    let mine = offers.iter().filter(|o| o.role == role);
    mine.fold((0.0, 0.0), |(reserved, unreserved), o| {
        let r: f64 = o
            .resources
            .reserved_parts()
            .iter()
            .map(|(_, part)| part.scalar("cpus"))
            .sum();
        (reserved + r, unreserved + o.resources.scalar("cpus") - r)
    })
}

#[test]
fn a_reservation_counts_toward_its_roles_guarantee() {
    for seed in 1..=8 {
        let mut c = seeded(seed);
        // ml runs a task on c's cpu and has 2 cpus reserved on a: its
        // guarantee of 3 is met, so it is not served before fair share, and
        // b's cpus go to web, whose share is lower.
        let task = res("cpus:1;mem:512");
        let running = [("trainer".to_string(), "ml".to_string(), task.clone())];
        c.allocator.add_agent("c", task, &running);
        c.agent("a", "cpus(ml):2;mem(ml):1024")
            .agent("b", "cpus:2;mem:1024");
        c.allocator.set_quota("ml", &quota(&[("cpus", 3.0)], &[]));
        c.framework("trainer", "ml").framework("greedy", "web");
        let offers = c.cycle();
        assert_eq!(
            cpus_to(&offers, "ml"),
            (2.0, 0.0),
            "seed {seed}: {offers:?}"
        );
        assert_eq!(
            cpus_to(&offers, "web"),
            (0.0, 2.0),
            "seed {seed}: {offers:?}"
        );
    }
}

#[test]
fn a_limit_counts_reservations_and_never_takes_them_away() {
    for seed in 1..=8 {
        let mut c = seeded(seed);
        c.agent("a", "cpus(ml):2;mem(ml):512")
            .agent("b", "cpus:4;mem:4096");
        c.allocator.set_quota("ml", &quota(&[], &[("cpus", 3.0)]));
        c.framework("trainer", "ml");
        // 2 reserved (consumed already) leave room for 1 unreserved cpu,
        // whichever agent comes first.
        let offers = c.cycle();
        assert_eq!(
            cpus_to(&offers, "ml"),
            (2.0, 1.0),
            "seed {seed}: {offers:?}"
        );
    }
    for seed in 1..=8 {
        let mut c = seeded(seed);
        c.agent("a", "cpus(ml):2;mem(ml):512")
            .agent("b", "cpus:4;mem:4096");
        // A limit below the reservation: the reservation is still offered
        // whole, nothing unreserved is.
        c.allocator.set_quota("ml", &quota(&[], &[("cpus", 1.0)]));
        c.framework("trainer", "ml");
        let offers = c.cycle();
        assert_eq!(
            cpus_to(&offers, "ml"),
            (2.0, 0.0),
            "seed {seed}: {offers:?}"
        );
    }
}

#[test]
fn free_reserved_resources_are_not_headroom_for_another_roles_guarantee() {
    for seed in 1..=8 {
        let mut c = seeded(seed);
        c.agent("x", "cpus(batch):4;mem(batch):1024")
            .agent("y", "cpus:4;mem:1024");
        // "q" lacks 4 cpus and only y's 4 unreserved cpus can ever meet
        // that: batch gets its reservation and none of y's cpus.
        c.allocator
            .set_quota("q", &quota(&[("cpus", 4.0), ("mem", 1024.0)], &[]));
        c.framework("batch-fw", "batch");
        let offers = c.cycle();
        assert_eq!(
            cpus_to(&offers, "batch"),
            (4.0, 0.0),
            "seed {seed}: {offers:?}"
        );
        // Once q's framework comes, y is its.
        c.framework("q-fw", "q");
        let offers = c.cycle();
        assert_eq!(cpus_to(&offers, "q"), (0.0, 4.0), "seed {seed}: {offers:?}");
    }
}

#[test]
fn a_role_with_only_reservations_keeps_them_counted_until_they_are_gone() {
    let mut c = Cluster::new();
    c.agent("a", "cpus(ml):2;mem(ml):512")
        .agent("b", "cpus:2;mem:512");
    c.allocator
        .set_quota("ml", &quota(&[("cpus", 2.0), ("mem", 512.0)], &[]));
    c.framework("greedy", "web");
    assert_eq!(cpus_to(&c.cycle(), "web"), (0.0, 2.0));
    // Without the reserved agent, ml lacks its 2 cpus again: b's are held
    // back for it once web gives them back.
    c.allocator.remove_agent("a");
    let held = c.allocator.recover_all("greedy");
    assert!(!held.is_empty());
    assert_eq!(cpus_to(&c.cycle(), "web"), (0.0, 0.0));
}
