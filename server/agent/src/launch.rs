//! `RunTasks`: deciding who runs each task and preparing its sandbox.
//!
//! * No `ExecutorInfo`: each task is a *command task*, run by the built-in
//!   command executor; its executor ID is the task ID.
//! * An `ExecutorInfo` of type `DEFAULT` (or without a command): the built-in
//!   default executor runs each task of the group as its own process, in
//!   `<executor sandbox>/tasks/<task ID>`.
//! * Otherwise a *custom executor*: its process is started once per
//!   (framework, executor ID); tasks are queued until it subscribes, then
//!   delivered as `LAUNCH` / `LAUNCH_GROUP`.
//!
//! Tasks that cannot be run get a terminal update right away (`TASK_ERROR`
//! for invalid ones, `TASK_LOST` when the agent or executor is going away).
//!
//! For a framework that checkpoints, the framework, each new executor and
//! each task are [checkpointed](crate::checkpoint) before anything runs, so
//! a restarted agent knows every process it may find.

use std::sync::Arc;
use std::time::Duration;

use meseta_proto::cluster;
use meseta_proto::v1::{self, executor_info, task_status::Reason, TaskState};
use tokio::sync::mpsc;

use crate::builtin_executor::BuiltinTask;
use crate::checkpoint::{ExecutorRecord, TaskRecord};
use crate::custom_executor::CustomLaunch;
use crate::executor_api::events;
use crate::inner::Inner;
use crate::sandbox::{create_sandbox, validate_id};
use crate::state::{Executor, ExecutorKind, ExecutorPhase, Framework, Task};

/// Grace period between SIGTERM and SIGKILL when the kill policy names none.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);

/// The grace period of a kill policy, if it has one.
pub(crate) fn policy_grace(policy: Option<&v1::KillPolicy>) -> Option<Duration> {
    let nanos = policy?.grace_period.as_ref()?.nanoseconds;
    Some(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
}

fn new_container_id(parent: Option<&v1::ContainerId>) -> v1::ContainerId {
    v1::ContainerId {
        value: uuid::Uuid::new_v4().to_string(),
        parent: parent.map(|p| Box::new(p.clone())),
    }
}

/// What to do once the state is updated and the lock released.
enum Next {
    Fail(v1::TaskId, TaskState, Reason, String),
    Builtin(
        Box<BuiltinTask>,
        mpsc::UnboundedReceiver<crate::state::Control>,
    ),
    Custom(Box<CustomLaunch>),
}

impl Inner {
    /// Handles the master's `RunTasks`.
    pub(crate) fn run_tasks(self: &Arc<Self>, request: cluster::RunTasks) {
        let mut framework_info = request.framework;
        let Some(framework_id) = framework_info.id.clone() else {
            tracing::warn!(framework = %framework_info.name, "RunTasks without a framework ID; ignored");
            return;
        };
        framework_info.id = Some(framework_id.clone());
        let fid = framework_id.value.clone();
        let group = request.group.unwrap_or(false);
        let mut next = Vec::new();
        let fail_all = |next: &mut Vec<Next>, state: TaskState, reason: Reason, message: &str| {
            for task in &request.tasks {
                next.push(Next::Fail(
                    task.task_id.clone(),
                    state,
                    reason,
                    message.to_string(),
                ));
            }
        };
        if let Err(e) = validate_id("framework ID", &fid) {
            fail_all(
                &mut next,
                TaskState::TaskError,
                Reason::TaskInvalid,
                &e.to_string(),
            );
            return self.finish_launch(&framework_id, next);
        }
        let mut state = self.lock();
        let agent_id = state.agent_id.clone();
        let Some(agent_id) = agent_id.filter(|_| !state.shutting_down) else {
            drop(state);
            fail_all(
                &mut next,
                TaskState::TaskLost,
                Reason::AgentRestarted,
                "The agent is not ready to run tasks",
            );
            return self.finish_launch(&framework_id, next);
        };
        let checkpoint = state.checkpoint.clone();
        let known = state.frameworks.get(&fid).map(|f| f.info.clone());
        let framework = state
            .frameworks
            .entry(fid.clone())
            .or_insert_with(|| Framework {
                info: framework_info.clone(),
                id: framework_id.clone(),
                executors: Default::default(),
                completed_executors: Default::default(),
                terminating: false,
            });
        framework.info = framework_info.clone();
        let checkpointing = framework.checkpoints() && !framework.terminating;
        if checkpointing && known.as_ref() != Some(&framework_info) {
            if let Err(e) = checkpoint.write_framework(&framework_info) {
                tracing::error!(framework_id = %fid, error = %e, "cannot checkpoint the framework");
            }
        }
        if framework.terminating {
            drop(state);
            fail_all(
                &mut next,
                TaskState::TaskLost,
                Reason::FrameworkRemoved,
                "The framework is shutting down",
            );
            return self.finish_launch(&framework_id, next);
        }
        let killing_state =
            framework.has_capability(v1::framework_info::capability::Type::TaskKillingState);
        let user = Some(framework_info.user.clone()).filter(|u| !u.is_empty());
        let layout = self.layout.clone();
        let group_id = group.then(|| uuid::Uuid::new_v4().to_string());
        let mut custom_batch: Vec<String> = Vec::new();

        for task in &request.tasks {
            let tid = task.task_id.value.clone();
            if let Err(e) = validate_id("task ID", &tid) {
                next.push(Next::Fail(
                    task.task_id.clone(),
                    TaskState::TaskError,
                    Reason::TaskInvalid,
                    e.to_string(),
                ));
                continue;
            }
            if framework
                .executors
                .values()
                .any(|e| e.tasks.contains_key(&tid))
            {
                tracing::error!(framework_id = %fid, task_id = %tid, "task ID already in use; launch ignored");
                continue;
            }
            let grace = policy_grace(task.kill_policy.as_ref()).unwrap_or(DEFAULT_KILL_GRACE);
            match &request.executor {
                None => {
                    // The built-in command executor: one executor per task.
                    let Some(command) = task.command.clone() else {
                        next.push(Next::Fail(
                            task.task_id.clone(),
                            TaskState::TaskError,
                            Reason::TaskInvalid,
                            "A task without an executor needs a command".into(),
                        ));
                        continue;
                    };
                    if framework.executors.contains_key(&tid) {
                        next.push(Next::Fail(
                            task.task_id.clone(),
                            TaskState::TaskError,
                            Reason::TaskInvalid,
                            "An executor with this task's ID exists".into(),
                        ));
                        continue;
                    }
                    let container_id = new_container_id(None);
                    let sandbox = layout.run_dir(&agent_id.value, &fid, &tid, &container_id.value);
                    if let Err(e) = create_sandbox(&sandbox).and_then(|()| {
                        crate::volumes::link(layout.work_dir(), &sandbox, &task.resources)
                    }) {
                        next.push(Next::Fail(
                            task.task_id.clone(),
                            TaskState::TaskFailed,
                            Reason::ContainerLaunchFailed,
                            e.to_string(),
                        ));
                        continue;
                    }
                    // Mesos names the command executor's `source` after the task.
                    #[allow(deprecated)]
                    let info = v1::ExecutorInfo {
                        r#type: Some(executor_info::Type::Default as i32),
                        executor_id: v1::ExecutorId { value: tid.clone() },
                        framework_id: Some(framework_id.clone()),
                        name: Some(format!(
                            "Command Executor (Task: {tid}) (Command: {})",
                            describe_command(&command)
                        )),
                        source: Some(tid.clone()),
                        resources: task.resources.clone(),
                        ..Default::default()
                    };
                    if checkpointing {
                        let executor = ExecutorRecord {
                            info: info.clone(),
                            kind: ExecutorKind::Command,
                            container_id: container_id.clone(),
                            sandbox: sandbox.clone(),
                        };
                        let record = TaskRecord {
                            info: task.clone(),
                            executor_id: tid.clone(),
                            group: None,
                            container_id: Some(container_id.clone()),
                        };
                        let written = checkpoint
                            .write_executor(&fid, &executor)
                            .and_then(|()| checkpoint.write_task(&fid, &record));
                        if let Err(e) = written {
                            next.push(not_checkpointed(&task.task_id, &e));
                            continue;
                        }
                    }
                    let mut executor = Executor::new(
                        info,
                        ExecutorKind::Command,
                        container_id.clone(),
                        sandbox.clone(),
                    );
                    let (tx, rx) = mpsc::unbounded_channel();
                    let mut entry = Task::new(task.clone());
                    entry.control = Some(tx);
                    entry.container_id = Some(container_id.clone());
                    executor.tasks.insert(tid.clone(), entry);
                    framework.executors.insert(tid.clone(), executor);
                    next.push(Next::Builtin(
                        Box::new(BuiltinTask {
                            framework_id: framework_id.clone(),
                            executor_id: v1::ExecutorId { value: tid.clone() },
                            checkpoint_dir: checkpoint.container_dir(&container_id),
                            container_id,
                            sandbox,
                            task: task.clone(),
                            grace,
                            killing_state,
                            user: user.clone(),
                            executor_pid: None,
                        }),
                        rx,
                    ));
                }
                Some(executor_info) => {
                    let eid = executor_info.executor_id.value.clone();
                    if let Err(e) = validate_id("executor ID", &eid) {
                        next.push(Next::Fail(
                            task.task_id.clone(),
                            TaskState::TaskError,
                            Reason::TaskInvalid,
                            e.to_string(),
                        ));
                        continue;
                    }
                    if !framework.executors.contains_key(&eid) {
                        let mut info = executor_info.clone();
                        info.framework_id = Some(framework_id.clone());
                        let builtin = info.r#type == Some(executor_info::Type::Default as i32)
                            || info.command.is_none();
                        let kind = if builtin {
                            ExecutorKind::Default
                        } else {
                            ExecutorKind::Custom
                        };
                        let container_id = new_container_id(None);
                        let sandbox =
                            layout.run_dir(&agent_id.value, &fid, &eid, &container_id.value);
                        if let Err(e) = create_sandbox(&sandbox).and_then(|()| {
                            crate::volumes::link(layout.work_dir(), &sandbox, &task.resources)
                        }) {
                            next.push(Next::Fail(
                                task.task_id.clone(),
                                TaskState::TaskFailed,
                                Reason::ContainerLaunchFailed,
                                e.to_string(),
                            ));
                            continue;
                        }
                        if checkpointing {
                            let record = ExecutorRecord {
                                info: info.clone(),
                                kind,
                                container_id: container_id.clone(),
                                sandbox: sandbox.clone(),
                            };
                            if let Err(e) = checkpoint.write_executor(&fid, &record) {
                                next.push(not_checkpointed(&task.task_id, &e));
                                continue;
                            }
                        }
                        if kind == ExecutorKind::Custom {
                            next.push(Next::Custom(Box::new(CustomLaunch {
                                framework_id: framework_id.clone(),
                                info: info.clone(),
                                checkpoint_dir: checkpoint.container_dir(&container_id),
                                container_id: container_id.clone(),
                                sandbox: sandbox.clone(),
                                user: user.clone(),
                                checkpoint: checkpointing,
                            })));
                        }
                        tracing::info!(framework_id = %fid, executor_id = %eid, ?kind, sandbox = %sandbox.display(), "starting executor");
                        framework.executors.insert(
                            eid.clone(),
                            Executor::new(info, kind, container_id, sandbox),
                        );
                    }
                    let Some(executor) = framework.executors.get_mut(&eid) else {
                        continue;
                    };
                    if !executor.is_live() {
                        next.push(Next::Fail(
                            task.task_id.clone(),
                            TaskState::TaskLost,
                            Reason::ExecutorTerminated,
                            "The executor is terminating".into(),
                        ));
                        continue;
                    }
                    let mut entry = Task::new(task.clone());
                    entry.group = group_id.clone();
                    let nested = (executor.kind != ExecutorKind::Custom)
                        .then(|| new_container_id(Some(&executor.container_id)));
                    if checkpointing {
                        let record = TaskRecord {
                            info: task.clone(),
                            executor_id: eid.clone(),
                            group: group_id.clone(),
                            container_id: nested.clone(),
                        };
                        if let Err(e) = checkpoint.write_task(&fid, &record) {
                            next.push(not_checkpointed(&task.task_id, &e));
                            continue;
                        }
                    }
                    match executor.kind {
                        ExecutorKind::Custom => {
                            entry.queued = executor.phase == ExecutorPhase::Registering;
                            executor.tasks.insert(tid.clone(), entry);
                            custom_batch.push(tid.clone());
                        }
                        ExecutorKind::Default | ExecutorKind::Command => {
                            let container_id = nested
                                .unwrap_or_else(|| new_container_id(Some(&executor.container_id)));
                            let sandbox = executor.directory.join("tasks").join(&tid);
                            if let Err(e) = create_sandbox(&sandbox).and_then(|()| {
                                crate::volumes::link(layout.work_dir(), &sandbox, &task.resources)
                            }) {
                                next.push(Next::Fail(
                                    task.task_id.clone(),
                                    TaskState::TaskFailed,
                                    Reason::ContainerLaunchFailed,
                                    e.to_string(),
                                ));
                                continue;
                            }
                            let (tx, rx) = mpsc::unbounded_channel();
                            entry.control = Some(tx);
                            entry.container_id = Some(container_id.clone());
                            executor.tasks.insert(tid.clone(), entry);
                            next.push(Next::Builtin(
                                Box::new(BuiltinTask {
                                    framework_id: framework_id.clone(),
                                    executor_id: executor.id().clone(),
                                    checkpoint_dir: checkpoint.container_dir(&container_id),
                                    container_id,
                                    sandbox,
                                    task: task.clone(),
                                    grace,
                                    killing_state,
                                    executor_pid: None,
                                    user: user.clone(),
                                }),
                                rx,
                            ));
                        }
                    }
                }
            }
        }
        if let (Some(info), false) = (&request.executor, custom_batch.is_empty()) {
            if let Some(executor) = framework.executors.get_mut(&info.executor_id.value) {
                if executor.phase == ExecutorPhase::Registering {
                    executor.pending_launches.push((group, custom_batch));
                } else if let Some(events_tx) = &executor.events {
                    let tasks: Vec<v1::TaskInfo> = custom_batch
                        .iter()
                        .filter_map(|id| executor.tasks.get(id))
                        .map(|t| t.info.clone())
                        .collect();
                    for event in events::launches(group, tasks) {
                        if events_tx.try_send(event).is_err() {
                            tracing::warn!(framework_id = %fid, executor_id = %info.executor_id.value, "cannot deliver a launch to the executor");
                        }
                    }
                }
            }
        }
        let limits = request
            .executor
            .as_ref()
            .and_then(|info| state.executor_limits(&fid, &info.executor_id.value));
        drop(state);
        self.update_limits(limits);
        self.finish_launch(&framework_id, next);
    }

    fn finish_launch(self: &Arc<Self>, framework_id: &v1::FrameworkId, next: Vec<Next>) {
        for step in next {
            match step {
                Next::Fail(task_id, state, reason, message) => {
                    tracing::warn!(framework_id = %framework_id.value, task_id = %task_id.value, %message, "task cannot be run");
                    self.report_from_agent(framework_id, &task_id, state, Some(reason), message);
                }
                Next::Builtin(task, control) => {
                    tokio::spawn(Arc::clone(self).run_builtin_task(*task, control));
                }
                Next::Custom(launch) => {
                    tokio::spawn(Arc::clone(self).run_custom_executor(*launch));
                }
            }
        }
    }
}

/// The failure of a task whose checkpoint could not be written: it is not
/// run, since a restart would lose track of it.
fn not_checkpointed(task_id: &v1::TaskId, error: &crate::error::AgentError) -> Next {
    Next::Fail(
        task_id.clone(),
        TaskState::TaskFailed,
        Reason::ContainerLaunchFailed,
        format!("Cannot checkpoint the task: {error}"),
    )
}

/// `sh -c 'echo hi'` or `/bin/app arg`, for the command executor's name.
fn describe_command(command: &v1::CommandInfo) -> String {
    if command.shell() {
        format!("sh -c '{}'", command.value())
    } else {
        let mut parts = vec![command.value().to_string()];
        parts.extend(command.arguments.iter().skip(1).cloned());
        parts.join(" ")
    }
}
