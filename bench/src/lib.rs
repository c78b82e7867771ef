//! Shared pieces of Meseta's benchmarks. The benchmarks themselves live in
//! `benches/` and run with `cargo bench -p meseta-bench --bench <name>`.
#![warn(missing_docs)]

use std::time::Duration;

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
