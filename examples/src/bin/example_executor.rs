//! The custom executor `executor_framework` launches. For each task it
//! reports `TASK_RUNNING`, works for the number of milliseconds in the
//! task's `data` (default 500), sends a framework message, and reports
//! `TASK_FINISHED` with a little data. It exits once the agent shuts it
//! down (when the framework is torn down).
//!
//! It reads the `MESOS_*` environment a Mesos agent provides, so it is
//! started by an agent, not by hand.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use meseta_core::{Executor, ExecutorDriver, Status};
use meseta_examples::init_logging;
use meseta_proto::v1::{self, TaskState};

/// Example Meseta executor (launched by a Mesos agent, configured by the
/// MESOS_* environment variables the agent sets).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {}

/// Tasks still running, shared with their worker threads.
type Running = Arc<Mutex<HashSet<String>>>;

struct ExampleExecutor {
    running: Running,
}

fn status(task_id: &v1::TaskId, state: TaskState) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: task_id.clone(),
        state: state as i32,
        ..Default::default()
    }
}

/// Removes a task from the running set; false if it was killed meanwhile.
fn finish(running: &Running, task_id: &v1::TaskId) -> bool {
    running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&task_id.value)
}

impl Executor for ExampleExecutor {
    fn registered(
        &mut self,
        _driver: &ExecutorDriver,
        executor_info: &v1::ExecutorInfo,
        framework_info: &v1::FrameworkInfo,
        agent_info: &v1::AgentInfo,
    ) {
        tracing::info!(
            "executor {} of framework {} registered on {}",
            executor_info.executor_id.value,
            framework_info.name,
            agent_info.hostname
        );
    }

    fn launch_task(&mut self, driver: &ExecutorDriver, task: &v1::TaskInfo) {
        let task_id = task.task_id.clone();
        let work = task
            .data
            .as_deref()
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.trim().parse::<u64>().ok())
            .unwrap_or(500);
        tracing::info!("launching {} ({work} ms)", task_id.value);
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(task_id.value.clone());
        driver.send_status_update(status(&task_id, TaskState::TaskRunning));
        let driver = driver.clone();
        let running = Arc::clone(&self.running);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(work));
            if !finish(&running, &task_id) {
                return;
            }
            driver.send_framework_message(format!("{} says hello", task_id.value).into_bytes());
            let mut done = status(&task_id, TaskState::TaskFinished);
            done.data = Some(format!("{} worked {work} ms", task_id.value).into_bytes());
            done.message = Some("done".into());
            driver.send_status_update(done);
        });
    }

    fn kill_task(&mut self, driver: &ExecutorDriver, task_id: &v1::TaskId) {
        if finish(&self.running, task_id) {
            tracing::info!("killing {}", task_id.value);
            driver.send_status_update(status(task_id, TaskState::TaskKilled));
        }
    }

    /// Logs the scheduler's message and answers it with `echo: <message>`.
    fn framework_message(&mut self, driver: &ExecutorDriver, data: &[u8]) {
        tracing::info!(
            "message from the scheduler: {}",
            String::from_utf8_lossy(data)
        );
        driver.send_framework_message([b"echo: ".as_slice(), data].concat());
    }

    fn shutdown(&mut self, driver: &ExecutorDriver) {
        let tasks: Vec<String> = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        tracing::info!("shutting down; killing {} task(s)", tasks.len());
        for value in tasks {
            driver.send_status_update(status(&v1::TaskId { value }, TaskState::TaskKilled));
        }
    }

    fn error(&mut self, _driver: &ExecutorDriver, message: &str) {
        tracing::error!("executor error: {message}");
    }
}

fn main() -> ExitCode {
    init_logging();
    Args::parse();
    let executor = ExampleExecutor {
        running: Arc::default(),
    };
    match ExecutorDriver::new(executor).run() {
        Status::Stopped => ExitCode::SUCCESS,
        other => {
            tracing::error!("executor driver ended {other}");
            ExitCode::FAILURE
        }
    }
}
