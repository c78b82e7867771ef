//! What isolation costs a launch: plain processes against isolated
//! containers (cgroups, a PID and a mount namespace), side by side.
//!
//! **End to end** (real processes): one `meseta master` and one `meseta
//! agent` (`cpus:64;mem:65536`), started afresh for every measurement, and
//! one framework on the Rust client core launching short tasks (`true`,
//! `cpus:0.01;mem:32`: Mesos's memory floor). Two agent configurations:
//! * **plain**: `--isolation posix/cpu,posix/mem` (a process group and a
//!   supervisor per task, nothing enforced);
//! * **isolated**: the agent's default (cpu, memory and pids cgroups, a
//!   PID and a mount namespace, ports and disk watched).
//!
//! Two ways of launching, each run for both configurations:
//! * **all at once**: every offer is used as it arrives, as many tasks as
//!   fit, until `MESETA_BENCH_TASKS` (default 1000) have been launched. The
//!   agent's resources take them all at once, so the agent launches a burst
//!   and the latency includes the queue behind it;
//! * **one at a time**: the next task is launched when the previous one
//!   reports TASK_RUNNING (`MESETA_BENCH_SERIAL_TASKS`, default 200): the
//!   latency of one launch with nothing queued.
//!
//! Per launch the time from the driver's launch call to the TASK_STARTING,
//! TASK_RUNNING and TASK_FINISHED updates reaching the scheduler (the agent
//! sends TASK_RUNNING once TASK_STARTING is acknowledged). Launches per
//! second are tasks / (last TASK_RUNNING - first launch call). Also the CPU
//! time per task of the agent, of its containers (what it reaped) and of
//! the master, from `/proc`. The configurations alternate within each of
//! `MESETA_BENCH_ROUNDS` rounds (default 3, the order flipped every round);
//! the tables give the median over the rounds and the ratio isolated /
//! plain.
//!
//! **Per launch, in process** (no master, no agent): the agent's
//! containerizers launching `true` one after another, each awaited to its
//! end before the next, `MESETA_BENCH_LAUNCHES` times (default 1000) per
//! row, the rows interleaved:
//! * **plain**: `ProcessContainerizer` without a checkpoint directory (no
//!   supervisor: the command is spawned directly);
//! * **supervised**: `ProcessContainerizer` with one (a forked supervisor
//!   records the exit status: how the agent runs every command task);
//! * **isolated**: `LinuxContainerizer` with the default isolation (root
//!   with writable cgroups only; otherwise the row is skipped and says why).
//!
//! The difference supervised - plain is what the supervisor fork costs.
//!
//! The clusters' work dirs (sandboxes included) live under one temporary
//! directory (`TMPDIR`), removed only at the end of the run, so that no
//! measurement pays for the file system reclaiming an earlier one's.
//! `MESETA_BENCH_KEEP=1` keeps it (its path is printed), e.g. to read the
//! agents' logs with `RUST_LOG=debug`.
//!
//! Run: `cargo build --release -p meseta --bins` first (the end-to-end part
//! needs `target/release/meseta`, or `MESETA_BINARY`), then
//! `cargo bench -p meseta-bench --bench isolation`.

mod end_to_end;
mod in_process;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub(crate) const AGENT_RESOURCES: &str = "cpus:64;mem:65536";
pub(crate) const TASK_CPUS: f64 = 0.01;
pub(crate) const TASK_MEM: f64 = 32.0;
/// How long one measurement may take before the bench gives up on it.
pub(crate) const ROUND_DEADLINE: Duration = Duration::from_secs(600);

/// An agent configuration: its name and its extra flags.
pub(crate) const CONFIGURATIONS: [(&str, &[&str]); 2] = [
    ("plain", &["--isolation", "posix/cpu,posix/mem"]),
    ("isolated", &[]),
];

pub(crate) fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn main() {
    let began = Instant::now();
    let tasks = env_number("MESETA_BENCH_TASKS", 1000);
    let serial_tasks = env_number("MESETA_BENCH_SERIAL_TASKS", 200);
    let rounds = env_number("MESETA_BENCH_ROUNDS", 3).max(1);
    let launches = env_number("MESETA_BENCH_LAUNCHES", 1000);
    // Everything the run writes, removed at its very end.
    let work = tempfile::tempdir().expect("temp dir");
    match binary() {
        Ok(binary) => end_to_end::run(&binary, work.path(), tasks, serial_tasks, rounds),
        Err(reason) => println!("end to end: skipped: {reason}\n"),
    }
    if launches > 0 {
        in_process::per_launch(work.path(), launches);
    }
    println!("whole run: {:.0} s", began.elapsed().as_secs_f64());
    if std::env::var_os("MESETA_BENCH_KEEP").is_some() {
        println!("work dirs and logs kept in {}", work.keep().display());
    }
}

/// The release `meseta` binary: `MESETA_BINARY`, else the workspace's
/// `target/release/meseta` (benches run from `bench/`).
fn binary() -> Result<PathBuf, String> {
    let path = match std::env::var_os("MESETA_BINARY") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/meseta"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no meseta binary at {} (run `cargo build --release -p meseta --bins`, or set MESETA_BINARY)",
            path.display()
        ))
    }
}

/// The nearest-rank percentile of sorted values (NaN when empty).
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median (the mean of the middle two for an even count).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}
