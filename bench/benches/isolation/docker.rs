//! The Docker side of the end-to-end part: the private engine and
//! registry of `meseta::docker_env`, the containers of the image and
//! docker configurations, the engine's CPU time, and the `docker run`
//! baseline.

use std::process::Stdio;
use std::time::Instant;

use meseta::docker_env::{self, DockerEnv, TEST_IMAGE};
use meseta_proto::v1::{self, container_info};

use crate::end_to_end::cpu_times;
use crate::percentile;

/// The private engine, registry and test image, or why they cannot run.
pub(crate) fn environment() -> Result<&'static DockerEnv, String> {
    if let Some(reason) = docker_env::unavailable() {
        return Err(reason);
    }
    docker_env::shared()
}

/// `ContainerInfo.type=MESOS` with the Docker image `name` (no engine).
pub(crate) fn image_container(name: &str) -> v1::ContainerInfo {
    v1::ContainerInfo {
        r#type: container_info::Type::Mesos as i32,
        mesos: Some(container_info::MesosInfo {
            image: Some(v1::Image {
                r#type: v1::image::Type::Docker as i32,
                docker: Some(v1::image::Docker {
                    name: name.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

/// `ContainerInfo.type=DOCKER` with `image`, on the host's network.
pub(crate) fn docker_container(image: &str) -> v1::ContainerInfo {
    v1::ContainerInfo {
        r#type: container_info::Type::Docker as i32,
        docker: Some(container_info::DockerInfo {
            image: image.into(),
            network: Some(container_info::docker_info::Network::Host as i32),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The engine's CPU time so far in seconds: dockerd's and containerd's
/// own plus what they reaped. Not the per-container shims and runc, which
/// are children of init.
pub(crate) fn engine_cpu(env: &DockerEnv) -> Option<f64> {
    let text = std::fs::read_to_string(env.dir.join("docker.pid")).ok()?;
    let dockerd: u32 = text.trim().parse().ok()?;
    let mut pids = vec![dockerd];
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if parent(pid) == Some(dockerd) {
            pids.push(pid);
        }
    }
    let mut total = 0.0;
    for pid in pids {
        let (own, reaped) = cpu_times(pid)?;
        total += own + reaped;
    }
    Some(total)
}

/// A process's parent, from `/proc/<pid>/stat`.
fn parent(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Removes every stopped container (the agents keep theirs for
/// `--docker-remove-delay`): each measurement starts with an empty engine.
pub(crate) fn prune(env: &DockerEnv) {
    if let Err(e) = env.run(&["container", "prune", "--force"]) {
        eprintln!("  docker container prune: {e}");
    }
}

/// A `docker run` baseline: its name and the flags before the image.
pub(crate) const BASELINES: [(&str, &[&str]); 2] =
    [("bridge", &[]), ("--network host", &["--network", "host"])];

/// What one batch of `docker run`s found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs {
    /// Wall time of one `docker run`, the CLI's start to its exit, in ms.
    pub p50: f64,
    pub p99: f64,
    /// CPU time per run in ms: the engine's (as [`engine_cpu`]) and the
    /// CLI's.
    pub engine_cpu: f64,
    pub client_cpu: f64,
    pub failed: usize,
    pub first_failure: Option<String>,
}

/// `count` times `docker run --rm FLAGS TEST_IMAGE true`, one after
/// another, after one unmeasured run.
pub(crate) fn runs(env: &DockerEnv, flags: &[&str], count: usize) -> Runs {
    let run = || {
        env.docker()
            .args(["run", "--rm"])
            .args(flags)
            .args([TEST_IMAGE, "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
    };
    let _ = run();
    let engine_before = engine_cpu(env);
    let client_before = children_cpu();
    let mut walls = Vec::with_capacity(count);
    let mut outcome = Runs::default();
    for _ in 0..count {
        let began = Instant::now();
        let output = run();
        walls.push(began.elapsed().as_secs_f64() * 1e3);
        let failure = match output {
            Ok(output) if output.status.success() => continue,
            Ok(output) => format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(e) => e.to_string(),
        };
        outcome.failed += 1;
        outcome.first_failure.get_or_insert(failure);
    }
    walls.sort_by(f64::total_cmp);
    let per_run = |seconds: f64| seconds * 1e3 / count.max(1) as f64;
    outcome.p50 = percentile(&walls, 50.0);
    outcome.p99 = percentile(&walls, 99.0);
    outcome.engine_cpu = match (engine_before, engine_cpu(env)) {
        (Some(before), Some(after)) => per_run(after - before),
        _ => f64::NAN,
    };
    outcome.client_cpu = per_run(children_cpu() - client_before);
    outcome
}

/// The CPU time of this process's reaped children, in seconds (between
/// clusters: only the `docker` CLIs).
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
