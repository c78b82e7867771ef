//! What the master's state takes in memory per agent and per task, exactly:
//! the master state machine alone (no sockets, no channels), with a
//! counting allocator. Agents register with the resources of a real agent;
//! one framework launches command tasks into its offers; each agent
//! reports TASK_RUNNING as its command executor would, and the framework
//! acknowledges. Printed: live heap bytes per agent (agents registered, no
//! tasks) and per task (running and acknowledged), and the process's RSS.
//!
//! Run: `cargo bench -p meseta-bench --bench master_memory`;
//! `MESETA_BENCH_MEMORY_AGENTS` (default 50000) and
//! `MESETA_BENCH_MEMORY_TASKS` (default 500000) change the size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::{held_task, resident_kib};
use meseta_allocator::AllocatorConfig;
use meseta_master::config::Settings;
use meseta_master::state::{Action, Ids, Master};
use meseta_proto::cluster::{agent_message, master_message, AgentMessage, Register, StatusUpdate};
use meseta_proto::scheduler::{call, event, Call};
use meseta_proto::v1;

/// Counts the bytes live on the heap.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const T0: Duration = Duration::from_secs(1_700_000_000);
const AGENT_RESOURCES: &str = "cpus:8;mem:16384;disk:100000;ports:[31000-32000]";
const TASK_CPUS: f64 = 0.1;
const TASK_MEM: f64 = 32.0;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn main() {
    let agents = env("MESETA_BENCH_MEMORY_AGENTS", 50_000);
    let tasks = env("MESETA_BENCH_MEMORY_TASKS", 500_000);
    let started = Instant::now();
    let base = live();
    let mut master = Master::new(
        Settings::default(),
        v1::MasterInfo {
            id: "bench".into(),
            ip: 0,
            port: 5050,
            ..Default::default()
        },
        AllocatorConfig::default(),
        Ids::random(),
        T0,
    );
    let resources = meseta_proto::resources::parse_resources(AGENT_RESOURCES).unwrap_or_default();
    // Link i is agent i; what the master says to it is dropped, except
    // the tasks to run.
    for link in 0..agents {
        let register = AgentMessage {
            kind: Some(agent_message::Kind::Register(Register {
                info: v1::AgentInfo {
                    hostname: format!("sim-{link}.example.com"),
                    port: Some(5051),
                    resources: resources.clone(),
                    ..Default::default()
                },
                http_address: Some(format!(
                    "10.{}.{}.{}:5051",
                    link >> 16,
                    (link >> 8) & 255,
                    link & 255
                )),
                version: Some("1.11.0".into()),
                ..Default::default()
            })),
        };
        let registered = master
            .agent_message(T0, link as u64, register)
            .into_iter()
            .any(|action| {
                matches!(
                    action,
                    Action::ToAgent {
                        message: meseta_proto::cluster::MasterMessage {
                            kind: Some(master_message::Kind::Registered(_))
                        },
                        ..
                    }
                )
            });
        assert!(registered, "agent {link} is not registered");
    }
    let with_agents = live();

    let subscribe = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: v1::FrameworkInfo {
                user: "bench".into(),
                name: "memory-bench".into(),
                failover_timeout: Some(3600.0),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let subscribed = master.subscribe(T0, subscribe, 0).expect("subscribe");
    let framework_id = v1::FrameworkId {
        value: subscribed.framework_id.clone(),
    };
    let stream = subscribed.stream_id;
    let after_subscribe = live();

    let per_offer = (TASK_CPUS.recip() as usize).min((tasks / agents.max(1)).max(1));
    let mut launched = 0usize;
    let mut running = 0usize;
    let mut updates_sent = 0usize;
    let mut now = T0;
    let mut idle_ticks = 0;
    while running < tasks && idle_ticks < 5 {
        now += Duration::from_secs(1);
        let mut work = master.tick(now);
        let mut progressed = false;
        while let Some(action) = work.pop() {
            match action {
                Action::ToFramework { event, .. } => {
                    if let Some(offers) = event.offers {
                        for offer in offers.offers {
                            let count = per_offer.min(tasks - launched);
                            let infos = (0..count)
                                .map(|i| {
                                    let id = format!("task-{:07}", launched + i);
                                    held_task(&id, &offer.agent_id, TASK_CPUS, TASK_MEM)
                                })
                                .collect();
                            launched += count;
                            work.extend(accept(
                                &mut master,
                                now,
                                &framework_id,
                                &stream,
                                offer,
                                infos,
                            ));
                        }
                    }
                    if let Some(update) = event.update {
                        running += 1;
                        progressed = true;
                        work.extend(acknowledge(
                            &mut master,
                            now,
                            &framework_id,
                            &stream,
                            update,
                        ));
                    }
                }
                Action::ToAgent { link, message } => {
                    if let Some(master_message::Kind::RunTasks(run)) = message.kind {
                        for task in run.tasks {
                            updates_sent += 1;
                            let update = running_update(&framework_id, &task, updates_sent);
                            work.extend(master.agent_message(now, link, update));
                        }
                    }
                }
                _ => {}
            }
        }
        idle_ticks = if progressed { 0 } else { idle_ticks + 1 };
    }
    let with_tasks = live();
    let per_agent = (with_agents - base) as f64 / agents as f64;
    let per_task = (with_tasks - after_subscribe) as f64 / running.max(1) as f64;
    println!(
        "master state machine memory (live heap, counting allocator), {AGENT_RESOURCES} per agent:"
    );
    println!(
        "  {agents} agents: {:.0} MiB, {:.1} KiB per agent",
        (with_agents - base) as f64 / 1048576.0,
        per_agent / 1024.0
    );
    println!(
        "  {running} tasks running and acknowledged ({launched} launched): {:.0} MiB, {:.2} KiB per task",
        (with_tasks - after_subscribe) as f64 / 1048576.0,
        per_task / 1024.0
    );
    if let Some(kib) = resident_kib(std::process::id()) {
        println!(
            "  process RSS: {:.0} MiB; {:.1} s",
            kib as f64 / 1024.0,
            started.elapsed().as_secs_f64()
        );
    }
    // Freeing it all would only take time.
    std::mem::forget(master);
}

fn accept(
    master: &mut Master,
    now: Duration,
    framework_id: &v1::FrameworkId,
    stream: &str,
    offer: v1::Offer,
    tasks: Vec<v1::TaskInfo>,
) -> Vec<Action> {
    let call = Call {
        framework_id: Some(framework_id.clone()),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id],
            operations: vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Launch as i32),
                launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            }],
            filters: None,
        }),
        ..Default::default()
    };
    master.scheduler_call(now, call, stream).expect("accept")
}

fn acknowledge(
    master: &mut Master,
    now: Duration,
    framework_id: &v1::FrameworkId,
    stream: &str,
    update: event::Update,
) -> Vec<Action> {
    let status = update.status;
    let Some(uuid) = status.uuid else {
        return Vec::new();
    };
    let call = Call {
        framework_id: Some(framework_id.clone()),
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            agent_id: status.agent_id.unwrap_or_default(),
            task_id: status.task_id,
            uuid,
        }),
        ..Default::default()
    };
    master
        .scheduler_call(now, call, stream)
        .expect("acknowledge")
}

/// TASK_RUNNING from the agent's command executor, as a real agent sends it.
fn running_update(framework_id: &v1::FrameworkId, task: &v1::TaskInfo, n: usize) -> AgentMessage {
    let mut uuid = [0u8; 16];
    uuid[..8].copy_from_slice(&(n as u64).to_le_bytes());
    let status = v1::TaskStatus {
        task_id: task.task_id.clone(),
        state: v1::TaskState::TaskRunning as i32,
        source: Some(v1::task_status::Source::Executor as i32),
        agent_id: Some(task.agent_id.clone()),
        executor_id: Some(v1::ExecutorId {
            value: task.task_id.value.clone(),
        }),
        timestamp: Some(1_700_000_000.5),
        uuid: Some(uuid.to_vec()),
        container_status: Some(v1::ContainerStatus {
            container_id: Some(v1::ContainerId {
                value: format!("{:032x}", n),
                ..Default::default()
            }),
            executor_pid: Some(4242),
            ..Default::default()
        }),
        ..Default::default()
    };
    AgentMessage {
        kind: Some(agent_message::Kind::StatusUpdate(StatusUpdate {
            framework_id: framework_id.clone(),
            status,
            latest_state: Some(v1::TaskState::TaskRunning as i32),
        })),
    }
}
