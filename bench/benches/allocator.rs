//! Allocation-cycle benchmark with simulated agents and declining frameworks.
//!
//! Workload (the same shape as Mesos's `DeclineOffers` allocator benchmark):
//! every agent has `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`, every
//! framework sits in one role, and every framework declines every offer it
//! gets with a one-hour filter. So each cycle offers each agent to the
//! lowest-share framework that has not yet refused that agent, which makes
//! the allocator walk past an ever longer list of filters.
//!
//! Only `allocate()` is timed per cycle; the decline pass (one `recover`
//! per offer) is timed separately. Set `MESETA_BENCH_CYCLES` to change the
//! number of cycles (default 5).

use std::time::{Duration, Instant};

use meseta_allocator::testkit::res;
use meseta_allocator::{Allocator, AllocatorConfig};
use meseta_bench::{declining_cycles, ms, Summary};

const SHAPES: [(usize, usize); 4] = [(1_000, 100), (1_000, 1_000), (10_000, 100), (10_000, 1_000)];
/// Mesos's figure for one cycle at 10,000 agents × 1,000 frameworks.
const MESOS_10K_1K: Duration = Duration::from_millis(1100);

struct Row {
    agents: usize,
    frameworks: usize,
    setup: Duration,
    offers: f64,
    cycle: Summary,
    decline: Summary,
}

fn run(agents: usize, frameworks: usize, cycles: usize) -> Option<Row> {
    let started = Instant::now();
    let mut allocator = Allocator::new(AllocatorConfig {
        seed: Some(42),
        ..AllocatorConfig::default()
    });
    let total = res("cpus:24;mem:4096;disk:4096;ports:[31000-32000]");
    for a in 0..agents {
        allocator.add_agent(&format!("agent-{a:05}"), total.clone(), &[]);
    }
    for f in 0..frameworks {
        allocator.add_framework(&format!("framework-{f:04}"), "bench", false);
    }
    let setup = started.elapsed();

    let measured = declining_cycles(&mut allocator, cycles);
    Some(Row {
        agents,
        frameworks,
        setup,
        offers: measured.offers as f64 / cycles as f64,
        cycle: Summary::of(&measured.cycles)?,
        decline: Summary::of(&measured.declines)?,
    })
}

fn main() {
    let cycles = std::env::var("MESETA_BENCH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(5);
    println!(
        "allocator: one allocate() cycle, every framework declines every offer with a 1 h filter"
    );
    println!("(workload shaped like Mesos's DeclineOffers benchmark; {cycles} cycles per row; times in ms)");
    println!();
    println!(
        "{:>7} {:>10} {:>9} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "agents",
        "frameworks",
        "setup",
        "offers/cyc",
        "cycle mean",
        "cycle min",
        "cycle max",
        "decline mean"
    );
    let mut biggest = None;
    for (agents, frameworks) in SHAPES {
        let Some(row) = run(agents, frameworks, cycles) else {
            continue;
        };
        println!(
            "{:>7} {:>10} {:>9} {:>10.0} {:>10} {:>10} {:>10} {:>12}",
            row.agents,
            row.frameworks,
            ms(row.setup),
            row.offers,
            ms(row.cycle.mean),
            ms(row.cycle.min),
            ms(row.cycle.max),
            ms(row.decline.mean),
        );
        if (agents, frameworks) == (10_000, 1_000) {
            biggest = Some(row.cycle.mean);
        }
    }
    if let Some(mean) = biggest {
        println!();
        println!(
            "10,000 x 1,000: {} ms per cycle vs ~{} ms for Mesos ({:.0}x faster; target < 100 ms)",
            ms(mean),
            MESOS_10K_1K.as_millis(),
            MESOS_10K_1K.as_secs_f64() / mean.as_secs_f64().max(1e-9),
        );
    }
}
