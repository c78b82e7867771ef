//! One real master (`meseta master`, release) with many agents simulated
//! by `sim-agents` over real gRPC, and one framework on the Rust client
//! core:
//!
//! * **launch**: the framework launches `tasks` tasks into its offers as
//!   fast as they come; reported are tasks per second (first ACCEPT to last
//!   TASK_RUNNING) and the latency of each task from its ACCEPT to its
//!   TASK_RUNNING (median, p99, max);
//! * **offers under /master/state load**: the framework declines every
//!   offer for 50 ms; offers per second are counted for a while, then again
//!   while 10 clients fetch `/master/state` in a loop (the endpoint is
//!   rendered outside the master's loop, from a snapshot, at a lower
//!   priority), side by side in one run: once with the clients at normal
//!   priority, competing for this machine's cores with the master, the
//!   framework and `sim-agents`, and once at nice 19, standing for readers
//!   on other machines; also the leader's resident memory.
//!
//! Run: `bench/scale.sh` (builds the release binaries), or
//! `MESETA_BINARY=$PWD/target/release/meseta cargo bench -p meseta-bench --bench scale`.
//! `MESETA_BENCH_SCALE_AGENTS` (default 10000), `MESETA_BENCH_SCALE_TASKS`
//! (default 100000), `MESETA_BENCH_SCALE_RATE` (launches per second at
//! most; default 0, as fast as offers come, which measures throughput; a
//! rate below it measures latency at that load) and
//! `MESETA_BENCH_SCALE_SECONDS` (each offer window, default 10) and
//! `MESETA_BENCH_SCALE_ROUNDS` (pairs of loaded windows, default 1)
//! change the shape; `MESETA_BENCH_READERS_CGROUP` (a cgroup v1 `cpu` directory)
//! puts the readers there, e.g. with a small `cpu.shares`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{get, held_task, metric, resident_kib, KillOnDrop};
use meseta::launcher::{Cluster, ClusterSpec};
use meseta_core::scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
use meseta_proto::v1;

const TASK_CPUS: f64 = 0.1;
const TASK_MEM: f64 = 32.0;
const FETCHERS: usize = 10;

/// Clients fetching `/master/state` in a loop, each on a thread at the
/// given nice value: at 19, they stand for readers on other machines (here
/// they share the master's two cores, and their reading is not the
/// master's cost); at 0, they compete with the master as they are.
struct StateReaders {
    stop: Arc<AtomicBool>,
    fetched: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl StateReaders {
    fn start(address: &str, nice: i32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let fetched = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let threads = (0..FETCHERS)
            .map(|_| {
                let (stop, fetched, bytes, address) = (
                    Arc::clone(&stop),
                    Arc::clone(&fetched),
                    Arc::clone(&bytes),
                    address.to_string(),
                );
                std::thread::spawn(move || {
                    // SAFETY: plain integers in and out; with a thread ID,
                    // PRIO_PROCESS sets that thread's nice value.
                    unsafe {
                        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice);
                    }
                    join_readers_cgroup();
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(response) =
                            get(&address, "/master/state", Duration::from_secs(60))
                        {
                            fetched.fetch_add(1, Ordering::Relaxed);
                            bytes.store(response.len() as u64, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            fetched,
            bytes,
            threads,
        }
    }

    /// Stops them: fetches done, and the size of the last document in MB.
    fn stop(self) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
        (
            self.fetched.load(Ordering::Relaxed) as f64,
            self.bytes.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }
}

/// With `MESETA_BENCH_READERS_CGROUP` (a cgroup v1 `cpu` directory, e.g.
/// one with `cpu.shares` 2), the calling reader thread moves there.
fn join_readers_cgroup() {
    let Some(dir) = std::env::var_os("MESETA_BENCH_READERS_CGROUP") else {
        return;
    };
    // SAFETY: gettid takes nothing and cannot fail.
    let thread = unsafe { libc::gettid() };
    let tasks = std::path::Path::new(&dir).join("tasks");
    if let Err(error) = std::fs::write(&tasks, thread.to_string()) {
        eprintln!(
            "scale: cannot move a reader to {}: {error}",
            tasks.display()
        );
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the framework saw, shared with the bench's thread.
#[derive(Default)]
struct Shared {
    /// Tasks still to launch.
    to_launch: AtomicU64,
    /// Launches per second at most (0: as fast as offers come).
    rate: u64,
    launched: AtomicU64,
    next_id: AtomicU64,
    sent: Mutex<HashMap<String, Instant>>,
    latencies: Mutex<Vec<Duration>>,
    first_accept: Mutex<Option<Instant>>,
    last_running: Mutex<Option<Instant>>,
    offers: AtomicU64,
    /// Times the framework had to subscribe again (the master drops a
    /// stream whose reader falls 16,384 events behind).
    resubscribed: AtomicU64,
}

struct Launcher(Arc<Shared>);

impl Scheduler for Launcher {
    fn reregistered(&mut self, _: &SchedulerDriver, _: &v1::MasterInfo) {
        self.0.resubscribed.fetch_add(1, Ordering::Relaxed);
    }

    fn resource_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::Offer]) {
        let shared = &self.0;
        for offer in offers {
            shared.offers.fetch_add(1, Ordering::Relaxed);
            let scalar = |name: &str| -> f64 {
                offer
                    .resources
                    .iter()
                    .filter(|r| r.name == name)
                    .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
                    .sum()
            };
            let fit = (scalar("cpus") / TASK_CPUS).min(scalar("mem") / TASK_MEM) as u64;
            let mut take = fit.min(shared.to_launch.load(Ordering::Relaxed));
            if shared.rate > 0 {
                let started = *shared
                    .first_accept
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(Instant::now);
                let allowed = (started.elapsed().as_secs_f64() * shared.rate as f64) as u64 + fit;
                take = take.min(allowed.saturating_sub(shared.launched.load(Ordering::Relaxed)));
            }
            let filters = filters_short();
            if take == 0 {
                // Held back by the pace: this agent is not needed for a while.
                let paced = shared.to_launch.load(Ordering::Relaxed) > 0;
                let filters = paced.then_some(v1::Filters {
                    refuse_seconds: Some(1.0),
                });
                driver.decline_offer(&offer.id, filters.or(filters_short()));
                continue;
            }
            shared.to_launch.fetch_sub(take, Ordering::Relaxed);
            shared.launched.fetch_add(take, Ordering::Relaxed);
            let now = Instant::now();
            let mut sent = shared.sent.lock().unwrap_or_else(|e| e.into_inner());
            let tasks = (0..take)
                .map(|_| {
                    let id = format!("t{}", shared.next_id.fetch_add(1, Ordering::Relaxed));
                    sent.insert(id.clone(), now);
                    held_task(&id, &offer.agent_id, TASK_CPUS, TASK_MEM)
                })
                .collect();
            drop(sent);
            shared
                .first_accept
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(now);
            driver.launch_tasks(std::slice::from_ref(&offer.id), tasks, filters);
        }
    }

    fn status_update(&mut self, _: &SchedulerDriver, status: &v1::TaskStatus) {
        if status.state != v1::TaskState::TaskRunning as i32 {
            return;
        }
        let now = Instant::now();
        let sent = self
            .0
            .sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&status.task_id.value);
        if let Some(sent) = sent {
            self.0
                .latencies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(now - sent);
            *self
                .0
                .last_running
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(now);
        }
    }
}

/// Offers declined once every task runs come back quickly, so that offers
/// flow as fast as the master makes them.
fn filters_short() -> Option<v1::Filters> {
    Some(v1::Filters {
        refuse_seconds: Some(0.05),
    })
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at].as_secs_f64() * 1000.0
}

fn main() {
    let Some(binary) = std::env::var_os("MESETA_BINARY").map(PathBuf::from) else {
        eprintln!("scale bench: set MESETA_BINARY to a built release `meseta` (bench/scale.sh does); skipped");
        return;
    };
    let agents = env("MESETA_BENCH_SCALE_AGENTS", 10_000);
    let tasks = env("MESETA_BENCH_SCALE_TASKS", 100_000);
    let window = Duration::from_secs(env("MESETA_BENCH_SCALE_SECONDS", 10));
    let root = tempfile::tempdir().expect("temp dir");
    let mut spec = ClusterSpec::new(&binary, root.path(), 0);
    spec.master_args = vec!["--allocation-interval".into(), "100ms".into()];
    let cluster = Cluster::start(spec).expect("master starts");
    let address = cluster.master.address.clone();
    let tool = binary.with_file_name("sim-agents");
    let _agents = KillOnDrop(
        std::process::Command::new(&tool)
            .args(["--master", &address, "--agents", &agents.to_string()])
            .args(["--resources", "cpus:8;mem:16384", "--report-every", "3600"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} (build it first): {e}", tool.display())),
    );
    let registering = Instant::now();
    wait_until("every agent registered", Duration::from_secs(300), || {
        metric(&address, "master/slaves_active") == Some(agents)
    });
    println!(
        "scale: one master, {agents} simulated agents (8 cpus, 16 GiB each), registered in {:.1} s",
        registering.elapsed().as_secs_f64()
    );

    let shared = Arc::new(Shared {
        rate: env("MESETA_BENCH_SCALE_RATE", 0),
        ..Shared::default()
    });
    shared.to_launch.store(tasks, Ordering::Relaxed);
    let framework = v1::FrameworkInfo {
        user: "root".into(),
        name: "scale-bench".into(),
        failover_timeout: Some(3600.0),
        ..Default::default()
    };
    let driver = SchedulerDriver::new(
        Launcher(Arc::clone(&shared)),
        SchedulerConfig::new(address.as_str(), framework),
    );
    driver.start();
    wait_until("every task running", Duration::from_secs(600), || {
        // Launches in flight when the stream broke are lost; the count
        // would never be reached.
        assert_eq!(
            shared.resubscribed.load(Ordering::Relaxed),
            0,
            "the master dropped the framework's stream during the launch (it fell a whole queue of events behind)"
        );
        shared.latencies.lock().map(|l| l.len() as u64).unwrap_or(0) >= tasks
    });
    let mut latencies = shared
        .latencies
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort_unstable();
    let first = shared.first_accept.lock().ok().and_then(|f| *f);
    let last = shared.last_running.lock().ok().and_then(|l| *l);
    let seconds = match (first, last) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => f64::NAN,
    };
    println!(
        "  launch: {tasks} tasks in {seconds:.2} s = {:.0} tasks/s; ACCEPT -> TASK_RUNNING ms: median {:.0}, p99 {:.0}, max {:.0}; subscribed again {} times",
        tasks as f64 / seconds,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        shared.resubscribed.load(Ordering::Relaxed)
    );
    if let Some(mib) = cluster
        .master
        .pid()
        .and_then(resident_kib)
        .map(|k| k as f64 / 1024.0)
    {
        println!(
            "  master resident memory: {mib:.0} MiB ({:.1} KiB per agent with its {} tasks)",
            mib * 1024.0 / agents as f64,
            tasks / agents.max(1)
        );
    }

    let offers_in = |window: Duration| {
        let before = shared.offers.load(Ordering::Relaxed);
        std::thread::sleep(window);
        (shared.offers.load(Ordering::Relaxed) - before) as f64 / window.as_secs_f64()
    };
    // Quiet and loaded windows alternate; each loaded one is set against
    // the mean of the quiet ones on either side (the rate drifts).
    // The launch leaves work behind (updates, acknowledgements): quiet
    // windows until two in a row agree within 15 % (at most six).
    let mut before = offers_in(window);
    for _ in 0..5 {
        let next = offers_in(window);
        let settled = (next - before).abs() <= 0.15 * next.max(before);
        before = next;
        if settled {
            break;
        }
    }
    let rounds = env("MESETA_BENCH_SCALE_ROUNDS", 1) as usize;
    for readers_nice in [0, 19].repeat(rounds) {
        let load = StateReaders::start(&address, readers_nice);
        let loaded = offers_in(window);
        let (fetches, megabytes) = load.stop();
        let after = offers_in(window);
        let quiet = (before + after) / 2.0;
        println!(
            "  offers/s: {quiet:.0} alone ({before:.0} before, {after:.0} after), {loaded:.0} while {FETCHERS} clients (nice {readers_nice}) fetch /master/state ({:.1} fetches/s of {megabytes:.0} MB) = {:.2} of the rate",
            fetches / window.as_secs_f64(),
            loaded / quiet
        );
        before = after;
    }
    driver.stop(false);
}
