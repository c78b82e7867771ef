//! Shared pieces of Meseta's benchmarks. The benchmarks themselves live in
//! `benches/` and run with `cargo bench -p meseta-bench --bench <name>`.
#![warn(missing_docs)]

use std::time::{Duration, Instant};

use meseta_allocator::Allocator;

/// How long a declining framework refuses what it declined.
pub const REFUSE: Duration = Duration::from_secs(3600);

/// What [`declining_cycles`] measured.
#[derive(Debug, Default)]
pub struct DecliningCycles {
    /// The time of each `allocate()`.
    pub cycles: Vec<Duration>,
    /// The time of each decline pass (one `recover` per offer).
    pub declines: Vec<Duration>,
    /// Offers made over all cycles.
    pub offers: usize,
}

/// Runs `cycles` allocation cycles one second apart, every offer declined
/// with a [`REFUSE`] filter (the shape of Mesos's `DeclineOffers`
/// benchmark), timing the cycles and the declines apart.
pub fn declining_cycles(allocator: &mut Allocator, cycles: usize) -> DecliningCycles {
    let mut out = DecliningCycles::default();
    let mut now = Duration::ZERO;
    for _ in 0..cycles {
        let t = Instant::now();
        let allocations = allocator.allocate(now);
        out.cycles.push(t.elapsed());
        out.offers += allocations.len();
        let t = Instant::now();
        for a in &allocations {
            allocator.recover(
                &a.framework_id,
                &a.role,
                &a.agent_id,
                &a.resources,
                Some(REFUSE),
                now,
            );
        }
        out.declines.push(t.elapsed());
        now += Duration::from_secs(1);
    }
    out
}

/// Mean, minimum and maximum of a set of timings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Arithmetic mean.
    pub mean: Duration,
    /// Fastest sample.
    pub min: Duration,
    /// Slowest sample.
    pub max: Duration,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        let min = *samples.iter().min()?;
        let max = *samples.iter().max()?;
        let total: Duration = samples.iter().sum();
        let mean = total / u32::try_from(samples.len()).ok()?;
        Some(Summary { mean, min, max })
    }
}

/// Milliseconds with three decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::{ms, Summary};
    use std::time::Duration;

    #[test]
    fn summary_of_samples() {
        let s = Summary::of(&[Duration::from_millis(1), Duration::from_millis(3)]);
        assert_eq!(
            s,
            Some(Summary {
                mean: Duration::from_millis(2),
                min: Duration::from_millis(1),
                max: Duration::from_millis(3),
            })
        );
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(ms(Duration::from_micros(1500)), "1.500");
    }
}
