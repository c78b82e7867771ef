//! `meseta execute`: runs one command as a task, like `mesos-execute`.
//! It subscribes as a framework, takes the first offer that fits, launches
//! the task, prints every status, and exits with the task's exit code.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use meseta_core::scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
use meseta_proto::resources::{describe, parse_resources};
use meseta_proto::v1::{self, TaskState};

/// Flags of `meseta execute`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The master, `HOST:PORT`.
    #[arg(long, env = "MESOS_MASTER")]
    master: String,
    /// Task name (also its ID, with a unique suffix).
    #[arg(long)]
    name: String,
    /// Shell command to run (with an image: optional; without one the
    /// image's own entrypoint and command run).
    #[arg(long, required_unless_present_any = ["docker_image", "image"])]
    command: Option<String>,
    /// Run the task in a Docker container from this image, through the
    /// agent's Docker engine (`ContainerInfo.type=DOCKER`; the agent needs
    /// `--containerizers=docker,mesos`).
    #[arg(long, value_name = "IMAGE", conflicts_with = "image")]
    docker_image: Option<String>,
    /// Run the task from this Docker image without an engine: the agent
    /// pulls it and runs it isolated (`ContainerInfo.type=MESOS` with a
    /// `mesos.image`).
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
    /// Resources of the task.
    #[arg(long, default_value = "cpus:0.1;mem:32")]
    resources: String,
    /// Environment variable for the task, `KEY=VALUE` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Role to subscribe with.
    #[arg(long, default_value = "*")]
    role: String,
}

#[derive(Default)]
struct Outcome {
    state: Option<TaskState>,
    message: String,
}

struct Execute {
    task: Option<v1::TaskInfo>,
    needed: Vec<v1::Resource>,
    outcome: Arc<Mutex<Outcome>>,
}

impl Scheduler for Execute {
    fn registered(
        &mut self,
        _: &SchedulerDriver,
        framework_id: &v1::FrameworkId,
        _: &v1::MasterInfo,
    ) {
        eprintln!("Subscribed with ID {}", framework_id.value);
    }

    fn resource_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::Offer]) {
        for offer in offers {
            let fits = self.task.is_some() && fits(&offer.resources, &self.needed);
            match (fits, self.task.take()) {
                (true, Some(mut task)) => {
                    task.agent_id = offer.agent_id.clone();
                    println!(
                        "Submitted task '{}' to agent '{}'",
                        task.name, offer.agent_id.value
                    );
                    println!(
                        "Received status update TASK_STAGING for task '{}'",
                        task.task_id.value
                    );
                    driver.launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
                }
                (_, task) => {
                    self.task = task;
                    driver.decline_offer(&offer.id, None);
                }
            }
        }
    }

    fn status_update(&mut self, driver: &SchedulerDriver, status: &v1::TaskStatus) {
        let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskLost);
        let message = status.message.clone().unwrap_or_default();
        if message.is_empty() {
            println!(
                "Received status update {} for task '{}'",
                state.as_str_name(),
                status.task_id.value
            );
        } else {
            println!(
                "Received status update {} for task '{}'\n  message: '{message}'",
                state.as_str_name(),
                status.task_id.value
            );
        }
        if meseta_core::scheduler::is_terminal(state) {
            if let Ok(mut outcome) = self.outcome.lock() {
                outcome.state = Some(state);
                outcome.message = message;
            }
            driver.stop(false);
        }
    }

    fn error(&mut self, driver: &SchedulerDriver, message: &str) {
        eprintln!("Error: {message}");
        driver.stop(false);
    }
}

fn fits(offered: &[v1::Resource], needed: &[v1::Resource]) -> bool {
    use meseta_proto::resources::scalar_total;
    needed
        .iter()
        .filter(|r| r.scalar.is_some())
        .all(|r| scalar_total(offered, &r.name) + 1e-9 >= scalar_total(needed, &r.name))
}

/// The container a task from an image runs in: a Docker container, or an
/// isolated one with the image as its root filesystem.
fn container(docker_image: Option<&str>, image: Option<&str>) -> Option<v1::ContainerInfo> {
    use v1::container_info::{DockerInfo, MesosInfo, Type};
    match (docker_image, image) {
        (Some(name), _) => Some(v1::ContainerInfo {
            r#type: Type::Docker as i32,
            docker: Some(DockerInfo {
                image: name.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        (None, Some(name)) => Some(v1::ContainerInfo {
            r#type: Type::Mesos as i32,
            mesos: Some(MesosInfo {
                image: Some(v1::Image {
                    r#type: v1::image::Type::Docker as i32,
                    docker: Some(v1::image::Docker {
                        name: name.to_string(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        (None, None) => None,
    }
}

/// The exit code in "Command exited with status N" (Mesos's command executor's message).
fn exit_code(message: &str) -> Option<u8> {
    let tail = message.rsplit("status ").next()?;
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<u8>().ok()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let needed = parse_resources(&args.resources)?;
    let mut variables = Vec::new();
    for pair in &args.env {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--env expects KEY=VALUE, got {pair:?}"))?;
        variables.push(v1::environment::Variable {
            name: name.to_string(),
            value: Some(value.to_string()),
            ..Default::default()
        });
    }
    let task_id = format!("{}-{}", args.name, &uuid::Uuid::new_v4().to_string()[..8]);
    let task = v1::TaskInfo {
        name: args.name.clone(),
        task_id: v1::TaskId { value: task_id },
        agent_id: v1::AgentId::default(),
        resources: needed.clone(),
        command: Some(v1::CommandInfo {
            shell: Some(args.command.is_some()),
            value: args.command.clone(),
            environment: (!variables.is_empty()).then_some(v1::Environment { variables }),
            ..Default::default()
        }),
        container: container(args.docker_image.as_deref(), args.image.as_deref()),
        ..Default::default()
    };
    let framework = v1::FrameworkInfo {
        user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        name: format!("meseta-execute ({})", args.name),
        roles: vec![args.role.clone()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    };
    let what = match (
        &args.command,
        args.docker_image.as_ref().or(args.image.as_ref()),
    ) {
        (Some(command), Some(image)) => format!("'{command}' in {image}"),
        (Some(command), None) => format!("'{command}'"),
        (None, Some(image)) => image.clone(),
        (None, None) => String::new(),
    };
    eprintln!(
        "Launching {what} with {} on {}",
        describe(&needed),
        args.master
    );
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let scheduler = Execute {
        task: Some(task),
        needed,
        outcome: outcome.clone(),
    };
    let driver = SchedulerDriver::new(scheduler, SchedulerConfig::new(args.master, framework));
    driver.run();
    let outcome = outcome
        .lock()
        .map_err(|_| anyhow::anyhow!("scheduler thread panicked"))?;
    let code = match outcome.state {
        Some(TaskState::TaskFinished) => 0,
        Some(_) => exit_code(&outcome.message).filter(|c| *c != 0).unwrap_or(1),
        None => 1,
    };
    Ok(ExitCode::from(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_choose_the_container() {
        use v1::container_info::Type;
        assert!(container(None, None).is_none());
        let docker = container(Some("busybox:1"), None).unwrap();
        assert_eq!(docker.r#type, Type::Docker as i32);
        assert_eq!(docker.docker.unwrap().image, "busybox:1");
        let mesos = container(None, Some("busybox:1")).unwrap();
        assert_eq!(mesos.r#type, Type::Mesos as i32);
        let image = mesos.mesos.unwrap().image.unwrap();
        assert_eq!(image.r#type, v1::image::Type::Docker as i32);
        assert_eq!(image.docker.unwrap().name, "busybox:1");
    }

    #[test]
    fn exit_code_from_command_executor_message() {
        assert_eq!(exit_code("Command exited with status 3"), Some(3));
        assert_eq!(exit_code("Command terminated with signal Killed"), None);
    }
}
