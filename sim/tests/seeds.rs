//! The simulation in `make test`: thousands of seeds, each a run of a
//! cluster under crashes, partitions and a lossy network, must keep every
//! invariant; a seed replays exactly; and the checks do catch planted bugs.

use std::time::Duration;

use meseta_sim::{run, run_traced, Config, Sabotage};

/// Seeds per `cargo test` run (more with `MESETA_SIM_SEEDS`; the first
/// with `MESETA_SIM_FROM`).
const DEFAULT_SEEDS: u64 = 2000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_seed_keeps_every_invariant() {
    let from = env("MESETA_SIM_FROM", 0);
    let seeds = env("MESETA_SIM_SEEDS", DEFAULT_SEEDS);
    let config = Config::default();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4) as u64;
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let config = &config;
                scope.spawn(move || {
                    let mut failed = Vec::new();
                    let mut seed = from + t;
                    while seed < from + seeds {
                        let outcome = run(seed, config);
                        if !outcome.violations.is_empty() {
                            failed.push(format!(
                                "seed {seed}: {}\n  replay: cargo run -p meseta-sim -- --seed {seed} --trace",
                                outcome.violations.join("\n  ")
                            ));
                        }
                        seed += threads;
                    }
                    failed
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec!["a worker panicked".into()])
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {seeds} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_seed_replays_exactly_and_seeds_differ() {
    let config = Config::default();
    let first = run_traced(42, &config);
    let again = run_traced(42, &config);
    assert_eq!(first.fingerprint, again.fingerprint);
    assert_eq!(first.trace, again.trace);
    assert!(!first.trace.is_empty());
    let other = run(43, &config);
    assert_ne!(first.fingerprint, other.fingerprint);
}

/// The runs are not trivially calm: every kind of fault happens, messages
/// are lost, and the frameworks launch and finish all their tasks.
#[test]
fn runs_are_hostile_and_still_finish_their_work() {
    let config = Config::default();
    let mut notes = Vec::new();
    let mut lost = 0;
    for seed in 0..20 {
        let outcome = run(seed, &config);
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}: {:?}",
            outcome.violations
        );
        assert_eq!(
            outcome.tasks,
            config.frameworks * config.tasks_per_framework
        );
        lost += outcome.lost;
        notes.extend(outcome.notes);
    }
    for fault in [
        "master crashes",
        "agent 0 crashes",
        "scheduler 1 crashes",
        "partitioned",
        "stream breaks",
    ] {
        assert!(
            notes.iter().any(|n| n.contains(fault)),
            "no {fault:?} in 20 runs"
        );
    }
    assert!(lost > 0);
}

#[test]
fn an_update_never_acknowledged_is_caught() {
    let config = Config {
        sabotage: Some(Sabotage::SkipAcknowledgements),
        settle_time: Duration::from_secs(120),
        ..Config::default()
    };
    let outcome = run(1, &config);
    assert!(
        outcome
            .violations
            .iter()
            .any(|v| v.contains("TASK_FINISHED") && v.contains("never acknowledged")),
        "{:?}",
        outcome.violations
    );
}

#[test]
fn a_task_run_twice_is_caught() {
    let config = Config {
        sabotage: Some(Sabotage::ReuseTaskIds),
        ..Config::default()
    };
    let caught = (0..50).any(|seed| {
        run(seed, &config)
            .violations
            .iter()
            .any(|v| v.contains("started twice"))
    });
    assert!(caught, "no seed of 50 ran a reused TaskID twice");
}
