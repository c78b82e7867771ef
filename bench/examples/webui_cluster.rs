//! A large simulated cluster for measuring the web UI (`bench/webui.py`
//! drives it): against a real `meseta master` process, N simulated agents
//! register over gRPC (as in `benches/launch.rs`: a stream and a loop, no
//! processes, every launched task answered at once with TASK_RUNNING) and
//! one framework on the Rust client core spreads M small tasks over them.
//!
//! Prints one JSON line on stdout when every task runs, then takes
//! commands on stdin, one a line:
//!
//! * `burst N`: N running tasks end (TASK_FINISHED from their agents) at
//!   once; prints `{"event":"burst","count":N,"sent_at":UNIX_SECONDS}`
//!   once every update has been handed to the agents' streams.
//! * `stop` (or EOF): exits.
//!
//! Run: `cargo build -p meseta-bench --example webui_cluster`, then
//! `target/debug/examples/webui_cluster --master HOST:PORT --agents 10000 --tasks 100000`.

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meseta_core::scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
use meseta_proto::cluster::{
    agent_link_client::AgentLinkClient, agent_message, master_message, AgentMessage, Pong,
    Register, StatusUpdate,
};
use meseta_proto::v1;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

const TASK_CPUS: f64 = 0.1;
const TASK_MEM: f64 = 32.0;
/// Simulated agents dialling the master at once.
const DIALLING: usize = 100;

/// A task some simulated agent runs, and how to reach that agent's stream.
struct Running {
    agent: mpsc::UnboundedSender<AgentMessage>,
    framework_id: v1::FrameworkId,
    task_id: v1::TaskId,
}

#[derive(Default)]
struct Shared {
    running: Mutex<Vec<Running>>,
    acked: AtomicU64,
    registered: AtomicU64,
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn main() {
    let master = arg("--master", "127.0.0.1:5050");
    let agents: usize = arg("--agents", "10000").parse().expect("--agents N");
    let tasks: u64 = arg("--tasks", "100000").parse().expect("--tasks N");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let shared = Arc::new(Shared::default());
    let started = Instant::now();
    runtime.block_on(async {
        // Dialling is paced: ten thousand connections at once see resets.
        let dialling = Arc::new(tokio::sync::Semaphore::new(DIALLING));
        for index in 0..agents {
            tokio::spawn(simulated_agent(
                master.clone(),
                index,
                shared.clone(),
                dialling.clone(),
            ));
        }
        while (shared.registered.load(Ordering::Relaxed) as usize) < agents {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    eprintln!(
        "webui_cluster: {agents} agents attached in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let per_offer = tasks.div_ceil(agents.max(1) as u64).max(1);
    let framework = Launcher {
        remaining: tasks,
        next_id: 0,
        per_offer,
    };
    let info = v1::FrameworkInfo {
        user: "bench".into(),
        name: "webui-bench".into(),
        ..Default::default()
    };
    let driver = SchedulerDriver::new(framework, SchedulerConfig::new(master.clone(), info));
    driver.start();
    let launch_started = Instant::now();
    let mut last = Instant::now();
    while shared.acked.load(Ordering::Relaxed) < tasks {
        std::thread::sleep(Duration::from_millis(20));
        if last.elapsed() > Duration::from_secs(5) {
            last = Instant::now();
            eprintln!(
                "webui_cluster: {} of {tasks} tasks running",
                shared.acked.load(Ordering::Relaxed)
            );
        }
    }
    driver.suppress_offers();
    println!(
        "{{\"event\":\"ready\",\"agents\":{agents},\"tasks\":{tasks},\"launch_seconds\":{:.2}}}",
        launch_started.elapsed().as_secs_f64()
    );

    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["burst", n] => {
                let n: usize = n.parse().unwrap_or(0);
                let chosen: Vec<Running> = {
                    let mut running = shared.running.lock().expect("lock");
                    let keep = running.len().saturating_sub(n);
                    running.split_off(keep)
                };
                for task in &chosen {
                    let _ = task.agent.send(update(
                        &task.framework_id,
                        &task.task_id,
                        v1::TaskState::TaskFinished,
                    ));
                }
                println!(
                    "{{\"event\":\"burst\",\"count\":{},\"sent_at\":{:.6}}}",
                    chosen.len(),
                    now_unix()
                );
            }
            ["stop"] => break,
            _ => eprintln!("webui_cluster: unknown command {line:?} (burst N, stop)"),
        }
    }
    driver.stop(false);
}

fn update(
    framework_id: &v1::FrameworkId,
    task_id: &v1::TaskId,
    state: v1::TaskState,
) -> AgentMessage {
    AgentMessage {
        kind: Some(agent_message::Kind::StatusUpdate(StatusUpdate {
            framework_id: framework_id.clone(),
            status: v1::TaskStatus {
                task_id: task_id.clone(),
                state: state as i32,
                uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                source: Some(v1::task_status::Source::Executor as i32),
                timestamp: Some(now_unix()),
                ..Default::default()
            },
            latest_state: Some(state as i32),
        })),
    }
}

/// Spreads the tasks evenly: at most `per_offer` tasks into each offer.
struct Launcher {
    remaining: u64,
    next_id: u64,
    per_offer: u64,
}

impl Scheduler for Launcher {
    fn resource_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::Offer]) {
        for offer in offers {
            let cpus = meseta_proto::resources::scalar_total(&offer.resources, "cpus");
            let mem = meseta_proto::resources::scalar_total(&offer.resources, "mem");
            let fit = ((cpus / TASK_CPUS + 1e-6).floor() as u64).min((mem / TASK_MEM) as u64);
            let count = fit.min(self.remaining).min(self.per_offer);
            if count == 0 {
                let filters = v1::Filters {
                    refuse_seconds: Some(3600.0),
                };
                driver.decline_offer(&offer.id, Some(filters));
                continue;
            }
            let tasks = (0..count)
                .map(|_| {
                    self.next_id += 1;
                    v1::TaskInfo {
                        name: format!("sim-task-{}", self.next_id % 1000),
                        task_id: v1::TaskId {
                            value: format!("t{:06}", self.next_id),
                        },
                        agent_id: offer.agent_id.clone(),
                        resources: vec![
                            meseta_proto::resources::scalar("cpus", TASK_CPUS),
                            meseta_proto::resources::scalar("mem", TASK_MEM),
                        ],
                        command: Some(v1::CommandInfo {
                            value: Some("sleep 3600".into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }
                })
                .collect();
            self.remaining -= count;
            driver.launch_tasks(std::slice::from_ref(&offer.id), tasks, None);
        }
    }
}

async fn simulated_agent(
    master: String,
    index: usize,
    shared: Arc<Shared>,
    dialling: Arc<tokio::sync::Semaphore>,
) {
    let info = v1::AgentInfo {
        hostname: format!("sim-{index:05}"),
        resources: meseta_proto::resources::parse_resources("cpus:8;mem:16384;disk:100000")
            .unwrap_or_default(),
        attributes: vec![v1::Attribute {
            name: "rack".into(),
            r#type: v1::value::Type::Text as i32,
            text: Some(v1::value::Text {
                value: format!("r{}", index % 40),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let register = AgentMessage {
        kind: Some(agent_message::Kind::Register(Register {
            info,
            http_address: Some(format!("127.0.0.1:{}", 40000 + index % 20000)),
            ..Default::default()
        })),
    };
    let permit = dialling.acquire_owned().await.ok();
    let mut attempt = 0u64;
    let (tx, response) = loop {
        attempt += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(register.clone());
        let failure = match AgentLinkClient::connect(format!("http://{master}")).await {
            Ok(mut client) => match client.attach(UnboundedReceiverStream::new(rx)).await {
                Ok(response) => break (tx, response),
                Err(status) => status.to_string(),
            },
            Err(error) => error.to_string(),
        };
        if attempt >= 50 {
            eprintln!("simulated agent {index}: giving up after {attempt} attempts: {failure}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
    };
    drop(permit);
    let mut inbound = response.into_inner();
    let mut counted = false;
    loop {
        let message = match inbound.message().await {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(status) => {
                eprintln!("simulated agent {index}: stream failed: {status}");
                break;
            }
        };
        match message.kind {
            Some(master_message::Kind::Registered(_)) if !counted => {
                counted = true;
                shared.registered.fetch_add(1, Ordering::Relaxed);
            }
            Some(master_message::Kind::RunTasks(run)) => {
                let framework_id = run.framework.id.clone().unwrap_or_default();
                for task in run.tasks {
                    let _ = tx.send(update(
                        &framework_id,
                        &task.task_id,
                        v1::TaskState::TaskRunning,
                    ));
                    if let Ok(mut running) = shared.running.lock() {
                        running.push(Running {
                            agent: tx.clone(),
                            framework_id: framework_id.clone(),
                            task_id: task.task_id,
                        });
                    }
                }
            }
            Some(master_message::Kind::Acknowledge(_)) => {
                shared.acked.fetch_add(1, Ordering::Relaxed);
            }
            Some(master_message::Kind::Ping(ping)) => {
                let _ = tx.send(AgentMessage {
                    kind: Some(agent_message::Kind::Pong(Pong {
                        sequence: ping.sequence,
                    })),
                });
            }
            _ => {}
        }
    }
}
