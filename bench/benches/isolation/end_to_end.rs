//! End to end: real clusters, plain against isolated, all at once and one
//! at a time (see the bench's docs).

use std::path::Path;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meseta::launcher::{Cluster, ClusterSpec};
use meseta_core::scheduler::{is_terminal, Scheduler, SchedulerConfig, SchedulerDriver};
use meseta_proto::resources::{scalar, scalar_total};
use meseta_proto::v1;

use crate::{
    median, percentile, AGENT_RESOURCES, CONFIGURATIONS, ROUND_DEADLINE, TASK_CPUS, TASK_MEM,
};

/// What one measurement (one configuration, one round) found.
#[derive(Debug, Clone, Default)]
struct Outcome {
    /// Tasks that reached TASK_RUNNING / (last TASK_RUNNING - first launch).
    launches_per_second: f64,
    starting_p50: f64,
    starting_p99: f64,
    running_p50: f64,
    running_p99: f64,
    finished_p50: f64,
    finished_p99: f64,
    /// CPU time per task in milliseconds: the agent's own, its containers'
    /// (the supervisors, inits and commands it reaped) and the master's.
    agent_cpu: f64,
    containers_cpu: f64,
    master_cpu: f64,
    /// Tasks that ended other than TASK_FINISHED.
    failed: usize,
    first_failure: Option<String>,
}

pub(crate) fn run(binary: &Path, work: &Path, tasks: usize, serial_tasks: usize, rounds: usize) {
    println!(
        "end to end: 1 master, 1 agent ({AGENT_RESOURCES}), tasks `true` of cpus:{TASK_CPUS};mem:{TASK_MEM}; \
         {rounds} rounds, plain and isolated alternated"
    );
    println!("  binary: {}", binary.display());
    let modes: [(&str, usize, usize); 2] = [
        ("all at once", tasks, usize::MAX),
        ("one at a time", serial_tasks, 1),
    ];
    // results[mode][configuration] = one outcome per round
    let mut results: Vec<Vec<Vec<Outcome>>> = vec![vec![Vec::new(); 2]; modes.len()];
    let mut isolation_in_force: [Option<String>; 2] = [None, None];
    let mut skipped: Option<String> = None;
    for round in 0..rounds {
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for (mode, (mode_name, count, limit)) in modes.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            for configuration in order {
                if configuration == 1 && skipped.is_some() {
                    continue;
                }
                let (name, flags) = CONFIGURATIONS[configuration];
                let root = work.join(format!(
                    "round{}-{}-{name}",
                    round + 1,
                    mode_name.replace(' ', "-")
                ));
                let measured = measure(binary, &root, flags, *count, *limit);
                let (outcome, isolation) = match measured {
                    Ok(found) => found,
                    Err(Skip(reason)) => {
                        eprintln!("  {name}: {reason}; the isolated configuration is skipped");
                        skipped = Some(reason);
                        continue;
                    }
                };
                isolation_in_force[configuration].get_or_insert(isolation);
                eprintln!(
                    "  round {}/{rounds} {mode_name:<13} {name:<8} {:>6.1} launches/s  STARTING p50 {:>7.1} ms  RUNNING p50 {:>7.1} ms p99 {:>7.1} ms  FINISHED p50 {:>7.1} ms{}",
                    round + 1,
                    outcome.launches_per_second,
                    outcome.starting_p50,
                    outcome.running_p50,
                    outcome.running_p99,
                    outcome.finished_p50,
                    if outcome.failed > 0 {
                        format!("  ({} failed)", outcome.failed)
                    } else {
                        String::new()
                    }
                );
                results[mode][configuration].push(outcome);
            }
        }
    }
    for (configuration, isolation) in isolation_in_force.iter().enumerate() {
        if let Some(isolation) = isolation {
            println!(
                "  {:<8} agent isolation: {isolation}",
                CONFIGURATIONS[configuration].0
            );
        }
    }
    if let Some(reason) = &skipped {
        println!("  isolated: skipped: {reason}");
    }
    for (mode, (mode_name, count, _)) in modes.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        println!();
        println!(
            "{mode_name}: {count} tasks per run, launch call -> update at the scheduler, median of {rounds} rounds"
        );
        println!(
            "{:<10} {:>10} {:>12} {:>11} {:>11} {:>11} {:>12} {:>11} {:>6}",
            "",
            "launches/s",
            "STARTING p50",
            "p99",
            "RUNNING p50",
            "p99",
            "FINISHED p50",
            "p99",
            "failed"
        );
        let mut medians: Vec<Option<Outcome>> = Vec::new();
        for (configuration, (name, _)) in CONFIGURATIONS.iter().enumerate() {
            let outcomes = &results[mode][configuration];
            if outcomes.is_empty() {
                println!("{name:<10} {:>11}", "-");
                medians.push(None);
                continue;
            }
            let median_of = |f: fn(&Outcome) -> f64| median(outcomes.iter().map(f).collect());
            let summary = Outcome {
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
                failed: outcomes.iter().map(|o| o.failed).sum(),
                first_failure: outcomes.iter().find_map(|o| o.first_failure.clone()),
            };
            println!(
                "{name:<10} {:>10.1} {:>9.1} ms {:>8.1} ms {:>8.1} ms {:>8.1} ms {:>9.1} ms {:>8.1} ms {:>6}",
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
                println!("{:<10} first failure: {failure}", "");
            }
            medians.push(Some(summary));
        }
        if let [Some(plain), Some(isolated)] = medians.as_slice() {
            println!(
                "{:<10} {:>10.2} {:>12.2} {:>11.2} {:>11.2} {:>11.2} {:>12.2} {:>11.2}",
                "iso/plain",
                isolated.launches_per_second / plain.launches_per_second,
                isolated.starting_p50 / plain.starting_p50,
                isolated.starting_p99 / plain.starting_p99,
                isolated.running_p50 / plain.running_p50,
                isolated.running_p99 / plain.running_p99,
                isolated.finished_p50 / plain.finished_p50,
                isolated.finished_p99 / plain.finished_p99,
            );
        }
        println!(
            "{:<10} {:>10} {:>12} {:>11}   (CPU time per task, median of {rounds} rounds)",
            "", "agent", "containers", "master"
        );
        for (configuration, summary) in medians.iter().enumerate() {
            if let Some(summary) = summary {
                println!(
                    "{:<10} {:>7.2} ms {:>9.2} ms {:>8.2} ms",
                    CONFIGURATIONS[configuration].0,
                    summary.agent_cpu,
                    summary.containers_cpu,
                    summary.master_cpu
                );
            }
        }
    }
    println!();
}

/// Why a configuration cannot be measured here.
struct Skip(String);

/// One cluster, one framework, `count` tasks with at most `limit` launched
/// and not yet running; the outcome and the agent's isolation.
fn measure(
    binary: &Path,
    root: &Path,
    flags: &[&str],
    count: usize,
    limit: usize,
) -> Result<(Outcome, String), Skip> {
    let mut spec = ClusterSpec::new(binary, root, 1);
    spec.agent_resources = Some(AGENT_RESOURCES.to_string());
    spec.master_args = vec!["--allocation-interval".into(), "50ms".into()];
    spec.agent_args = flags.iter().map(|f| f.to_string()).collect();
    let cluster = Cluster::start(spec).expect("the cluster starts");
    let state = http_get(&cluster.agents[0].address, "/state").unwrap_or_default();
    let isolation = json_string(&state, "isolation").unwrap_or_else(|| "?".into());
    if let Some(fallback) = json_string(&state, "isolation_fallback") {
        if flags.is_empty() {
            return Err(Skip(fallback));
        }
    }

    let progress = Arc::new(Mutex::new(Progress::new(count, limit)));
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
    driver.stop(false);
    let progress = progress.lock().unwrap_or_else(|p| p.into_inner());
    if ended.is_err() {
        drop(progress);
        cluster.print_log_tails(30);
        panic!("the tasks did not all end within {ROUND_DEADLINE:?}");
    }
    drop(cluster);
    let mut outcome = progress.outcome();
    let per_task = |seconds: f64| seconds * 1e3 / count as f64;
    if let Some((own, children)) = agent_cpu {
        outcome.agent_cpu = per_task(own);
        outcome.containers_cpu = per_task(children);
    }
    if let Some((own, _)) = master_cpu {
        outcome.master_cpu = per_task(own);
    }
    Ok((outcome, isolation))
}

/// A process's CPU time in seconds: its own (user + system) and that of
/// the children it reaped (theirs included), from `/proc/<pid>/stat`.
fn cpu_times(pid: u32) -> Option<(f64, f64)> {
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

/// The framework's view of one measurement.
#[derive(Debug)]
struct Progress {
    total: usize,
    /// At most this many tasks launched and not yet TASK_RUNNING.
    limit: usize,
    /// Tasks launched so far (the next task's number).
    next: usize,
    in_flight: usize,
    /// Offers kept until a task may be launched.
    held: Vec<v1::Offer>,
    launched: Vec<Option<Instant>>,
    starting: Vec<Option<Instant>>,
    running: Vec<Option<Instant>>,
    ended: Vec<Option<Instant>>,
    terminal: usize,
    failures: Vec<String>,
}

impl Progress {
    fn new(total: usize, limit: usize) -> Self {
        Self {
            total,
            limit,
            next: 0,
            in_flight: 0,
            held: Vec::new(),
            launched: vec![None; total],
            starting: vec![None; total],
            running: vec![None; total],
            ended: vec![None; total],
            terminal: 0,
            failures: Vec::new(),
        }
    }

    fn outcome(&self) -> Outcome {
        let millis = |from: &[Option<Instant>], to: &[Option<Instant>]| {
            let mut all: Vec<f64> = from
                .iter()
                .zip(to)
                .filter_map(|(a, b)| Some(b.as_ref()?.duration_since(*a.as_ref()?)))
                .map(|d| d.as_secs_f64() * 1e3)
                .collect();
            all.sort_by(f64::total_cmp);
            all
        };
        let starting = millis(&self.launched, &self.starting);
        let running = millis(&self.launched, &self.running);
        let finished = millis(&self.launched, &self.ended);
        let first = self.launched.iter().flatten().min();
        let last = self.running.iter().flatten().max();
        let span = match (first, last) {
            (Some(first), Some(last)) => last.duration_since(*first).as_secs_f64(),
            _ => 0.0,
        };
        let ran = self.running.iter().flatten().count();
        Outcome {
            launches_per_second: if span > 0.0 { ran as f64 / span } else { 0.0 },
            starting_p50: percentile(&starting, 50.0),
            starting_p99: percentile(&starting, 99.0),
            running_p50: percentile(&running, 50.0),
            running_p99: percentile(&running, 99.0),
            finished_p50: percentile(&finished, 50.0),
            finished_p99: percentile(&finished, 99.0),
            failed: self.failures.len(),
            first_failure: self.failures.first().cloned(),
            ..Outcome::default()
        }
    }
}

/// Launches on every offer as it comes, as many tasks as fit (and as the
/// in-flight limit allows), until all are launched.
struct Bench {
    progress: Arc<Mutex<Progress>>,
    done: Sender<()>,
}

impl Bench {
    fn launch_on_held(progress: &mut Progress, driver: &SchedulerDriver) {
        while let Some(offer) = progress.held.pop() {
            if progress.next == progress.total {
                let filters = v1::Filters {
                    refuse_seconds: Some(3600.0),
                };
                driver.decline_offer(&offer.id, Some(filters));
                continue;
            }
            let room = progress.limit.saturating_sub(progress.in_flight);
            if room == 0 {
                progress.held.push(offer);
                return;
            }
            let cpus = scalar_total(&offer.resources, "cpus");
            let mem = scalar_total(&offer.resources, "mem");
            let fit = ((cpus / TASK_CPUS + 1e-6).floor() as usize)
                .min((mem / TASK_MEM + 1e-6).floor() as usize);
            let count = fit.min(room).min(progress.total - progress.next);
            // What is left of the offer comes back at the next allocation.
            let again = Some(v1::Filters {
                refuse_seconds: Some(0.0),
            });
            if count == 0 {
                driver.decline_offer(&offer.id, again);
                continue;
            }
            let first = progress.next;
            let tasks: Vec<v1::TaskInfo> = (first..first + count)
                .map(|number| task(number, &offer.agent_id))
                .collect();
            let now = Instant::now();
            for slot in &mut progress.launched[first..first + count] {
                *slot = Some(now);
            }
            progress.next += count;
            progress.in_flight += count;
            driver.launch_tasks(std::slice::from_ref(&offer.id), tasks, again);
        }
    }
}

fn task(number: usize, agent_id: &v1::AgentId) -> v1::TaskInfo {
    v1::TaskInfo {
        name: format!("true-{number}"),
        task_id: v1::TaskId {
            value: number.to_string(),
        },
        agent_id: agent_id.clone(),
        resources: vec![scalar("cpus", TASK_CPUS), scalar("mem", TASK_MEM)],
        command: Some(v1::CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Scheduler for Bench {
    fn resource_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::Offer]) {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        progress.held.extend(offers.iter().cloned());
        Self::launch_on_held(&mut progress, driver);
    }

    fn offer_rescinded(&mut self, _: &SchedulerDriver, offer_id: &v1::OfferId) {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        progress.held.retain(|offer| &offer.id != offer_id);
    }

    fn status_update(&mut self, driver: &SchedulerDriver, status: &v1::TaskStatus) {
        let now = Instant::now();
        let Ok(number) = status.task_id.value.parse::<usize>() else {
            return;
        };
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        if number >= progress.total {
            return;
        }
        let state = v1::TaskState::try_from(status.state).unwrap_or(v1::TaskState::TaskStaging);
        if state == v1::TaskState::TaskStarting {
            progress.starting[number].get_or_insert(now);
        } else if state == v1::TaskState::TaskRunning {
            if progress.running[number].is_none() {
                progress.running[number] = Some(now);
                progress.in_flight = progress.in_flight.saturating_sub(1);
            }
        } else if is_terminal(state) && progress.ended[number].is_none() {
            progress.ended[number] = Some(now);
            if progress.running[number].is_none() {
                progress.in_flight = progress.in_flight.saturating_sub(1);
            }
            if state != v1::TaskState::TaskFinished {
                let failure = format!(
                    "task {number}: {} {}",
                    state.as_str_name(),
                    status.message.as_deref().unwrap_or("")
                );
                progress.failures.push(failure);
            }
            progress.terminal += 1;
            if progress.terminal == progress.total {
                let _ = self.done.send(());
            }
        }
        Self::launch_on_held(&mut progress, driver);
    }

    fn error(&mut self, _: &SchedulerDriver, message: &str) {
        eprintln!("  framework error: {message}");
    }
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
