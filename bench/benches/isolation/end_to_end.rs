//! End to end: real clusters, the four configurations (and the `docker
//! run` baseline) alternated in rounds, all at once and one at a time (see
//! the bench's docs).

use std::path::Path;
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meseta::docker_env::TEST_IMAGE;
use meseta::launcher::{Cluster, ClusterSpec};
use meseta_core::scheduler::{SchedulerConfig, SchedulerDriver};
use meseta_proto::v1;

use crate::docker::{self, BASELINES};
use crate::framework::{Bench, Outcome, Progress};
use crate::{
    configurations, report, Configuration, Counts, AGENT_RESOURCES, ROUND_DEADLINE, TASK_CPUS,
    TASK_MEM,
};

/// One measurement of a round: a configuration's cluster, or a batch of
/// `docker run`s (one of [`BASELINES`]).
#[derive(Debug, Clone, Copy)]
enum Item {
    Cluster(usize),
    DockerRuns(usize),
}

pub(crate) fn run(binary: &Path, work: &Path, counts: &Counts) {
    let rounds = counts.rounds;
    let environment = docker::environment();
    let mut configurations = configurations(counts.tasks, counts.image_tasks, &environment);
    println!(
        "end to end: 1 master, 1 agent ({AGENT_RESOURCES}), tasks: the shell command `true`, \
         cpus:{TASK_CPUS};mem:{TASK_MEM}; {rounds} rounds, the configurations alternated"
    );
    println!("  binary: {}", binary.display());
    match &environment {
        Ok(env) => println!(
            "  private Docker engine {}, registry {}; image {TEST_IMAGE} (engine), {} (registry)",
            env.socket.display(),
            env.registry,
            env.registry_image
        ),
        Err(reason) => println!("  image and docker: skipped: {reason}"),
    }
    let modes: [(&str, usize); 2] = [("all at once", usize::MAX), ("one at a time", 1)];
    let tasks = |mode: usize, configuration: &Configuration| {
        if mode == 0 {
            configuration.all_at_once
        } else {
            counts.serial_tasks
        }
    };
    // results[mode][configuration] = one outcome per round
    let mut results: Vec<Vec<Vec<Outcome>>> = vec![vec![Vec::new(); configurations.len()]; 2];
    let mut baselines: Vec<Vec<docker::Runs>> = vec![Vec::new(); BASELINES.len()];
    let mut isolation_in_force: Vec<Option<String>> = vec![None; configurations.len()];
    for round in 0..rounds {
        for (mode, (mode_name, limit)) in modes.iter().enumerate() {
            let mut items: Vec<Item> = (0..configurations.len()).map(Item::Cluster).collect();
            if mode == 1 && counts.docker_runs > 0 {
                items.extend((0..BASELINES.len()).map(Item::DockerRuns));
            }
            if round % 2 == 1 {
                items.reverse();
            }
            for item in items {
                let label = format!("  round {}/{rounds} {mode_name:<13}", round + 1);
                let configuration = match item {
                    Item::DockerRuns(baseline) => {
                        if let Ok(env) = environment {
                            let (name, flags) = BASELINES[baseline];
                            let runs = docker::runs(env, flags, counts.docker_runs);
                            eprintln!(
                                "{label} docker run ({name}) p50 {:>7.1} ms p99 {:>7.1} ms{}",
                                runs.p50,
                                runs.p99,
                                failures(runs.failed)
                            );
                            baselines[baseline].push(runs);
                        }
                        continue;
                    }
                    Item::Cluster(configuration) => configuration,
                };
                let chosen = &configurations[configuration];
                let count = tasks(mode, chosen);
                if count == 0 || chosen.skipped.is_some() {
                    continue;
                }
                let root = work.join(format!(
                    "round{}-{}-{}",
                    round + 1,
                    mode_name.replace(' ', "-"),
                    chosen.name
                ));
                let (outcome, isolation) = match measure(binary, &root, chosen, count, *limit) {
                    Ok(found) => found,
                    Err(Skip(reason)) => {
                        eprintln!("  {}: skipped: {reason}", chosen.name);
                        configurations[configuration].skipped = Some(reason);
                        continue;
                    }
                };
                isolation_in_force[configuration].get_or_insert(isolation);
                eprintln!(
                    "{label} {:<8} {:>6.1} launches/s  STARTING p50 {:>7.1} ms  RUNNING p50 {:>7.1} ms p99 {:>7.1} ms  FINISHED p50 {:>7.1} ms{}",
                    chosen.name,
                    outcome.launches_per_second,
                    outcome.starting_p50,
                    outcome.running_p50,
                    outcome.running_p99,
                    outcome.finished_p50,
                    failures(outcome.failed)
                );
                results[mode][configuration].push(outcome);
            }
        }
    }
    for (configuration, isolation) in configurations.iter().zip(&isolation_in_force) {
        if let Some(isolation) = isolation {
            println!("  {:<8} agent isolation: {isolation}", configuration.name);
        }
    }
    for configuration in &configurations {
        if let Some(reason) = &configuration.skipped {
            println!("  {:<8} skipped: {reason}", configuration.name);
        }
    }
    // medians[mode][configuration]
    let mut medians: Vec<Vec<Option<Outcome>>> = vec![Vec::new(); modes.len()];
    for (mode, (mode_name, _)) in modes.iter().enumerate() {
        let counts: Vec<usize> = configurations.iter().map(|c| tasks(mode, c)).collect();
        if counts.iter().all(|count| *count == 0) {
            continue;
        }
        medians[mode] =
            report::mode_table(mode_name, &configurations, &counts, &results[mode], rounds);
    }
    if environment.is_ok() && counts.docker_runs > 0 {
        let docker = configurations
            .iter()
            .position(|c| c.engine.is_some())
            .and_then(|index| medians[1].get(index).cloned().flatten());
        report::docker_runs(&baselines, docker.as_ref(), counts.docker_runs, rounds);
    }
    println!();
}

fn failures(failed: usize) -> String {
    if failed > 0 {
        format!("  ({failed} failed)")
    } else {
        String::new()
    }
}

/// Why a configuration cannot be measured here.
struct Skip(String);

/// One cluster, one framework, `count` tasks with at most `limit` launched
/// and not yet running (after the warm-up task); the outcome and the
/// agent's isolation.
fn measure(
    binary: &Path,
    root: &Path,
    configuration: &Configuration,
    count: usize,
    limit: usize,
) -> Result<(Outcome, String), Skip> {
    let mut spec = ClusterSpec::new(binary, root, 1);
    spec.agent_resources = Some(AGENT_RESOURCES.to_string());
    spec.master_args = vec!["--allocation-interval".into(), "50ms".into()];
    spec.agent_args = configuration.flags.clone();
    let engine = configuration.engine;
    let engine_before = engine.and_then(docker::engine_cpu);
    let cluster = Cluster::start(spec).expect("the cluster starts");
    let state = http_get(&cluster.agents[0].address, "/state").unwrap_or_default();
    let isolation = json_string(&state, "isolation").unwrap_or_else(|| "?".into());
    if let Some(fallback) = json_string(&state, "isolation_fallback") {
        if configuration.isolates {
            return Err(Skip(fallback));
        }
    }

    let container = configuration.container.clone();
    let progress = Arc::new(Mutex::new(Progress::new(count, limit, container)));
    let (done, finished) = channel();
    let framework = v1::FrameworkInfo {
        user: "root".into(),
        name: "isolation-bench".into(),
        ..Default::default()
    };
    let driver = SchedulerDriver::new(
        Bench {
            progress: Arc::clone(&progress),
            done,
        },
        SchedulerConfig::new(cluster.master_address(), framework),
    );
    driver.start();
    let ended = finished.recv_timeout(ROUND_DEADLINE);
    let agent_cpu = cluster.agents[0].pid().and_then(cpu_times);
    let master_cpu = cluster.master.pid().and_then(cpu_times);
    let engine_after = engine.and_then(docker::engine_cpu);
    driver.stop(false);
    let progress = progress.lock().unwrap_or_else(|p| p.into_inner());
    if ended.is_err() {
        drop(progress);
        cluster.print_log_tails(30);
        panic!("the tasks did not all end within {ROUND_DEADLINE:?}");
    }
    drop(cluster);
    if let Some(env) = engine {
        docker::prune(env);
    }
    let mut outcome = progress.outcome();
    // Per task the agent ran, the warm-up included.
    let per_task = |seconds: f64| seconds * 1e3 / (count + 1) as f64;
    if let Some((own, children)) = agent_cpu {
        outcome.agent_cpu = per_task(own);
        outcome.containers_cpu = per_task(children);
    }
    if let Some((own, _)) = master_cpu {
        outcome.master_cpu = per_task(own);
    }
    if let (Some(before), Some(after)) = (engine_before, engine_after) {
        outcome.engine_cpu = per_task(after - before);
    }
    Ok((outcome, isolation))
}

/// A process's CPU time in seconds: its own (user + system) and that of
/// the children it reaped (theirs included), from `/proc/<pid>/stat`.
pub(crate) fn cpu_times(pid: u32) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name: state is the first, utime the 12th.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<f64>().ok();
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let own = ticks(11)? + ticks(12)?;
    let children = ticks(13)? + ticks(14)?;
    Some((own / per_second, children / per_second))
}

/// A bare HTTP/1.0 GET (no client crate needed); the whole response.
fn http_get(address: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The string value of the first `"key":"..."` in a JSON text (enough for
/// the agent's flags, which hold no escaped quotes).
fn json_string(text: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\":");
    let at = text.find(&needle)? + needle.len();
    let rest = text[at..].trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}
