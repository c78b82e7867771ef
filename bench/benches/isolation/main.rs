//! What isolation costs a launch: plain processes, isolated containers
//! (cgroups, a PID and a mount namespace), containers from a Docker image
//! without an engine, and Docker containers through an engine, side by
//! side.
//!
//! **End to end** (real processes): one `meseta master` and one `meseta
//! agent` (`cpus:64;mem:65536`), started afresh for every measurement, and
//! one framework on the Rust client core launching short tasks (the shell
//! command `true`, `cpus:0.01;mem:32`: Mesos's memory floor). Four agent
//! configurations:
//! * **plain**: `--isolation posix/cpu,posix/mem` (a process group and a
//!   supervisor per task, nothing enforced);
//! * **isolated**: the agent's default (cpu, memory and pids cgroups, a
//!   PID and a mount namespace, ports and disk watched);
//! * **image**: isolated, `--docker-registry http://<private registry>`;
//!   the tasks' `ContainerInfo` (type MESOS) names the test image in that
//!   registry, so `true` runs in the image's root filesystem (busybox);
//! * **docker**: `--containerizers docker,mesos --docker-socket <private
//!   engine>`; the tasks' `ContainerInfo` (type DOCKER, network HOST) names
//!   the test image in the engine.
//!
//! The last two need root and Debian's `docker.io`, `docker-registry` and
//! `busybox-static` (`meseta::docker_env` starts a private engine and
//! registry); otherwise they are skipped and the reason printed. Every
//! measurement first runs one unmeasured task to its end (for image it
//! pulls the image, so the measured launches use the cached one).
//!
//! Two ways of launching:
//! * **all at once**: every offer is used as it arrives, as many tasks as
//!   fit, until `MESETA_BENCH_TASKS` (default 1000; image and docker:
//!   `MESETA_BENCH_IMAGE_TASKS`, default 200, 0 skips them) have been
//!   launched. The agent's resources take them all at once, so the agent
//!   launches a burst and the latency includes the queue behind it;
//! * **one at a time**: the next task is launched when the previous one
//!   reports TASK_RUNNING (`MESETA_BENCH_SERIAL_TASKS`, default 200): the
//!   latency of one launch with nothing queued. Each round also times
//!   `MESETA_BENCH_DOCKER_RUNS` (default: as many) `docker run --rm
//!   <image> true` against the private engine, on its default bridge
//!   network and on the host's, through the CLI.
//!
//! Per launch the time from the driver's launch call to the TASK_STARTING,
//! TASK_RUNNING and TASK_FINISHED updates reaching the scheduler (the agent
//! sends TASK_RUNNING once TASK_STARTING is acknowledged). Launches per
//! second are tasks / (last TASK_RUNNING - first launch call). Also the CPU
//! time per task of the agent, of its containers (what it reaped), of the
//! master and of the Docker engine, from `/proc`. The configurations (and
//! the `docker run`s) alternate within each of `MESETA_BENCH_ROUNDS`
//! rounds (default 3, the order reversed every round); the tables give the
//! median over the rounds and the ratios to plain, then the ratios of
//! docker to `docker run`.
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

mod docker;
mod end_to_end;
mod framework;
mod in_process;
mod report;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use meseta::docker_env::{DockerEnv, TEST_IMAGE};
use meseta_proto::v1;

pub(crate) const AGENT_RESOURCES: &str = "cpus:64;mem:65536";
pub(crate) const TASK_CPUS: f64 = 0.01;
pub(crate) const TASK_MEM: f64 = 32.0;
/// How long one measurement may take before the bench gives up on it.
pub(crate) const ROUND_DEADLINE: Duration = Duration::from_secs(600);

/// An agent configuration and the tasks it runs.
#[derive(Debug, Clone)]
pub(crate) struct Configuration {
    pub name: &'static str,
    /// Extra agent flags.
    pub flags: Vec<String>,
    /// Every task's container (none: a command on the agent's host).
    pub container: Option<v1::ContainerInfo>,
    /// Skipped when the agent cannot isolate (falls back to plain).
    pub isolates: bool,
    /// Tasks "all at once" (0: not measured that way).
    pub all_at_once: usize,
    /// The Docker engine whose CPU time is counted.
    pub engine: Option<&'static DockerEnv>,
    /// Why it cannot be measured here, when known up front.
    pub skipped: Option<String>,
}

/// plain, isolated, image and docker; the last two skipped (with the
/// reason) without a Docker environment.
pub(crate) fn configurations(
    tasks: usize,
    image_tasks: usize,
    docker: &Result<&'static DockerEnv, String>,
) -> Vec<Configuration> {
    let base = |name, flags: &[&str]| Configuration {
        name,
        flags: flags.iter().map(|f| f.to_string()).collect(),
        container: None,
        isolates: false,
        all_at_once: tasks,
        engine: None,
        skipped: None,
    };
    let plain = base("plain", &["--isolation", "posix/cpu,posix/mem"]);
    let isolated = Configuration {
        isolates: true,
        ..base("isolated", &[])
    };
    // Bursts of the image and docker configurations are smaller.
    let base = |name, flags: &[&str]| Configuration {
        all_at_once: image_tasks,
        ..base(name, flags)
    };
    let (image, engine) = match docker {
        Ok(env) => {
            let registry = format!("http://{}", env.registry);
            let socket = env.socket.display().to_string();
            let image = Configuration {
                isolates: true,
                container: Some(docker::image_container(&env.registry_image)),
                ..base("image", &["--docker-registry", &registry])
            };
            let flags = [
                "--containerizers",
                "docker,mesos",
                "--docker-socket",
                &socket,
            ];
            let engine = Configuration {
                container: Some(docker::docker_container(TEST_IMAGE)),
                engine: Some(*env),
                ..base("docker", &flags)
            };
            (image, engine)
        }
        Err(reason) => (
            Configuration {
                skipped: Some(reason.clone()),
                ..base("image", &[])
            },
            Configuration {
                skipped: Some(reason.clone()),
                ..base("docker", &[])
            },
        ),
    };
    vec![plain, isolated, image, engine]
}

pub(crate) fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// How many of everything (from the environment).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    /// Tasks all at once: plain and isolated, and image and docker.
    pub tasks: usize,
    pub image_tasks: usize,
    /// Tasks one at a time.
    pub serial_tasks: usize,
    /// `docker run`s per baseline and round.
    pub docker_runs: usize,
    pub rounds: usize,
}

fn main() {
    let began = Instant::now();
    let serial_tasks = env_number("MESETA_BENCH_SERIAL_TASKS", 200);
    let counts = Counts {
        tasks: env_number("MESETA_BENCH_TASKS", 1000),
        image_tasks: env_number("MESETA_BENCH_IMAGE_TASKS", 200),
        serial_tasks,
        docker_runs: env_number("MESETA_BENCH_DOCKER_RUNS", serial_tasks),
        rounds: env_number("MESETA_BENCH_ROUNDS", 3).max(1),
    };
    let launches = env_number("MESETA_BENCH_LAUNCHES", 1000);
    // Everything the run writes, removed at its very end.
    let work = tempfile::tempdir().expect("temp dir");
    match binary() {
        Ok(binary) => end_to_end::run(&binary, work.path(), &counts),
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
