//! `sim-agents`: many simulated agents in one process, attached to a real
//! master over its gRPC agent link, for measuring the master at scale
//! (registration storms, failovers, launch throughput) without running
//! thousands of real agents.
//!
//! Each simulated agent registers with `--resources`, answers pings, takes
//! the tasks it is given to TASK_RUNNING (and to TASK_FINISHED after
//! `--task-seconds`, when given), kills them when asked, and, when its
//! stream breaks (the leader died, a failover), waits a random time in
//! `[0, 1 s × 2^attempt]` as a real agent does and re-registers with the
//! leader with its ID and the tasks it runs. The leader is found once for
//! the whole process (`--master HOST:PORT` or `zk://…`), and the agents'
//! streams share a few HTTP/2 connections (`--agents-per-connection`), so
//! one process carries 40,000 agents within its open-file limit.
//!
//! Build and run:
//! `cargo build --release -p meseta-bench --bin sim-agents`
//! `target/release/sim-agents --master zk://127.0.0.1:2181/meseta --agents 40000`

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod link;

use bytes::Bytes;
use clap::Parser;
use meseta_coordination::detector::{Endpoint, MasterDetector};
use meseta_proto::cluster::{
    agent_message, master_message, AgentMessage, Pong, Register, StatusUpdate,
};
use meseta_proto::v1;
use rand::Rng;
use tokio::sync::{mpsc, watch, Notify};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// mimalloc: the load generator shares the machine with the master it
/// measures, and 40,000 agents re-registering spent most of their time in
/// glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Flags of `sim-agents`.
#[derive(Parser, Debug)]
#[command(about = "Simulated agents attached to a real Meseta (or Mesos-compatible) master")]
struct Args {
    /// The master: `HOST:PORT` or `zk://HOST:PORT/PATH` (leader changes are followed).
    #[arg(long)]
    master: String,
    /// How many agents to simulate.
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Each agent's resources.
    #[arg(
        long,
        default_value = "cpus:8;mem:16384;disk:100000;ports:[31000-32000]"
    )]
    resources: String,
    /// Tasks finish (TASK_FINISHED) this many seconds after they start; 0:
    /// they run until killed.
    #[arg(long, default_value_t = 0.0)]
    task_seconds: f64,
    /// Agents whose streams share one HTTP/2 connection.
    #[arg(long, default_value_t = 100)]
    agents_per_connection: usize,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds between progress lines on stderr.
    #[arg(long, default_value_t = 2.0)]
    report_every: f64,
}

/// Counters printed as progress.
#[derive(Default)]
struct Counters {
    registered: AtomicU64,
    registrations: AtomicU64,
    running: AtomicU64,
    launched: AtomicU64,
    finished: AtomicU64,
}

/// What all agents share: the leader, the connections, the counters.
struct Shared {
    leader: watch::Receiver<Option<Endpoint>>,
    /// Wakes the leader watch: an agent could not reach the leader.
    unreachable: Notify,
    connections: Vec<Mutex<Option<(Endpoint, Channel)>>>,
    counters: Counters,
    resources: Vec<v1::Resource>,
    task_seconds: Option<Duration>,
}

impl Shared {
    /// The connection `slot` to `leader`, made (lazily) on first use.
    fn channel(&self, slot: usize, leader: &Endpoint) -> Result<Channel, String> {
        let mut connection = self.connections[slot]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((endpoint, channel)) = connection.as_ref() {
            if endpoint == leader {
                return Ok(channel.clone());
            }
        }
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{leader}"))
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .connect_lazy();
        *connection = Some((leader.clone(), channel.clone()));
        Ok(channel)
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sim-agents: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sim-agents: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let resources = meseta_proto::resources::parse_resources(&args.resources)
        .map_err(|e| format!("bad --resources: {e}"))?;
    let detector = MasterDetector::new(&args.master).map_err(|e| format!("bad --master: {e}"))?;
    let (leader_tx, leader) = watch::channel(None);
    let slots = args
        .agents
        .div_ceil(args.agents_per_connection.max(1))
        .max(1);
    let shared = Arc::new(Shared {
        leader,
        unreachable: Notify::new(),
        connections: (0..slots).map(|_| Mutex::new(None)).collect(),
        counters: Counters::default(),
        resources,
        task_seconds: (args.task_seconds > 0.0).then(|| Duration::from_secs_f64(args.task_seconds)),
    });
    tokio::spawn(follow_leader(detector, leader_tx, Arc::clone(&shared)));
    eprintln!(
        "sim-agents: {} agents over {slots} connections to {}",
        args.agents, args.master
    );
    for index in 0..args.agents {
        tokio::spawn(agent(Arc::clone(&shared), index, index % slots));
    }
    let report = tokio::spawn(report(Arc::clone(&shared), args.agents, args.report_every));
    match args.duration {
        Some(seconds) => tokio::time::sleep(Duration::from_secs_f64(seconds)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    report.abort();
    print_progress(&shared, args.agents);
    Ok(())
}

/// Keeps `leader` current: detected once, again whenever an agent could not
/// reach it.
async fn follow_leader(
    mut detector: MasterDetector,
    leader: watch::Sender<Option<Endpoint>>,
    shared: Arc<Shared>,
) {
    loop {
        match detector.detect().await {
            Ok(found) => {
                // Agents wake on a new leader only, not on the same one again.
                leader.send_if_modified(|current| {
                    if current.as_ref() == Some(&found) {
                        return false;
                    }
                    eprintln!("sim-agents: the leading master is {found}");
                    *current = Some(found.clone());
                    true
                });
                shared.unreachable.notified().await;
                detector.failed(&found);
            }
            Err(error) => {
                eprintln!("sim-agents: cannot find the leading master: {error}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn report(shared: Arc<Shared>, agents: usize, every: f64) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(every.max(0.1)));
    loop {
        tick.tick().await;
        print_progress(&shared, agents);
    }
}

fn print_progress(shared: &Shared, agents: usize) {
    let c = &shared.counters;
    eprintln!(
        "sim-agents: {}/{agents} registered ({} registrations), {} tasks running, {} launched, {} finished",
        c.registered.load(Ordering::Relaxed),
        c.registrations.load(Ordering::Relaxed),
        c.running.load(Ordering::Relaxed),
        c.launched.load(Ordering::Relaxed),
        c.finished.load(Ordering::Relaxed),
    );
}

/// One simulated agent's state across its sessions with masters.
struct Agent {
    index: usize,
    id: Option<v1::AgentId>,
    /// Tasks it runs, by ID, as the master will be told on re-registration.
    tasks: BTreeMap<String, v1::Task>,
    frameworks: BTreeMap<String, v1::FrameworkInfo>,
    /// Its `Register`, encoded, while its ID, tasks and frameworks stay
    /// as they were.
    register: Option<Bytes>,
}

impl Agent {
    /// Its registration as it stands, encoded (once per change).
    fn register(&mut self, shared: &Shared) -> Bytes {
        if let Some(encoded) = &self.register {
            return encoded.clone();
        }
        let register = Register {
            info: v1::AgentInfo {
                hostname: format!("sim-{}", self.index),
                resources: shared.resources.clone(),
                id: self.id.clone(),
                ..Default::default()
            },
            tasks: self.tasks.values().cloned().collect(),
            frameworks: self.frameworks.values().cloned().collect(),
            http_address: Some(format!("127.0.0.1:{}", 1024 + self.index % 60000)),
            ..Default::default()
        };
        let encoded = link::encoded(&AgentMessage {
            kind: Some(agent_message::Kind::Register(register)),
        });
        self.register = Some(encoded.clone());
        encoded
    }

    /// Its ID, tasks or frameworks changed.
    fn changed(&mut self) {
        self.register = None;
    }
}

async fn agent(shared: Arc<Shared>, index: usize, slot: usize) {
    let mut me = Agent {
        index,
        id: None,
        tasks: BTreeMap::new(),
        frameworks: BTreeMap::new(),
        register: None,
    };
    let mut leader = shared.leader.clone();
    let mut attempt = 0u32;
    loop {
        let current = match leader.wait_for(Option::is_some).await {
            Ok(current) => current.clone(),
            Err(_) => return,
        };
        let Some(current) = current else { continue };
        leader.mark_unchanged();
        let registered = session(&shared, &mut me, slot, &current).await;
        if registered {
            shared.counters.registered.fetch_sub(1, Ordering::Relaxed);
            attempt = 0;
        } else {
            shared.unreachable.notify_one();
        }
        // As a real agent: a random wait in [0, 1 s × 2^attempt], at most a
        // minute; a new leader starts the count again.
        let bound = Duration::from_secs(1u64 << attempt.min(6)).min(Duration::from_secs(60));
        attempt = attempt.saturating_add(1);
        let delay = bound.mul_f64(rand::rng().random_range(0.0..=1.0));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            changed = leader.changed() => {
                if changed.is_err() {
                    return;
                }
                attempt = 0;
                let first = Duration::from_secs(1).mul_f64(rand::rng().random_range(0.0..=1.0));
                tokio::time::sleep(first).await;
            }
        }
    }
}

/// One stream with the master; true when the agent was registered on it.
async fn session(shared: &Arc<Shared>, me: &mut Agent, slot: usize, leader: &Endpoint) -> bool {
    let Ok(channel) = shared.channel(slot, leader) else {
        return false;
    };
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    if tx.send(me.register(shared)).await.is_err() {
        return false;
    }
    shared
        .counters
        .registrations
        .fetch_add(1, Ordering::Relaxed);
    let Ok(mut inbound) = link::attach(channel, ReceiverStream::new(rx)).await else {
        return false;
    };
    let mut registered = false;
    let (finish_tx, mut finishes) = mpsc::unbounded_channel::<(String, String)>();
    loop {
        let message = tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(message)) => message,
                _ => return registered,
            },
            Some((framework_id, task_id)) = finishes.recv() => {
                if me.tasks.remove(&task_id).is_some() {
                    me.changed();
                    shared.counters.running.fetch_sub(1, Ordering::Relaxed);
                    shared.counters.finished.fetch_add(1, Ordering::Relaxed);
                    let _ = tx.send(link::encoded(&update(&framework_id, &task_id, v1::TaskState::TaskFinished))).await;
                }
                continue;
            }
        };
        match message.kind {
            Some(master_message::Kind::Registered(done)) => {
                if !registered {
                    registered = true;
                    shared.counters.registered.fetch_add(1, Ordering::Relaxed);
                }
                if me.id.as_ref() != Some(&done.agent_id) {
                    me.id = Some(done.agent_id);
                    me.changed();
                }
            }
            Some(master_message::Kind::RunTasks(run)) => {
                let framework_id = run.framework.id.clone().unwrap_or_default();
                me.changed();
                me.frameworks
                    .insert(framework_id.value.clone(), run.framework.clone());
                for info in run.tasks {
                    let task_id = info.task_id.value.clone();
                    me.tasks.insert(
                        task_id.clone(),
                        task_of(&info, &framework_id, me.id.clone()),
                    );
                    shared.counters.launched.fetch_add(1, Ordering::Relaxed);
                    shared.counters.running.fetch_add(1, Ordering::Relaxed);
                    let running = update(&framework_id.value, &task_id, v1::TaskState::TaskRunning);
                    if tx.send(link::encoded(&running)).await.is_err() {
                        return registered;
                    }
                    if let Some(after) = shared.task_seconds {
                        let finish = finish_tx.clone();
                        let framework = framework_id.value.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            let _ = finish.send((framework, task_id));
                        });
                    }
                }
            }
            Some(master_message::Kind::KillTask(kill)) => {
                if me.tasks.remove(&kill.task_id.value).is_some() {
                    me.changed();
                    shared.counters.running.fetch_sub(1, Ordering::Relaxed);
                }
                let killed = update(
                    &kill.framework_id.value,
                    &kill.task_id.value,
                    v1::TaskState::TaskKilled,
                );
                let _ = tx.send(link::encoded(&killed)).await;
            }
            Some(master_message::Kind::ShutdownFramework(shutdown)) => {
                let ended: Vec<String> = me
                    .tasks
                    .iter()
                    .filter(|(_, t)| t.framework_id == shutdown.framework_id)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in ended {
                    me.tasks.remove(&id);
                    shared.counters.running.fetch_sub(1, Ordering::Relaxed);
                }
                me.frameworks.remove(&shutdown.framework_id.value);
                me.changed();
            }
            Some(master_message::Kind::Ping(ping)) => {
                let pong = AgentMessage {
                    kind: Some(agent_message::Kind::Pong(Pong {
                        sequence: ping.sequence,
                    })),
                };
                let _ = tx.send(link::encoded(&pong)).await;
            }
            Some(master_message::Kind::Refused(refused)) => {
                eprintln!(
                    "sim-agents: agent {} refused: {}; registering anew",
                    me.index,
                    refused.reason.unwrap_or_default()
                );
                me.id = None;
                me.tasks.clear();
                me.changed();
                return registered;
            }
            _ => {}
        }
    }
}

/// The task as the agent reports it when it re-registers.
fn task_of(
    info: &v1::TaskInfo,
    framework: &v1::FrameworkId,
    agent: Option<v1::AgentId>,
) -> v1::Task {
    v1::Task {
        name: info.name.clone(),
        task_id: info.task_id.clone(),
        framework_id: framework.clone(),
        agent_id: agent.unwrap_or_else(|| info.agent_id.clone()),
        state: v1::TaskState::TaskRunning as i32,
        resources: info.resources.clone(),
        ..Default::default()
    }
}

fn update(framework_id: &str, task_id: &str, state: v1::TaskState) -> AgentMessage {
    AgentMessage {
        kind: Some(agent_message::Kind::StatusUpdate(StatusUpdate {
            framework_id: v1::FrameworkId {
                value: framework_id.to_string(),
            },
            status: v1::TaskStatus {
                task_id: v1::TaskId {
                    value: task_id.to_string(),
                },
                state: state as i32,
                uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                source: Some(v1::task_status::Source::Executor as i32),
                ..Default::default()
            },
            latest_state: Some(state as i32),
        })),
    }
}
