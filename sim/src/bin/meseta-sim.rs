//! Runs the deterministic cluster simulation over a range of seeds, or
//! replays one seed step by step.

use std::process::ExitCode;
use std::time::{Duration, Instant};

const HELP: &str = "\
meseta-sim: deterministic simulation of a Meseta cluster (master, agents,
schedulers) under crashes, partitions and a lossy network.

Usage:
  meseta-sim [--seeds N] [--from S]     run seeds S..S+N (default 0..1000)
  meseta-sim --seed S [--trace]         run one seed; --trace prints every step

Options:
  --agents N       agents (default 3)
  --frameworks N   schedulers (default 2)
  --tasks N        tasks per scheduler (default 12)
  --fault-secs N   simulated seconds of faults (default 60)
  --no-faults      no crashes, partitions or lossy network

A failing seed prints its violations and replays exactly with --seed.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Some(run)) => run.go(),
        Ok(None) => {
            println!("{HELP}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("meseta-sim: {error}\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

struct Run {
    config: meseta_sim::Config,
    from: u64,
    seeds: u64,
    single: Option<u64>,
    trace: bool,
}

fn parse(args: &[String]) -> Result<Option<Run>, String> {
    let mut run = Run {
        config: meseta_sim::Config::default(),
        from: 0,
        seeds: 1000,
        single: None,
        trace: false,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let text = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            text.parse()
                .map_err(|_| format!("{name}: {text:?} is not a whole number"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--seeds" => run.seeds = value("--seeds")?,
            "--from" => run.from = value("--from")?,
            "--seed" => run.single = Some(value("--seed")?),
            "--trace" => run.trace = true,
            "--agents" => run.config.agents = value("--agents")?.max(1) as usize,
            "--frameworks" => run.config.frameworks = value("--frameworks")?.max(1) as usize,
            "--tasks" => run.config.tasks_per_framework = value("--tasks")? as usize,
            "--fault-secs" => run.config.fault_time = Duration::from_secs(value("--fault-secs")?),
            "--no-faults" => run.config.faults = false,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(run))
}

impl Run {
    fn go(self) -> ExitCode {
        if let Some(seed) = self.single {
            let outcome = if self.trace {
                meseta_sim::run_traced(seed, &self.config)
            } else {
                meseta_sim::run(seed, &self.config)
            };
            for line in &outcome.trace {
                println!("{line}");
            }
            for note in &outcome.notes {
                println!("note: {note}");
            }
            return report(&outcome);
        }
        let started = Instant::now();
        let mut failed = 0;
        let mut steps = 0;
        for seed in self.from..self.from + self.seeds {
            let outcome = meseta_sim::run(seed, &self.config);
            steps += outcome.steps;
            if !outcome.violations.is_empty() {
                failed += 1;
                let _ = report(&outcome);
            }
        }
        println!(
            "{} seeds ({}..{}), {failed} failed, {steps} steps in {:.1?}",
            self.seeds,
            self.from,
            self.from + self.seeds,
            started.elapsed()
        );
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

fn report(outcome: &meseta_sim::Outcome) -> ExitCode {
    println!(
        "seed {}: {} steps, {:.1?} simulated, {} tasks, {} messages ({} lost), fingerprint {:016x}",
        outcome.seed,
        outcome.steps,
        outcome.simulated,
        outcome.tasks,
        outcome.messages,
        outcome.lost,
        outcome.fingerprint
    );
    if outcome.violations.is_empty() {
        return ExitCode::SUCCESS;
    }
    for violation in &outcome.violations {
        println!("seed {}: VIOLATION: {violation}", outcome.seed);
    }
    println!(
        "replay: cargo run -p meseta-sim -- --seed {} --trace",
        outcome.seed
    );
    ExitCode::FAILURE
}
