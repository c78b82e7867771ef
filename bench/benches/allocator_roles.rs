//! Allocation cycles with many roles: quota, and weighted roles.
//!
//! * **Quota** (the shape of Mesos's `LargeAndSmallQuota` allocator
//!   benchmark): 3,000 agents of `cpus:2;mem:2048;disk:2048`, 2,500 roles
//!   guaranteed `cpus:1;mem:1024;disk:1024` (half an agent) and 500 roles
//!   guaranteed `cpus:4;mem:4096;disk:4096` (two agents), one framework per
//!   role that keeps what it is offered. The first cycle meets every
//!   guarantee (cutting agents in two) and offers the rest; the second
//!   finds nothing left. Mesos takes about 15 s for the first.
//! * **Weighted roles** (Mesos's `DeclineOffers` shape, bigger): 50,000
//!   agents of `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`, 5,000
//!   frameworks in 50 roles of weights 1 to 5, every offer declined with a
//!   one-hour filter; then the same with the 50 roles under 10 parent
//!   roles (hierarchical shares).
//!
//! `MESETA_BENCH_CYCLES` sets the cycles of the second (default 5).

use std::time::{Duration, Instant};

use meseta_allocator::testkit::res;
use meseta_allocator::{Allocator, AllocatorConfig, Quota};
use meseta_bench::{declining_cycles, ms, Summary};

fn allocator() -> Allocator {
    Allocator::new(AllocatorConfig {
        seed: Some(42),
        ..AllocatorConfig::default()
    })
}

fn guarantee(cpus: f64, mem: f64, disk: f64) -> Quota {
    Quota {
        guarantees: vec![
            ("cpus".into(), cpus),
            ("mem".into(), mem),
            ("disk".into(), disk),
        ],
        limits: Vec::new(),
    }
}

fn large_and_small_quota() {
    let (small, large) = (2_500, 500);
    let agents = small / 5 + large * 5;
    let mut allocator = allocator();
    let total = res("cpus:2;mem:2048;disk:2048");
    for a in 0..agents {
        allocator.add_agent(&format!("agent-{a:05}"), total.clone(), &[]);
    }
    let roles = (0..small)
        .map(|i| (format!("small-{i}"), guarantee(1.0, 1024.0, 1024.0)))
        .chain((0..large).map(|i| (format!("large-{i}"), guarantee(4.0, 4096.0, 4096.0))));
    for (role, quota) in roles {
        allocator.add_framework(&format!("framework-{role}"), &role, false);
        allocator.set_quota(&role, &quota);
    }
    println!(
        "quota: {agents} agents, {} roles with quota, {} frameworks",
        small + large,
        small + large
    );
    let t = Instant::now();
    let first = allocator.allocate(Duration::ZERO);
    let first_time = t.elapsed();
    let met = (0..small)
        .map(|i| format!("small-{i}"))
        .chain((0..large).map(|i| format!("large-{i}")))
        .filter(|role| {
            let held = allocator.allocated_in(&format!("framework-{role}"), role);
            let wanted = if role.starts_with("small") { 1.0 } else { 4.0 };
            held.scalar("cpus") >= wanted
        })
        .count();
    let t = Instant::now();
    let second = allocator.allocate(Duration::from_secs(1));
    let second_time = t.elapsed();
    println!(
        "  first cycle: {} allocations in {} ms ({met} of {} guarantees met; Mesos ~15,000 ms; goal <= 100 ms)",
        first.len(),
        ms(first_time),
        small + large
    );
    println!(
        "  second cycle: {} allocations in {} ms",
        second.len(),
        ms(second_time)
    );
}

/// `nested`: the 50 roles sit under 10 parent roles (`team-3/role-13`).
fn weighted_roles(cycles: usize, nested: bool) {
    let (agents, frameworks, roles) = (50_000, 5_000, 50);
    let name = |r: usize| {
        if nested {
            format!("team-{}/role-{r:02}", r % 10)
        } else {
            format!("role-{r:02}")
        }
    };
    let t = Instant::now();
    let mut allocator = allocator();
    let total = res("cpus:24;mem:4096;disk:4096;ports:[31000-32000]");
    for a in 0..agents {
        allocator.add_agent(&format!("agent-{a:05}"), total.clone(), &[]);
    }
    for r in 0..roles {
        allocator.set_weight(&name(r), (r % 5 + 1) as f64);
    }
    for f in 0..frameworks {
        allocator.add_framework(&format!("framework-{f:04}"), &name(f % roles), false);
    }
    println!(
        "weighted roles{}: {agents} agents, {frameworks} frameworks in {roles} roles (weights 1-5), every offer declined for 1 h; setup {} ms",
        if nested { ", nested under 10 parents" } else { "" },
        ms(t.elapsed())
    );
    let measured = declining_cycles(&mut allocator, cycles);
    if let Some(cycle) = Summary::of(&measured.cycles) {
        println!(
            "  {} offers per cycle; cycle mean {} ms, min {} ms, max {} ms (goal <= 500 ms)",
            measured.offers / cycles.max(1),
            ms(cycle.mean),
            ms(cycle.min),
            ms(cycle.max)
        );
    }
}

fn main() {
    let cycles = std::env::var("MESETA_BENCH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(5);
    large_and_small_quota();
    weighted_roles(cycles, false);
    weighted_roles(cycles, true);
}
