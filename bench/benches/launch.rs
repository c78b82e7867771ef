//! End-to-end launch throughput: tasks per second from offer to
//! TASK_RUNNING acknowledged, through one real master (HTTP scheduler API
//! and gRPC agent streams on loopback) with many lightweight simulated
//! agents and one framework on the Rust client core.
//!
//! A simulated agent is a gRPC stream and a loop: it registers, answers
//! pings, and answers every launched task at once with a TASK_RUNNING
//! update; it counts the acknowledgements the master forwards back. So the
//! figure measures the master, the allocator, the scheduler API and the
//! driver, not process spawning.
//!
//! Run: `cargo bench -p meseta-bench --bench launch`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meseta_core::scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
use meseta_master::{MasterConfig, MasterServer};
use meseta_proto::cluster::{
    agent_link_client::AgentLinkClient, agent_message, master_message, AgentMessage, Pong,
    Register, StatusUpdate,
};
use meseta_proto::v1;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

const TASK_CPUS: f64 = 0.1;
const TASK_MEM: f64 = 32.0;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("launch throughput: offer -> TASK_RUNNING acknowledged, one framework, simulated agents (8 cpus each)");
    println!(
        "{:>8} {:>8} {:>10} {:>12}",
        "agents", "tasks", "seconds", "tasks/s"
    );
    for (agents, tasks) in scenarios() {
        let (elapsed, acked) = runtime.block_on(run(agents, tasks));
        println!(
            "{:>8} {:>8} {:>10.2} {:>12.0}",
            agents,
            acked,
            elapsed.as_secs_f64(),
            acked as f64 / elapsed.as_secs_f64()
        );
    }
}

/// `MESETA_BENCH_LAUNCH=agents:tasks,agents:tasks` overrides the defaults.
fn scenarios() -> Vec<(usize, u64)> {
    let parsed: Option<Vec<(usize, u64)>> = std::env::var("MESETA_BENCH_LAUNCH").ok().map(|text| {
        text.split(',')
            .filter_map(|pair| {
                let (a, t) = pair.split_once(':')?;
                Some((a.trim().parse().ok()?, t.trim().parse().ok()?))
            })
            .collect()
    });
    parsed.unwrap_or_else(|| vec![(100, 5_000), (1_000, 20_000)])
}

async fn run(agents: usize, tasks: u64) -> (Duration, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = MasterConfig {
        port: 0,
        work_dir: dir.path().to_path_buf(),
        allocation_interval: Duration::from_millis(100),
        ..MasterConfig::default()
    };
    let master = MasterServer::start(config).await.expect("master starts");
    let address = master.address();
    let acked = Arc::new(AtomicU64::new(0));
    for index in 0..agents {
        tokio::spawn(simulated_agent(address.to_string(), index, acked.clone()));
    }
    let handle = master.handle();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let registered = handle.inspect(|m| m.agents().len()).await.unwrap_or(0);
        if registered == agents {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {registered} of {agents} agents registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Arc::new(Mutex::new(None::<Instant>));
    let framework = Launcher {
        remaining: tasks,
        next_id: 0,
        started: started.clone(),
    };
    let info = v1::FrameworkInfo {
        user: "bench".into(),
        name: "launch-bench".into(),
        ..Default::default()
    };
    let driver = SchedulerDriver::new(framework, SchedulerConfig::new(address.to_string(), info));
    driver.start();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last_report = Instant::now();
    while acked.load(Ordering::Relaxed) < tasks && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            let running = handle
                .inspect(|m| {
                    m.frameworks()
                        .values()
                        .map(|f| f.tasks.len())
                        .sum::<usize>()
                })
                .await
                .unwrap_or(0);
            eprintln!(
                "  ... {} acknowledged, {running} tasks known to the master",
                acked.load(Ordering::Relaxed)
            );
        }
    }
    let end = Instant::now();
    let begin = started.lock().ok().and_then(|s| *s).unwrap_or(end);
    driver.stop(false);
    master.stop().await;
    (end - begin, acked.load(Ordering::Relaxed))
}

/// Packs as many small command tasks into each offer as fit.
struct Launcher {
    remaining: u64,
    next_id: u64,
    started: Arc<Mutex<Option<Instant>>>,
}

impl Scheduler for Launcher {
    fn resource_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::Offer]) {
        if let Ok(mut started) = self.started.lock() {
            started.get_or_insert_with(Instant::now);
        }
        for offer in offers {
            let cpus = meseta_proto::resources::scalar_total(&offer.resources, "cpus");
            let mem = meseta_proto::resources::scalar_total(&offer.resources, "mem");
            let fit = ((cpus / TASK_CPUS + 1e-6).floor() as u64).min((mem / TASK_MEM) as u64);
            let count = fit.min(self.remaining);
            if count == 0 {
                driver.decline_offer(&offer.id, None);
                continue;
            }
            let tasks = (0..count)
                .map(|_| {
                    self.next_id += 1;
                    v1::TaskInfo {
                        name: "bench".into(),
                        task_id: v1::TaskId {
                            value: format!("t{}", self.next_id),
                        },
                        agent_id: offer.agent_id.clone(),
                        resources: vec![
                            meseta_proto::resources::scalar("cpus", TASK_CPUS),
                            meseta_proto::resources::scalar("mem", TASK_MEM),
                        ],
                        command: Some(v1::CommandInfo {
                            value: Some("true".into()),
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

async fn simulated_agent(master: String, index: usize, acked: Arc<AtomicU64>) {
    let info = v1::AgentInfo {
        hostname: format!("sim-{index}"),
        resources: meseta_proto::resources::parse_resources("cpus:8;mem:16384;disk:100000")
            .unwrap_or_default(),
        ..Default::default()
    };
    let register = AgentMessage {
        kind: Some(agent_message::Kind::Register(Register {
            info,
            http_address: Some(format!("127.0.0.1:{}", 40000 + index)),
            ..Default::default()
        })),
    };
    // A thousand agents dialling at once can see resets; retry like a real agent.
    let mut attempt = 0;
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
        if attempt >= 20 {
            eprintln!("simulated agent {index}: giving up after {attempt} attempts: {failure}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10 * attempt)).await;
    };
    let mut inbound = response.into_inner();
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
            Some(master_message::Kind::RunTasks(run)) => {
                for task in run.tasks {
                    let update = StatusUpdate {
                        framework_id: run.framework.id.clone().unwrap_or_default(),
                        status: v1::TaskStatus {
                            task_id: task.task_id,
                            state: v1::TaskState::TaskRunning as i32,
                            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                            source: Some(v1::task_status::Source::Executor as i32),
                            ..Default::default()
                        },
                        latest_state: Some(v1::TaskState::TaskRunning as i32),
                    };
                    let _ = tx.send(AgentMessage {
                        kind: Some(agent_message::Kind::StatusUpdate(update)),
                    });
                }
            }
            Some(master_message::Kind::Acknowledge(_)) => {
                acked.fetch_add(1, Ordering::Relaxed);
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
