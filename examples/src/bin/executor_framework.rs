//! Launches N tasks through the custom `example_executor`, counts their
//! status updates and framework messages, and exits 0 once all tasks are
//! `TASK_FINISHED` (1 as soon as one ends otherwise).
//!
//! The executor binary must be reachable from the agents at the same path
//! (true on a single-machine cluster, where it is found next to this one).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use meseta_core::scheduler::is_terminal;
use meseta_core::{ContentType, Scheduler, SchedulerConfig, SchedulerDriver, Status};
use meseta_examples::{framework_info, init_logging, parse_master, state_name, Packer};
use meseta_proto::v1::{self, TaskState};

/// The executor's ID (one executor per agent runs all of its tasks there).
const EXECUTOR_ID: &str = "meseta-example-executor";

/// Run N tasks through a custom executor on a Mesos (or Meseta) cluster.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Master address: HOST:PORT, http://HOST:PORT, or file:///path/to/file.
    #[arg(long, value_parser = parse_master)]
    master: String,
    /// How many tasks to run.
    #[arg(long, default_value_t = 1)]
    tasks: u32,
    /// CPUs per task.
    #[arg(long, default_value_t = 0.1)]
    cpus: f64,
    /// Memory per task, in MB.
    #[arg(long, default_value_t = 32.0)]
    mem: f64,
    /// CPUs for the executor itself (once per agent).
    #[arg(long, default_value_t = 0.1)]
    executor_cpus: f64,
    /// Memory for the executor itself (once per agent), in MB.
    #[arg(long, default_value_t = 32.0)]
    executor_mem: f64,
    /// How long each task pretends to work, in milliseconds.
    #[arg(long, default_value_t = 500)]
    task_duration_ms: u64,
    /// Path of the executor binary (default: `example_executor` next to
    /// this program).
    #[arg(long)]
    executor: Option<PathBuf>,
    /// Framework name.
    #[arg(long, default_value = "meseta-executor-framework")]
    name: String,
    /// Role to receive offers for.
    #[arg(long, default_value = "*")]
    role: String,
    /// User to run the executor as (default: $USER).
    #[arg(long)]
    user: Option<String>,
    /// Speak JSON instead of protobuf.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Default)]
struct Outcome {
    finished: u32,
    messages: u32,
    failed: Option<String>,
}

struct ExecutorScheduler {
    tasks: u32,
    cpus: f64,
    mem: f64,
    executor_cpus: f64,
    executor_mem: f64,
    task_duration_ms: u64,
    executor_path: String,
    launched: u32,
    /// The `ExecutorInfo` used on each agent, by agent ID.
    executors: HashMap<String, v1::ExecutorInfo>,
    outcome: Arc<Mutex<Outcome>>,
}

impl ExecutorScheduler {
    fn outcome(&self) -> std::sync::MutexGuard<'_, Outcome> {
        self.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The executor for `offer`'s agent: the one already used there (Mesos
    /// requires every task of an executor to carry an identical
    /// `ExecutorInfo`), or a new one whose resources are cut from the offer
    /// (remembered once a task uses it).
    fn executor_for(
        &self,
        driver: &SchedulerDriver,
        offer: &v1::Offer,
        packer: &mut Packer,
    ) -> Option<v1::ExecutorInfo> {
        if let Some(known) = self.executors.get(&offer.agent_id.value) {
            return Some(known.clone());
        }
        let resources = packer.take(self.executor_cpus, self.executor_mem)?;
        let executor = v1::ExecutorInfo {
            r#type: Some(v1::executor_info::Type::Custom as i32),
            executor_id: v1::ExecutorId {
                value: EXECUTOR_ID.into(),
            },
            framework_id: driver.framework_id(),
            name: Some("meseta example executor".into()),
            command: Some(v1::CommandInfo {
                value: Some(self.executor_path.clone()),
                shell: Some(false),
                arguments: vec![self.executor_path.clone()],
                ..Default::default()
            }),
            resources,
            ..Default::default()
        };
        Some(executor)
    }

    fn stop_when_done(&self, driver: &SchedulerDriver) {
        let outcome = self.outcome();
        if outcome.finished >= self.tasks && outcome.messages >= self.tasks {
            println!(
                "all {} task(s) finished, {} message(s) received",
                self.tasks, outcome.messages
            );
            driver.stop(false);
        }
    }
}

impl Scheduler for ExecutorScheduler {
    fn registered(
        &mut self,
        _driver: &SchedulerDriver,
        framework_id: &v1::FrameworkId,
        master: &v1::MasterInfo,
    ) {
        println!(
            "registered as {} with master {}",
            framework_id.value, master.id
        );
    }

    fn resource_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::Offer]) {
        for offer in offers {
            if self.launched >= self.tasks {
                driver.decline_offer(
                    &offer.id,
                    Some(v1::Filters {
                        refuse_seconds: Some(3600.0),
                    }),
                );
                continue;
            }
            let mut packer = Packer::new(offer);
            let Some(executor) = self.executor_for(driver, offer, &mut packer) else {
                driver.decline_offer(&offer.id, None);
                continue;
            };
            let mut tasks = Vec::new();
            while self.launched < self.tasks {
                let Some(resources) = packer.take(self.cpus, self.mem) else {
                    break;
                };
                let id = self.launched;
                self.launched += 1;
                tasks.push(v1::TaskInfo {
                    name: format!("executor task {id}"),
                    task_id: v1::TaskId {
                        value: format!("meseta-executor-task-{id}"),
                    },
                    agent_id: offer.agent_id.clone(),
                    resources,
                    executor: Some(executor.clone()),
                    data: Some(self.task_duration_ms.to_string().into_bytes()),
                    ..Default::default()
                });
            }
            let filters = Some(v1::Filters {
                refuse_seconds: Some(if self.launched >= self.tasks {
                    3600.0
                } else {
                    5.0
                }),
            });
            if tasks.is_empty() {
                driver.decline_offer(&offer.id, filters);
                continue;
            }
            self.executors
                .insert(offer.agent_id.value.clone(), executor);
            println!(
                "launching {} task(s) on {} ({} of {} launched)",
                tasks.len(),
                offer.hostname,
                self.launched,
                self.tasks
            );
            driver.launch_tasks(std::slice::from_ref(&offer.id), tasks, filters);
        }
        if self.launched >= self.tasks {
            driver.suppress_offers();
        }
    }

    fn status_update(&mut self, driver: &SchedulerDriver, status: &v1::TaskStatus) {
        let data = status
            .data
            .as_deref()
            .map(|d| format!(" [{}]", String::from_utf8_lossy(d)))
            .unwrap_or_default();
        println!(
            "task {} is {}{data}",
            status.task_id.value,
            state_name(status.state)
        );
        let Ok(state) = TaskState::try_from(status.state) else {
            return;
        };
        if state == TaskState::TaskFinished {
            let all_finished = {
                let mut outcome = self.outcome();
                outcome.finished += 1;
                outcome.finished >= self.tasks
            };
            if all_finished {
                // Messages are best effort: give stragglers a moment, then
                // stop whatever arrived.
                let late = driver.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(2));
                    late.stop(false);
                });
            }
            self.stop_when_done(driver);
        } else if is_terminal(state) {
            self.outcome().failed = Some(format!(
                "task {} ended {}: {}",
                status.task_id.value,
                state_name(status.state),
                status.message.as_deref().unwrap_or("")
            ));
            driver.stop(false);
        }
    }

    fn framework_message(
        &mut self,
        driver: &SchedulerDriver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        data: &[u8],
    ) {
        println!(
            "message from {} on {}: {}",
            executor_id.value,
            agent_id.value,
            String::from_utf8_lossy(data)
        );
        self.outcome().messages += 1;
        self.stop_when_done(driver);
    }

    fn executor_lost(
        &mut self,
        _driver: &SchedulerDriver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        status: i32,
    ) {
        println!(
            "executor {} on {} exited with status {status}",
            executor_id.value, agent_id.value
        );
    }

    fn error(&mut self, _driver: &SchedulerDriver, message: &str) {
        eprintln!("error: {message}");
    }
}

fn executor_path(explicit: Option<PathBuf>) -> std::io::Result<PathBuf> {
    let path = match explicit {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("example_executor"),
    };
    std::fs::canonicalize(&path).map_err(|e| {
        std::io::Error::new(e.kind(), format!("executor binary {}: {e}", path.display()))
    })
}

fn main() -> ExitCode {
    init_logging();
    let args = Args::parse();
    if args.tasks == 0 {
        println!("nothing to do");
        return ExitCode::SUCCESS;
    }
    let executor_path = match executor_path(args.executor.clone()) {
        Ok(path) => path.display().to_string(),
        Err(e) => {
            eprintln!("{e} (build it with `cargo build -p meseta-examples`)");
            return ExitCode::FAILURE;
        }
    };
    let mut config = SchedulerConfig::new(
        args.master.clone(),
        framework_info(&args.name, &args.role, args.user.clone()),
    );
    if args.json {
        config.content_type = ContentType::Json;
    }
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let scheduler = ExecutorScheduler {
        tasks: args.tasks,
        cpus: args.cpus,
        mem: args.mem,
        executor_cpus: args.executor_cpus,
        executor_mem: args.executor_mem,
        task_duration_ms: args.task_duration_ms,
        executor_path,
        launched: 0,
        executors: HashMap::new(),
        outcome: Arc::clone(&outcome),
    };
    let status = SchedulerDriver::new(scheduler, config).run();
    let outcome = outcome.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(reason) = &outcome.failed {
        eprintln!("failed: {reason}");
        return ExitCode::FAILURE;
    }
    if status == Status::Stopped && outcome.finished >= args.tasks {
        if outcome.messages < args.tasks {
            eprintln!(
                "warning: {} of {} framework message(s) arrived (they are best effort)",
                outcome.messages, args.tasks
            );
        }
        println!(
            "done: {} task(s) finished, {} message(s)",
            outcome.finished, outcome.messages
        );
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "driver ended {status} with {} of {} task(s) finished",
        outcome.finished, args.tasks
    );
    ExitCode::FAILURE
}
