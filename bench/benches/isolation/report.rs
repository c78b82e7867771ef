//! The end-to-end tables: one per way of launching, then the `docker run`
//! baseline and docker's ratios to it.

use meseta::docker_env::TEST_IMAGE;

use crate::docker::{Runs, BASELINES};
use crate::framework::Outcome;
use crate::{median, Configuration};

/// The medians over the rounds of one configuration's outcomes.
fn summary(outcomes: &[Outcome]) -> Option<Outcome> {
    if outcomes.is_empty() {
        return None;
    }
    let median_of = |f: fn(&Outcome) -> f64| median(outcomes.iter().map(f).collect());
    Some(Outcome {
        launches_per_second: median_of(|o| o.launches_per_second),
        starting_p50: median_of(|o| o.starting_p50),
        starting_p99: median_of(|o| o.starting_p99),
        running_p50: median_of(|o| o.running_p50),
        running_p99: median_of(|o| o.running_p99),
        finished_p50: median_of(|o| o.finished_p50),
        finished_p99: median_of(|o| o.finished_p99),
        agent_cpu: median_of(|o| o.agent_cpu),
        containers_cpu: median_of(|o| o.containers_cpu),
        master_cpu: median_of(|o| o.master_cpu),
        engine_cpu: median_of(|o| o.engine_cpu),
        failed: outcomes.iter().map(|o| o.failed).sum(),
        first_failure: outcomes.iter().find_map(|o| o.first_failure.clone()),
    })
}

/// A CPU time, or `-` where not measured.
fn cpu(millis: f64) -> String {
    if millis.is_nan() {
        "-".into()
    } else {
        format!("{millis:.2} ms")
    }
}

/// The table of one way of launching (`counts[configuration]` tasks per
/// run, 0 where not measured); the medians, by configuration.
pub(crate) fn mode_table(
    mode_name: &str,
    configurations: &[Configuration],
    counts: &[usize],
    outcomes: &[Vec<Outcome>],
    rounds: usize,
) -> Vec<Option<Outcome>> {
    println!();
    println!("{mode_name}: launch call -> update at the scheduler, median of {rounds} rounds");
    println!(
        "{:<14} {:>5} {:>10} {:>12} {:>11} {:>11} {:>11} {:>12} {:>11} {:>6}",
        "",
        "tasks",
        "launches/s",
        "STARTING p50",
        "p99",
        "RUNNING p50",
        "p99",
        "FINISHED p50",
        "p99",
        "failed"
    );
    let mut medians = Vec::new();
    for ((configuration, count), outcomes) in configurations.iter().zip(counts).zip(outcomes) {
        let name = configuration.name;
        let Some(summary) = summary(outcomes) else {
            let why = if configuration.skipped.is_some() {
                "skipped"
            } else {
                "not measured"
            };
            println!("{name:<14} {:>5} {why:>10}", count);
            medians.push(None);
            continue;
        };
        println!(
            "{name:<14} {count:>5} {:>10.1} {:>9.1} ms {:>8.1} ms {:>8.1} ms {:>8.1} ms {:>9.1} ms {:>8.1} ms {:>6}",
            summary.launches_per_second,
            summary.starting_p50,
            summary.starting_p99,
            summary.running_p50,
            summary.running_p99,
            summary.finished_p50,
            summary.finished_p99,
            summary.failed
        );
        if let Some(failure) = &summary.first_failure {
            println!("{:<14} first failure: {failure}", "");
        }
        medians.push(Some(summary));
    }
    if let Some(Some(plain)) = medians.first() {
        for (index, median) in medians.iter().enumerate().skip(1) {
            let Some(other) = median else {
                continue;
            };
            let name = format!("{}/plain", configurations[index].name);
            let throughput = other.launches_per_second / plain.launches_per_second;
            if counts[index] != counts[0] {
                // Bursts of other sizes: their latencies do not compare.
                println!("{name:<14} {:>5} {throughput:>10.2}", "");
                continue;
            }
            println!(
                "{name:<14} {:>5} {throughput:>10.2} {:>12.2} {:>11.2} {:>11.2} {:>11.2} {:>12.2} {:>11.2}",
                "",
                other.starting_p50 / plain.starting_p50,
                other.starting_p99 / plain.starting_p99,
                other.running_p50 / plain.running_p50,
                other.running_p99 / plain.running_p99,
                other.finished_p50 / plain.finished_p50,
                other.finished_p99 / plain.finished_p99,
            );
        }
    }
    println!(
        "{:<14} {:>10} {:>12} {:>11} {:>11}   (CPU time per task, median of {rounds} rounds)",
        "", "agent", "containers", "master", "engine"
    );
    for (configuration, summary) in configurations.iter().zip(&medians) {
        if let Some(summary) = summary {
            println!(
                "{:<14} {:>10} {:>12} {:>11} {:>11}",
                configuration.name,
                cpu(summary.agent_cpu),
                cpu(summary.containers_cpu),
                cpu(summary.master_cpu),
                cpu(summary.engine_cpu),
            );
        }
    }
    medians
}

/// The `docker run` baselines, and docker's one-at-a-time medians against
/// them.
pub(crate) fn docker_runs(
    baselines: &[Vec<Runs>],
    docker: Option<&Outcome>,
    count: usize,
    rounds: usize,
) {
    println!();
    println!(
        "docker run, one at a time: {count} per round, `docker run --rm [--network host] \
         {TEST_IMAGE} true` through the CLI, its start to its exit, median of {rounds} rounds"
    );
    println!(
        "{:<15} {:>11} {:>11} {:>11} {:>11} {:>6}   (CPU time per run)",
        "network", "p50", "p99", "engine", "CLI", "failed"
    );
    let mut p50s = Vec::new();
    for ((name, _), runs) in BASELINES.iter().zip(baselines) {
        if runs.is_empty() {
            p50s.push(f64::NAN);
            continue;
        }
        let median_of = |f: fn(&Runs) -> f64| median(runs.iter().map(f).collect());
        let p50 = median_of(|r| r.p50);
        println!(
            "{name:<15} {p50:>8.1} ms {:>8.1} ms {:>11} {:>11} {:>6}",
            median_of(|r| r.p99),
            cpu(median_of(|r| r.engine_cpu)),
            cpu(median_of(|r| r.client_cpu)),
            runs.iter().map(|r| r.failed).sum::<usize>()
        );
        if let Some(failure) = runs.iter().find_map(|r| r.first_failure.clone()) {
            println!("{:<15} first failure: {failure}", "");
        }
        p50s.push(p50);
    }
    let Some(docker) = docker else {
        println!("(no docker configuration one at a time to compare)");
        return;
    };
    println!(
        "docker (one at a time) p50 / docker run p50:  RUNNING {:.1} ms, FINISHED {:.1} ms",
        docker.running_p50, docker.finished_p50
    );
    println!(
        "{:<15} {:>11} {:>12}",
        "/ docker run", "RUNNING", "FINISHED"
    );
    for ((name, _), p50) in BASELINES.iter().zip(p50s) {
        println!(
            "{name:<15} {:>11.2} {:>12.2}",
            docker.running_p50 / p50,
            docker.finished_p50 / p50
        );
    }
}
