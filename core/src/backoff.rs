//! Capped, jittered exponential backoff for reconnecting.
//!
//! Attempt `n` (counting from 0 since the last [`Backoff::reset`]) waits a
//! random time in `[d/2, d]` where `d = min(initial * 2^n, max)`: never zero
//! (so a crashed master is not hammered), never more than `max`, and spread
//! out so that many frameworks losing the same master do not come back in
//! lockstep.

use std::time::Duration;

/// Backoff state: how many attempts since the last success.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `initial` and capped at `max` (a `max` below
    /// `initial` is raised to it).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The cap for the next attempt, before jitter.
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(31));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt, given `unit` drawn uniformly from
    /// `[0, 1)`; advances the attempt counter. Deterministic, for tests.
    pub fn next_delay_with(&mut self, unit: f64) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ceiling.mul_f64(0.5 + unit / 2.0)
    }

    /// The delay before the next attempt, with random jitter.
    pub fn next_delay(&mut self) -> Duration {
        self.next_delay_with(rand::random::<f64>())
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to the initial delay (after a successful subscription).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}
