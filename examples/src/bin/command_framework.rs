//! Launches N shell-command tasks, prints every status update, and exits 0
//! once all of them are `TASK_FINISHED` (1 as soon as one ends otherwise).

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;
use meseta_core::scheduler::is_terminal;
use meseta_core::{ContentType, Scheduler, SchedulerConfig, SchedulerDriver, Status};
use meseta_examples::{framework_info, init_logging, parse_master, state_name, Packer};
use meseta_proto::v1::{self, TaskState};

/// Run N command tasks on a Mesos (or Meseta) cluster.
///
/// Tasks are packed into offers as tightly as their resources allow. The
/// framework is torn down at the end, whatever the outcome.
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
    /// Shell command each task runs.
    #[arg(long, default_value = "echo hello")]
    command: String,
    /// Framework name.
    #[arg(long, default_value = "meseta-command-framework")]
    name: String,
    /// Role to receive offers for.
    #[arg(long, default_value = "*")]
    role: String,
    /// User to run tasks as (default: $USER).
    #[arg(long)]
    user: Option<String>,
    /// Principal for HTTP authentication (needs --secret).
    #[arg(long, requires = "secret")]
    principal: Option<String>,
    /// Secret for HTTP authentication.
    #[arg(long, requires = "principal")]
    secret: Option<String>,
    /// Speak JSON instead of protobuf.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Default)]
struct Outcome {
    finished: u32,
    failed: Option<String>,
}

struct CommandScheduler {
    args: Args,
    launched: u32,
    outcome: Arc<Mutex<Outcome>>,
}

impl CommandScheduler {
    fn outcome(&self) -> std::sync::MutexGuard<'_, Outcome> {
        self.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Scheduler for CommandScheduler {
    fn registered(
        &mut self,
        _driver: &SchedulerDriver,
        framework_id: &v1::FrameworkId,
        master: &v1::MasterInfo,
    ) {
        println!(
            "registered as {} with master {} ({}:{})",
            framework_id.value,
            master.id,
            master.hostname.as_deref().unwrap_or("?"),
            master.port
        );
    }

    fn reregistered(&mut self, _driver: &SchedulerDriver, master: &v1::MasterInfo) {
        println!("re-registered with master {}", master.id);
    }

    fn disconnected(&mut self, _driver: &SchedulerDriver) {
        println!("disconnected from the master; reconnecting");
    }

    fn resource_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::Offer]) {
        let refuse = Some(v1::Filters {
            refuse_seconds: Some(if self.launched >= self.args.tasks {
                3600.0
            } else {
                5.0
            }),
        });
        for offer in offers {
            let mut packer = Packer::new(offer);
            let mut tasks = Vec::new();
            while self.launched < self.args.tasks {
                let Some(resources) = packer.take(self.args.cpus, self.args.mem) else {
                    break;
                };
                let id = self.launched;
                self.launched += 1;
                tasks.push(v1::TaskInfo {
                    name: format!("command task {id}"),
                    task_id: v1::TaskId {
                        value: format!("meseta-command-{id}"),
                    },
                    agent_id: offer.agent_id.clone(),
                    resources,
                    command: Some(v1::CommandInfo {
                        value: Some(self.args.command.clone()),
                        shell: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
            if tasks.is_empty() {
                driver.decline_offer(&offer.id, refuse);
                continue;
            }
            println!(
                "launching {} task(s) on {} ({} of {} launched)",
                tasks.len(),
                offer.hostname,
                self.launched,
                self.args.tasks
            );
            driver.launch_tasks(std::slice::from_ref(&offer.id), tasks, refuse);
        }
        if self.launched >= self.args.tasks {
            driver.suppress_offers();
        }
    }

    fn status_update(&mut self, driver: &SchedulerDriver, status: &v1::TaskStatus) {
        println!(
            "task {} is {}{}",
            status.task_id.value,
            state_name(status.state),
            status
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        let Ok(state) = TaskState::try_from(status.state) else {
            return;
        };
        if state == TaskState::TaskFinished {
            let done = {
                let mut outcome = self.outcome();
                outcome.finished += 1;
                outcome.finished >= self.args.tasks
            };
            if done {
                println!("all {} task(s) finished", self.args.tasks);
                driver.stop(false);
            }
        } else if is_terminal(state) {
            self.outcome().failed = Some(format!(
                "task {} ended {}",
                status.task_id.value,
                state_name(status.state)
            ));
            driver.stop(false);
        }
    }

    fn error(&mut self, _driver: &SchedulerDriver, message: &str) {
        eprintln!("error: {message}");
    }
}

fn main() -> ExitCode {
    init_logging();
    let args = Args::parse();
    if args.tasks == 0 {
        println!("nothing to do");
        return ExitCode::SUCCESS;
    }
    let mut config = SchedulerConfig::new(
        args.master.clone(),
        framework_info(&args.name, &args.role, args.user.clone()),
    );
    if args.json {
        config.content_type = ContentType::Json;
    }
    if let (Some(principal), Some(secret)) = (&args.principal, &args.secret) {
        config.credential = Some((principal.clone(), secret.clone()));
    }
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let tasks = args.tasks;
    let scheduler = CommandScheduler {
        args,
        launched: 0,
        outcome: Arc::clone(&outcome),
    };
    let status = SchedulerDriver::new(scheduler, config).run();
    let outcome = outcome.lock().unwrap_or_else(|e| e.into_inner());
    match (&outcome.failed, status) {
        (Some(reason), _) => {
            eprintln!("failed: {reason}");
            ExitCode::FAILURE
        }
        (None, Status::Stopped) if outcome.finished >= tasks => ExitCode::SUCCESS,
        (None, status) => {
            eprintln!(
                "driver ended {status} with {} of {tasks} task(s) finished",
                outcome.finished
            );
            ExitCode::FAILURE
        }
    }
}
