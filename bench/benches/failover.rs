//! Master failover time with real processes: three `meseta master`s elected
//! through a real ZooKeeper server, two agents, and one framework on the
//! Rust client core that finds the leader through `zk://`.
//!
//! Each run kills the leader with SIGKILL and measures, from the kill:
//! * **re-subscribed**: the framework's `reregistered` callback (the new
//!   leader accepted its SUBSCRIBE with its FrameworkID);
//! * **first offer**: the first offer made by the new leader (agents have
//!   re-registered with it and the allocator ran).
//!
//! The killed master is then restarted as a follower, so every run starts
//! from three masters. Both figures include the ZooKeeper session timeout:
//! the dead leader's node only disappears when its session expires, which
//! is why the bench runs with Mesos's default (10 s) and a short one.
//!
//! Run through `bench/failover.sh` (builds the release binary first), or
//! `MESETA_BINARY=$PWD/target/release/meseta cargo bench -p meseta-bench --bench failover`
//! (an absolute path: benches run from `bench/`).
//! `MESETA_BENCH_RUNS` (default 5) and `MESETA_BENCH_ZK_SESSIONS` (default
//! `2secs,10secs`) change the shape. `MESETA_BENCH_SIM_AGENTS=40000` adds
//! that many simulated agents (`sim-agents`, built next to the binary:
//! `cargo build --release -p meseta-bench --bin sim-agents`) and a third
//! figure: **all agents back**, when the new leader has every agent
//! re-registered. `MESETA_BENCH_SIM_TASKS=400000` first launches that many
//! tasks onto the simulated agents (they stay running), so that "all
//! agents back" also means every task is back in the new leader's books;
//! the leader's resident memory is printed before the first kill.
//! `MESETA_BENCH_SIM_NICE=19` runs `sim-agents` at that nice value: the
//! agents then take only the CPU the masters leave, as agents on their own
//! machines would (on this 2-core machine, 40,000 of them re-registering
//! take about 40 % of it at nice 0).
//! `MESETA_BENCH_KEEP=1` keeps the masters' logs and work directories.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

mod common;

use common::{held_task, metric, metric_in, metrics, resident_kib, KillOnDrop};
use meseta::launcher::{Cluster, ClusterSpec};
use meseta::zookeeper::ZooKeeper;
use meseta_core::scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
use meseta_proto::v1;

const DEADLINE: Duration = Duration::from_secs(90);

enum Ev {
    Registered,
    Reregistered,
    Offers(Vec<v1::Offer>),
}

struct Recorder(Sender<(Instant, Ev)>);

impl Scheduler for Recorder {
    fn registered(&mut self, _: &SchedulerDriver, _: &v1::FrameworkId, _: &v1::MasterInfo) {
        let _ = self.0.send((Instant::now(), Ev::Registered));
    }
    fn reregistered(&mut self, _: &SchedulerDriver, _: &v1::MasterInfo) {
        let _ = self.0.send((Instant::now(), Ev::Reregistered));
    }
    fn resource_offers(&mut self, _: &SchedulerDriver, offers: &[v1::Offer]) {
        let _ = self.0.send((Instant::now(), Ev::Offers(offers.to_vec())));
    }
}

fn main() {
    let binary = match std::env::var_os("MESETA_BINARY") {
        Some(path) => PathBuf::from(path),
        None => {
            eprintln!("failover bench: set MESETA_BINARY to a built `meseta` (bench/failover.sh does); skipped");
            return;
        }
    };
    if let Some(reason) = ZooKeeper::unavailable() {
        eprintln!("failover bench: ZooKeeper cannot run here ({reason}); skipped");
        return;
    }
    let runs = env_number("MESETA_BENCH_RUNS", 5);
    let sessions =
        std::env::var("MESETA_BENCH_ZK_SESSIONS").unwrap_or_else(|_| "2secs,10secs".into());
    let shape = Shape {
        simulated: env_number("MESETA_BENCH_SIM_AGENTS", 0),
        tasks: env_number("MESETA_BENCH_SIM_TASKS", 0),
        sim_nice: env_number("MESETA_BENCH_SIM_NICE", 0),
    };
    let Shape {
        simulated,
        sim_nice,
        ..
    } = shape;
    println!("master failover: 3 masters, 2 agents (+{simulated} simulated), 1 framework via zk://; SIGKILL the leader, {runs} runs each{}",
        if simulated > 0 { format!("; sim-agents at nice {sim_nice}") } else { String::new() });
    println!(
        "{:>12} {:>26} {:>26} {:>26}",
        "zk session",
        "re-subscribed s (median, min-max)",
        "first offer s (median, min-max)",
        "all agents back s"
    );
    for session in sessions.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (resubscribed, offered, all_back) = scenario(&binary, session, runs, &shape);
        println!(
            "{:>12} {:>26} {:>26} {:>26}",
            session,
            summary(&resubscribed),
            summary(&offered),
            summary(&all_back)
        );
    }
}

fn summary(samples: &[Duration]) -> String {
    let mut secs: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
    secs.sort_by(f64::total_cmp);
    if secs.is_empty() {
        return "-".into();
    }
    format!(
        "{:.2} ({:.2}-{:.2})",
        secs[secs.len() / 2],
        secs[0],
        secs[secs.len() - 1]
    )
}

fn elected(cluster: &mut Cluster) -> Option<usize> {
    let addresses: Vec<String> = cluster.masters_mut().map(|m| m.address.clone()).collect();
    let flags: Vec<bool> = addresses
        .iter()
        .map(|a| metrics(a).is_some_and(|m| m.contains("\"master/elected\":1")))
        .collect();
    (flags.iter().filter(|f| **f).count() == 1)
        .then(|| flags.iter().position(|f| *f))
        .flatten()
}

/// The number of active agents a master reports.
fn active_agents(address: &str) -> Option<usize> {
    metric(address, "master/slaves_active").map(|n| n as usize)
}

/// Every agent and every task is in the master's books (one metrics
/// request: the master renders them inside its loop).
fn everything_back(address: &str, agents: usize, tasks: usize) -> bool {
    let Some(text) = metrics(address) else {
        return false;
    };
    metric_in(&text, "master/slaves_active") == Some(agents as u64)
        && (tasks == 0 || metric_in(&text, "master/tasks_running") == Some(tasks as u64))
}

fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        // Each poll makes the master walk its tasks inside its loop: often
        // enough for the figures' resolution, not so often that the poll
        // slows what it measures.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The simulated load: agents, the tasks they hold, and `sim-agents`' nice
/// value.
struct Shape {
    simulated: usize,
    tasks: usize,
    sim_nice: usize,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn scenario(
    binary: &PathBuf,
    session: &str,
    runs: usize,
    shape: &Shape,
) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let &Shape {
        simulated,
        tasks,
        sim_nice,
    } = shape;
    let mut root = tempfile::tempdir().expect("temp dir");
    if std::env::var_os("MESETA_BENCH_KEEP").is_some() {
        root.disable_cleanup(true);
        println!("  logs kept under {}", root.path().display());
    }
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let zk = zookeeper.url("/meseta");
    let mut spec = ClusterSpec::new(binary, root.path(), 2);
    spec.masters = 3;
    spec.zk = Some(zk.clone());
    spec.agent_resources = Some("cpus:1;mem:256".into());
    spec.master_args = [
        "--allocation-interval",
        "100ms",
        "--zk-session-timeout",
        session,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut cluster = Cluster::start(spec).expect("cluster starts");
    wait_for("a leader", || elected(&mut cluster));
    let agents = simulated + 2;
    let _simulated = (simulated > 0).then(|| {
        let tool = binary.with_file_name("sim-agents");
        let child = std::process::Command::new("nice")
            .args(["-n", &sim_nice.to_string()])
            .arg(&tool)
            .args(["--master", &zk, "--agents", &simulated.to_string()])
            .args(["--resources", "cpus:8;mem:16384", "--report-every", "3600"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} (build it first): {e}", tool.display()));
        KillOnDrop(child)
    });
    let leader_address = |cluster: &mut Cluster, index: usize| {
        cluster
            .masters_mut()
            .nth(index)
            .map(|m| m.address.clone())
            .unwrap_or_default()
    };
    let first = wait_for("a leader", || elected(&mut cluster));
    let address = leader_address(&mut cluster, first);
    wait_for("every agent registered", || {
        (active_agents(&address) == Some(agents)).then_some(())
    });

    let (tx, events): (_, Receiver<(Instant, Ev)>) = channel();
    let framework = v1::FrameworkInfo {
        user: "root".into(),
        name: "failover-bench".into(),
        failover_timeout: Some(3600.0),
        ..Default::default()
    };
    let driver = SchedulerDriver::new(Recorder(tx), SchedulerConfig::new(zk.as_str(), framework));
    driver.start();
    let decline = |offers: Vec<v1::Offer>| {
        for offer in offers {
            driver.decline_offer(
                &offer.id,
                Some(v1::Filters {
                    refuse_seconds: Some(0.05),
                }),
            );
        }
    };
    let next = |what: &str| -> (Instant, Ev) {
        events
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    };
    loop {
        match next("registration") {
            (_, Ev::Registered) => break,
            (_, Ev::Offers(ids)) => decline(ids),
            _ => {}
        }
    }
    if tasks > 0 {
        // Ten tasks per simulated agent's offer until `tasks` run.
        let started = Instant::now();
        let mut launched = 0;
        while launched < tasks {
            let (_, event) = next("offers to launch into");
            let Ev::Offers(offers) = event else { continue };
            for offer in offers {
                let room = (tasks - launched).min(10);
                if room == 0 || !offer.hostname.starts_with("sim-") {
                    driver.decline_offer(&offer.id, None);
                    continue;
                }
                let batch = (launched..launched + room)
                    .map(|n| held_task(&format!("held-{n}"), &offer.agent_id, 0.5, 512.0))
                    .collect();
                launched += room;
                driver.launch_tasks(std::slice::from_ref(&offer.id), batch, None);
            }
        }
        let end = Instant::now() + DEADLINE * 5;
        while metric(&address, "master/tasks_running") != Some(tasks as u64) {
            assert!(
                Instant::now() < end,
                "timed out waiting for {tasks} tasks running"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        println!(
            "  {tasks} tasks launched and running in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if let Some(kib) = cluster
        .masters_mut()
        .nth(first)
        .and_then(|m| m.pid())
        .and_then(resident_kib)
    {
        println!(
            "  leader resident memory: {:.0} MiB ({:.1} KiB per agent with its tasks)",
            kib as f64 / 1024.0,
            kib as f64 / agents as f64
        );
    }

    let mut resubscribed = Vec::new();
    let mut offered = Vec::new();
    let mut all_back = Vec::new();
    for _ in 0..runs {
        let leader = wait_for("a leader", || elected(&mut cluster));
        // Offers made before the kill are drained first.
        while let Ok((_, event)) = events.try_recv() {
            if let Ev::Offers(ids) = event {
                decline(ids);
            }
        }
        let killed = Instant::now();
        if let Some(process) = cluster.masters_mut().nth(leader) {
            process.kill();
        }
        let (mut back, mut offer) = (None, None);
        while back.is_none() || offer.is_none() {
            match next("the framework to re-subscribe and get an offer") {
                (at, Ev::Reregistered) => back = Some(at - killed),
                (at, Ev::Offers(ids)) => {
                    if back.is_some() && offer.is_none() {
                        offer = Some(at - killed);
                    }
                    decline(ids);
                }
                _ => {}
            }
        }
        resubscribed.extend(back);
        offered.extend(offer);
        let successor = wait_for("a new leader", || {
            elected(&mut cluster).filter(|index| *index != leader)
        });
        let address = leader_address(&mut cluster, successor);
        wait_for("every agent back", || {
            everything_back(&address, agents, tasks).then_some(())
        });
        all_back.push(killed.elapsed());
        cluster.restart_master(leader).expect("master restarts");
    }
    driver.stop(false);
    (resubscribed, offered, all_back)
}
