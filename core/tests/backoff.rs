//! Reconnection backoff.

use std::time::Duration;

use meseta_core::backoff::Backoff;

const MS: Duration = Duration::from_millis(1);

#[test]
fn backoff_doubles_up_to_the_cap() {
    let mut backoff = Backoff::new(100 * MS, 1000 * MS);
    let ceilings: Vec<Duration> = (0..6)
        .map(|_| {
            let ceiling = backoff.ceiling();
            backoff.next_delay_with(0.0);
            ceiling
        })
        .collect();
    assert_eq!(
        ceilings,
        [100, 200, 400, 800, 1000, 1000].map(|ms| ms * MS).to_vec()
    );
    assert_eq!(backoff.attempts(), 6);
}

#[test]
fn backoff_jitter_stays_between_half_and_full_ceiling() {
    for unit in [0.0, 0.25, 0.5, 0.999, 1.0, -3.0, 7.0, f64::NAN] {
        let mut backoff = Backoff::new(400 * MS, 400 * MS);
        let delay = backoff.next_delay_with(unit);
        assert!(delay >= 200 * MS && delay <= 400 * MS, "{unit}: {delay:?}");
    }
    let mut backoff = Backoff::new(400 * MS, 400 * MS);
    assert_eq!(backoff.next_delay_with(0.0), 200 * MS);
    assert_eq!(backoff.next_delay_with(0.5), 300 * MS);
    for _ in 0..100 {
        let delay = backoff.next_delay();
        assert!(delay >= 200 * MS && delay <= 400 * MS, "{delay:?}");
    }
}

#[test]
fn backoff_reset_starts_over() {
    let mut backoff = Backoff::new(MS, Duration::from_secs(30));
    for _ in 0..50 {
        backoff.next_delay();
    }
    assert_eq!(backoff.ceiling(), Duration::from_secs(30), "no overflow");
    backoff.reset();
    assert_eq!(backoff.ceiling(), MS);
    assert_eq!(backoff.attempts(), 0);
}

#[test]
fn backoff_cap_below_initial_is_raised() {
    let mut backoff = Backoff::new(500 * MS, 100 * MS);
    assert_eq!(backoff.ceiling(), 500 * MS);
    backoff.next_delay_with(0.0);
    assert_eq!(backoff.ceiling(), 500 * MS);
}
