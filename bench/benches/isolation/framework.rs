//! The framework of one end-to-end measurement: it launches the tasks
//! (after one unmeasured warm-up task) and times their updates.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use meseta_core::scheduler::{is_terminal, Scheduler, SchedulerDriver};
use meseta_proto::resources::{scalar, scalar_total};
use meseta_proto::v1;

use crate::{percentile, TASK_CPUS, TASK_MEM};

/// The warm-up task's ID (the measured ones are numbered from 0).
const WARM_UP: &str = "warm-up";

/// What one measurement (one configuration, one round) found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    /// Tasks that reached TASK_RUNNING / (last TASK_RUNNING - first launch).
    pub launches_per_second: f64,
    pub starting_p50: f64,
    pub starting_p99: f64,
    pub running_p50: f64,
    pub running_p99: f64,
    pub finished_p50: f64,
    pub finished_p99: f64,
    /// CPU time per task in milliseconds: the agent's own, its containers'
    /// (the supervisors, inits and commands it reaped), the master's and
    /// the Docker engine's (dockerd and containerd; docker only, else NaN).
    pub agent_cpu: f64,
    pub containers_cpu: f64,
    pub master_cpu: f64,
    pub engine_cpu: f64,
    /// Tasks that ended other than TASK_FINISHED (the warm-up included).
    pub failed: usize,
    pub first_failure: Option<String>,
}

/// Where the warm-up task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WarmUp {
    /// Not launched yet: the first offer takes it.
    Pending,
    /// Launched; the measured tasks wait for its end.
    Running,
    Done,
}

/// The framework's view of one measurement.
#[derive(Debug)]
pub(crate) struct Progress {
    total: usize,
    /// At most this many tasks launched and not yet TASK_RUNNING.
    limit: usize,
    /// Every task's container (image and docker), or none.
    container: Option<v1::ContainerInfo>,
    warm_up: WarmUp,
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
    pub(crate) fn new(total: usize, limit: usize, container: Option<v1::ContainerInfo>) -> Self {
        Self {
            total,
            limit,
            container,
            warm_up: WarmUp::Pending,
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

    /// The latencies and throughput of the measured tasks.
    pub(crate) fn outcome(&self) -> Outcome {
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
            engine_cpu: f64::NAN,
            failed: self.failures.len(),
            first_failure: self.failures.first().cloned(),
            ..Outcome::default()
        }
    }

    fn task(&self, id: String, agent_id: &v1::AgentId) -> v1::TaskInfo {
        v1::TaskInfo {
            name: format!("true-{id}"),
            task_id: v1::TaskId { value: id },
            agent_id: agent_id.clone(),
            resources: vec![scalar("cpus", TASK_CPUS), scalar("mem", TASK_MEM)],
            // A shell command everywhere: `/bin/sh -c true`, the host's
            // shell for plain and isolated, the image's busybox sh for
            // image and docker.
            command: Some(v1::CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            }),
            container: self.container.clone(),
            ..Default::default()
        }
    }

    /// The warm-up task ended: the measured tasks may go.
    fn warmed_up(&mut self, status: &v1::TaskStatus, state: v1::TaskState) {
        if self.warm_up != WarmUp::Running || !is_terminal(state) {
            return;
        }
        self.warm_up = WarmUp::Done;
        if state != v1::TaskState::TaskFinished {
            self.failures.push(failure(WARM_UP, state, status));
        }
    }
}

fn failure(task: &str, state: v1::TaskState, status: &v1::TaskStatus) -> String {
    format!(
        "task {task}: {} {}",
        state.as_str_name(),
        status.message.as_deref().unwrap_or("")
    )
}

/// Launches on every offer as it comes, as many tasks as fit (and as the
/// in-flight limit allows), until all are launched; the warm-up task
/// first, alone, run to its end.
pub(crate) struct Bench {
    pub progress: Arc<Mutex<Progress>>,
    pub done: Sender<()>,
}

impl Bench {
    fn launch_on_held(progress: &mut Progress, driver: &SchedulerDriver) {
        // What is left of an offer comes back at the next allocation.
        let again = Some(v1::Filters {
            refuse_seconds: Some(0.0),
        });
        while let Some(offer) = progress.held.pop() {
            match progress.warm_up {
                WarmUp::Pending => {
                    let task = progress.task(WARM_UP.into(), &offer.agent_id);
                    progress.warm_up = WarmUp::Running;
                    driver.launch_tasks(std::slice::from_ref(&offer.id), vec![task], again);
                    continue;
                }
                WarmUp::Running => {
                    progress.held.push(offer);
                    return;
                }
                WarmUp::Done => {}
            }
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
            if count == 0 {
                driver.decline_offer(&offer.id, again);
                continue;
            }
            let first = progress.next;
            let tasks: Vec<v1::TaskInfo> = (first..first + count)
                .map(|number| progress.task(number.to_string(), &offer.agent_id))
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
        let state = v1::TaskState::try_from(status.state).unwrap_or(v1::TaskState::TaskStaging);
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        if status.task_id.value == WARM_UP {
            progress.warmed_up(status, state);
            Self::launch_on_held(&mut progress, driver);
            return;
        }
        let Ok(number) = status.task_id.value.parse::<usize>() else {
            return;
        };
        if number >= progress.total {
            return;
        }
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
                let failure = failure(&number.to_string(), state, status);
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
