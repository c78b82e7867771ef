//! The built-in executors: the command executor (one command task) and the
//! default executor (task groups), both run inside the agent.
//!
//! Each task is one async job that fetches the task's URIs, launches its
//! command as a container, reports `TASK_STARTING` and `TASK_RUNNING`, and
//! ends with `TASK_FINISHED` (exit code 0), `TASK_FAILED` ("Command exited
//! with status N") or `TASK_KILLED`. A kill request sends SIGTERM to the
//! container and SIGKILL after the kill policy's grace period; frameworks
//! with the `TASK_KILLING_STATE` capability first see `TASK_KILLING`.
//! Updates come from `SOURCE_EXECUTOR`, as from Mesos's own executors;
//! failures before the command ran come from `SOURCE_AGENT`.
//!
//! In a task group, a task that ends other than `TASK_FINISHED` takes the
//! rest of its group down with it, as Mesos's default executor does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use meseta_proto::cluster::{self, agent_message::Kind};
use meseta_proto::v1::{self, task_status, TaskState};
use tokio::sync::mpsc;

use crate::containerizer::{LaunchRequest, Signal, Termination};
use crate::inner::Inner;
use crate::state::{Control, ExecutorKind, ExecutorPhase};
use crate::status_updates::is_terminal;

/// One task for a built-in executor.
#[derive(Debug, Clone)]
pub(crate) struct BuiltinTask {
    pub framework_id: v1::FrameworkId,
    pub executor_id: v1::ExecutorId,
    pub container_id: v1::ContainerId,
    /// Where the containerizer records the task's process (see
    /// [`crate::checkpoint`]).
    pub checkpoint_dir: PathBuf,
    pub sandbox: PathBuf,
    pub task: v1::TaskInfo,
    /// Grace period between SIGTERM and SIGKILL, from the task's kill policy.
    pub grace: Duration,
    /// The framework understands `TASK_KILLING`.
    pub killing_state: bool,
    pub user: Option<String>,
    /// The container's first process, once launched (for
    /// `container_status.executor_pid`).
    pub executor_pid: Option<u32>,
}

impl BuiltinTask {
    pub(crate) fn status(&self, state: TaskState, message: Option<String>) -> v1::TaskStatus {
        v1::TaskStatus {
            task_id: self.task.task_id.clone(),
            state: state as i32,
            source: Some(task_status::Source::Executor as i32),
            executor_id: Some(self.executor_id.clone()),
            message,
            container_status: Some(v1::ContainerStatus {
                container_id: Some(self.container_id.clone()),
                executor_pid: self.executor_pid,
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// The environment of a built-in executor's task.
pub(crate) fn task_environment(inner: &Inner, spec: &BuiltinTask) -> Vec<(String, String)> {
    let sandbox = spec.sandbox.display().to_string();
    let mut env = vec![
        ("MESOS_SANDBOX".to_string(), sandbox.clone()),
        ("MESOS_DIRECTORY".to_string(), sandbox),
        ("MESOS_TASK_ID".to_string(), spec.task.task_id.value.clone()),
        (
            "MESOS_FRAMEWORK_ID".to_string(),
            spec.framework_id.value.clone(),
        ),
        (
            "MESOS_EXECUTOR_ID".to_string(),
            spec.executor_id.value.clone(),
        ),
        ("MESOS_AGENT_ENDPOINT".to_string(), inner.endpoint()),
    ];
    if let Some(agent_id) = inner.agent_id() {
        env.push(("MESOS_AGENT_ID".to_string(), agent_id.value.clone()));
        env.push(("MESOS_SLAVE_ID".to_string(), agent_id.value));
    }
    if let Some(command) = &spec.task.command {
        env.extend(command_environment(command));
    }
    env
}

/// The `VALUE` variables of a command's environment (secrets are not
/// supported and are left out, with a warning).
pub(crate) fn command_environment(command: &v1::CommandInfo) -> Vec<(String, String)> {
    let Some(environment) = &command.environment else {
        return Vec::new();
    };
    environment
        .variables
        .iter()
        .filter_map(|variable| {
            if variable.secret.is_some() {
                tracing::warn!(name = %variable.name, "secret environment variables are not supported; left out");
                return None;
            }
            Some((variable.name.clone(), variable.value().to_string()))
        })
        .collect()
}

impl Inner {
    /// Runs one task of a built-in executor to its end.
    pub(crate) async fn run_builtin_task(
        self: Arc<Self>,
        mut spec: BuiltinTask,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let fid = &spec.framework_id;
        let tid = &spec.task.task_id;
        let command = spec.task.command.clone().unwrap_or_default();
        tracing::info!(framework_id = %fid.value, task_id = %tid.value, sandbox = %spec.sandbox.display(), "launching task");

        let fetched = tokio::select! {
            result = self.fetcher.fetch_all(&command.uris, &spec.sandbox) => result,
            Some(Control::Kill { .. }) = control.recv() => {
                self.report_from_agent(fid, tid, TaskState::TaskKilled, Some(task_status::Reason::TaskKilledDuringLaunch), "Task was killed before it started".into());
                return self.builtin_task_ended(&spec, TaskState::TaskKilled);
            }
        };
        let killed_meanwhile = matches!(control.try_recv(), Ok(Control::Kill { .. }));
        if killed_meanwhile || !self.begin_launch() {
            self.report_from_agent(
                fid,
                tid,
                TaskState::TaskKilled,
                Some(task_status::Reason::TaskKilledDuringLaunch),
                "Task was killed before it started".into(),
            );
            return self.builtin_task_ended(&spec, TaskState::TaskKilled);
        }
        let launched = match fetched {
            Ok(()) => {
                let request = LaunchRequest {
                    container_id: spec.container_id.clone(),
                    command: command.clone(),
                    environment: task_environment(&self, &spec),
                    sandbox: spec.sandbox.clone(),
                    user: command
                        .user
                        .clone()
                        .filter(|u| !u.is_empty())
                        .or_else(|| spec.user.clone()),
                    resources: spec.task.resources.clone(),
                    container: spec.task.container.clone(),
                    checkpoint_dir: Some(spec.checkpoint_dir.clone()),
                };
                self.containerizer.launch(request).await
            }
            Err(e) => Err(e),
        };
        self.end_launch();
        if let Err(e) = launched {
            self.lock().checkpoint.remove_container(&spec.container_id);
            tracing::warn!(framework_id = %fid.value, task_id = %tid.value, error = %e, "task failed to launch");
            self.report_from_agent(
                fid,
                tid,
                TaskState::TaskFailed,
                Some(task_status::Reason::ContainerLaunchFailed),
                format!("Failed to launch container: {e}"),
            );
            return self.builtin_task_ended(&spec, TaskState::TaskFailed);
        }
        spec.executor_pid = self.containerizer.pid(&spec.container_id);
        let fid = &spec.framework_id;
        let _ = self.report(fid, spec.status(TaskState::TaskStarting, None));
        let mut running = spec.status(TaskState::TaskRunning, None);
        if let Some(shown) = self.containerizer.running_status(&spec.container_id) {
            if let Some(container) = running.container_status.as_mut() {
                container.network_infos = shown.network_infos;
            }
            running.data = shown.data;
        }
        let _ = self.report(fid, running);
        self.supervise_builtin_task(spec, control, false).await;
    }

    /// Watches a launched task until its container ends (handling kills
    /// meanwhile), then reports its terminal state. A task taken back after
    /// a restart starts here, `killed` when a kill had been requested.
    pub(crate) async fn supervise_builtin_task(
        self: Arc<Self>,
        spec: BuiltinTask,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut killed: bool,
    ) {
        let fid = &spec.framework_id;
        let tid = &spec.task.task_id;
        let mut keep_record = false;
        let mut wait = self.containerizer.wait(&spec.container_id);
        let termination = loop {
            tokio::select! {
                ended = &mut wait => break ended,
                Some(Control::Kill { grace }) = control.recv() => {
                    if killed { continue; }
                    killed = true;
                    self.kill_builtin_container(&spec, grace).await;
                }
            }
        };
        let (state, message) = match termination {
            Ok(Termination {
                limitation: Some(limitation),
                ..
            }) if !killed => {
                let mut status =
                    spec.status(TaskState::TaskFailed, Some(limitation.message.clone()));
                status.reason = Some(limitation.reason as i32);
                status.limitation = Some(v1::TaskResourceLimitation {
                    resources: limitation.resources.clone(),
                });
                // As in Mesos: the agent speaks for the command executor,
                // the default executor for its tasks.
                if spec.container_id.parent.is_none() {
                    status.source = Some(task_status::Source::Agent as i32);
                }
                tracing::warn!(framework_id = %fid.value, task_id = %tid.value, reason = ?limitation.reason, "task ended by a container limitation");
                let _ = self.report(fid, status);
                self.lock().checkpoint.remove_container(&spec.container_id);
                return self.builtin_task_ended(&spec, TaskState::TaskFailed);
            }
            Ok(t) if t.exit_code.is_none() && t.signal.is_none() && !killed => {
                // Only a recovered task's process can end unrecorded.
                let message = "The task's process ended while the agent was down, \
                               and how it ended was not recorded";
                tracing::warn!(framework_id = %fid.value, task_id = %tid.value, "{message}");
                let mut status = spec.status(TaskState::TaskFailed, Some(message.into()));
                status.reason = Some(task_status::Reason::ExecutorTerminated as i32);
                status.source = Some(task_status::Source::Agent as i32);
                let _ = self.report(fid, status);
                self.lock().checkpoint.remove_container(&spec.container_id);
                return self.builtin_task_ended(&spec, TaskState::TaskFailed);
            }
            Ok(termination) => final_state(&termination, killed),
            Err(e) => {
                // Its process may still run: keep its record, so that a
                // restart (or whoever cleans up) still finds it.
                keep_record = true;
                (
                    TaskState::TaskFailed,
                    format!("Cannot learn how the command ended: {e}"),
                )
            }
        };
        tracing::info!(framework_id = %fid.value, task_id = %tid.value, state = state.as_str_name(), %message, "task ended");
        let _ = self.report(fid, spec.status(state, Some(message)));
        if !keep_record {
            self.lock().checkpoint.remove_container(&spec.container_id);
        }
        self.builtin_task_ended(&spec, state);
    }

    async fn kill_builtin_container(self: &Arc<Self>, spec: &BuiltinTask, grace: Duration) {
        tracing::info!(framework_id = %spec.framework_id.value, task_id = %spec.task.task_id.value, ?grace, "killing task");
        if spec.killing_state {
            let _ = self.report(
                &spec.framework_id,
                spec.status(TaskState::TaskKilling, None),
            );
        }
        if let Err(e) = self
            .containerizer
            .kill(&spec.container_id, Signal::Terminate)
            .await
        {
            tracing::warn!(task_id = %spec.task.task_id.value, error = %e, "cannot signal the task");
        }
        let inner = Arc::clone(self);
        let container_id = spec.container_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let _ = inner.containerizer.kill(&container_id, Signal::Kill).await;
        });
    }

    /// Bookkeeping after a built-in task ended: the command executor ends
    /// with its task; the default executor when all its tasks ended; a
    /// failed task of a group kills its siblings.
    fn builtin_task_ended(&self, spec: &BuiltinTask, state: TaskState) {
        let fid = spec.framework_id.value.as_str();
        let eid = spec.executor_id.value.as_str();
        let mut siblings = Vec::new();
        let mut default_executor_ended = false;
        {
            let mut agent = self.lock();
            let Some(executor) = agent.executor_mut(fid, eid) else {
                return;
            };
            let group = executor
                .tasks
                .get(&spec.task.task_id.value)
                .and_then(|t| t.group.clone());
            if state != TaskState::TaskFinished {
                if let Some(group) = group {
                    siblings = executor
                        .tasks
                        .values()
                        .filter(|t| t.group.as_ref() == Some(&group) && !is_terminal(t.state))
                        .filter_map(|t| t.control.clone())
                        .collect();
                }
            }
            let all_ended = executor
                .tasks
                .values()
                .all(|t| is_terminal(t.state) || t.info.task_id == spec.task.task_id);
            if executor.kind == ExecutorKind::Command || all_ended {
                default_executor_ended = executor.kind == ExecutorKind::Default;
                executor.phase = ExecutorPhase::Terminated;
                agent.counters.executors_terminated += 1;
            }
            agent.retire_if_done(fid, eid);
        }
        for sibling in siblings {
            let _ = sibling.send(Control::Kill { grace: spec.grace });
        }
        // As in Mesos, the master hears of the default executor's end (it
        // knows that executor) but not of a command executor's.
        if default_executor_ended {
            self.master
                .send(Kind::ExecutorExited(cluster::ExecutorExited {
                    framework_id: spec.framework_id.clone(),
                    executor_id: spec.executor_id.clone(),
                    status: Some(0),
                }));
        }
    }
}

/// The terminal state and message for a command that ended.
pub(crate) fn final_state(termination: &Termination, killed: bool) -> (TaskState, String) {
    let message = termination.describe();
    if killed {
        (TaskState::TaskKilled, message)
    } else if termination.succeeded() {
        (TaskState::TaskFinished, message)
    } else {
        (TaskState::TaskFailed, message)
    }
}
