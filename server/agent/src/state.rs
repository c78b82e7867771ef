//! What the agent runs: frameworks → executors → tasks, and their lifecycles.
//!
//! ```text
//! executor:  Registering ──SUBSCRIBE──▶ Running ──SHUTDOWN/kill──▶ Terminating
//!                 │                        │                           │
//!                 └────────── container ended (any phase) ─────────────┴──▶ Terminated
//! task:      queued (custom executor not subscribed yet) ──▶ launched ──▶ terminal
//!            update accepted ──▶ terminal update acknowledged ──▶ completed
//! ```
//! A task leaves `tasks` for `completed_tasks` only when the master has
//! acknowledged its terminal update; an executor leaves `executors` when its
//! container has ended *and* it has no tasks left; a framework leaves
//! `frameworks` when it has no executors left. Completed lists are bounded.
//! Retiring an executor or a framework also forgets its checkpoint.
//!
//! Everything here is plain data guarded by one mutex in [`crate::inner`];
//! no lock is held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use meseta_proto::executor;
use meseta_proto::v1::{self, TaskState};
use tokio::sync::mpsc;

use crate::checkpoint::Checkpointer;
use crate::status_updates::{is_terminal, StatusUpdateManager};

/// Completed frameworks kept for `/state`.
pub const MAX_COMPLETED_FRAMEWORKS: usize = 50;
/// Completed executors kept per framework.
pub const MAX_COMPLETED_EXECUTORS: usize = 150;
/// Completed tasks kept per executor.
pub const MAX_COMPLETED_TASKS: usize = 1000;
/// Statuses kept per task.
pub const MAX_STATUSES: usize = 16;

/// Who runs an executor's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecutorKind {
    /// The agent's built-in command executor (one task, executor ID = task ID).
    Command,
    /// The agent's built-in default executor (task groups, one process each).
    Default,
    /// A framework's executor process, speaking the executor HTTP API.
    Custom,
}

impl ExecutorKind {
    /// The kind's name in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            ExecutorKind::Command => "command",
            ExecutorKind::Default => "default",
            ExecutorKind::Custom => "custom",
        }
    }

    /// The kind named `name` in a checkpoint.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "command" => Some(ExecutorKind::Command),
            "default" => Some(ExecutorKind::Default),
            "custom" => Some(ExecutorKind::Custom),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecutorPhase {
    Registering,
    Running,
    Terminating,
    Terminated,
}

/// A request to a built-in executor's task.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Control {
    Kill { grace: Duration },
}

#[derive(Debug)]
pub(crate) struct Task {
    pub info: v1::TaskInfo,
    pub state: i32,
    pub statuses: Vec<v1::TaskStatus>,
    /// Waiting for the custom executor to subscribe.
    pub queued: bool,
    /// Kill channel of a built-in executor's task.
    pub control: Option<mpsc::UnboundedSender<Control>>,
    /// The task group it was launched with (built-in default executor).
    pub group: Option<String>,
    /// The container of a built-in executor's task.
    pub container_id: Option<v1::ContainerId>,
}

impl Task {
    pub fn new(info: v1::TaskInfo) -> Self {
        Self {
            info,
            state: TaskState::TaskStaging as i32,
            statuses: Vec::new(),
            queued: false,
            control: None,
            group: None,
            container_id: None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Executor {
    pub info: v1::ExecutorInfo,
    pub kind: ExecutorKind,
    pub container_id: v1::ContainerId,
    pub directory: PathBuf,
    pub phase: ExecutorPhase,
    /// The subscribed executor's event stream (custom executors).
    pub events: Option<mpsc::Sender<executor::Event>>,
    /// Launches waiting for SUBSCRIBE: (is a group, task IDs).
    pub pending_launches: Vec<(bool, Vec<String>)>,
    pub tasks: HashMap<String, Task>,
    pub completed_tasks: VecDeque<Task>,
    /// Taken back after an agent restart and not yet re-subscribed (custom
    /// executors).
    pub recovered: bool,
}

impl Executor {
    pub fn new(
        info: v1::ExecutorInfo,
        kind: ExecutorKind,
        container_id: v1::ContainerId,
        directory: PathBuf,
    ) -> Self {
        let phase = match kind {
            ExecutorKind::Custom => ExecutorPhase::Registering,
            ExecutorKind::Command | ExecutorKind::Default => ExecutorPhase::Running,
        };
        Self {
            info,
            kind,
            container_id,
            directory,
            phase,
            events: None,
            pending_launches: Vec::new(),
            tasks: HashMap::new(),
            completed_tasks: VecDeque::new(),
            recovered: false,
        }
    }

    pub fn id(&self) -> &v1::ExecutorId {
        &self.info.executor_id
    }

    pub fn is_live(&self) -> bool {
        matches!(
            self.phase,
            ExecutorPhase::Registering | ExecutorPhase::Running
        )
    }
}

/// A task as the Mesos APIs show it (`mesos.v1.Task`): what the agent
/// reports to the master on registration and to operators.
pub(crate) fn task_view(
    framework: &Framework,
    executor: &Executor,
    task: &Task,
    agent_id: &v1::AgentId,
) -> v1::Task {
    let executor_id = (executor.kind != ExecutorKind::Command).then(|| executor.id().clone());
    v1::Task {
        name: task.info.name.clone(),
        task_id: task.info.task_id.clone(),
        framework_id: framework.id.clone(),
        executor_id,
        agent_id: agent_id.clone(),
        state: task.state,
        resources: task.info.resources.clone(),
        statuses: task.statuses.clone(),
        labels: task.info.labels.clone(),
        discovery: task.info.discovery.clone().map(Box::new),
        container: task.info.container.clone().map(Box::new),
        health_check: task.info.health_check.clone().map(Box::new),
        kill_policy: task.info.kill_policy,
        user: Some(framework.info.user.clone()).filter(|u| !u.is_empty()),
        ..Default::default()
    }
}

#[derive(Debug)]
pub(crate) struct Framework {
    pub info: v1::FrameworkInfo,
    pub id: v1::FrameworkId,
    pub executors: HashMap<String, Executor>,
    pub completed_executors: VecDeque<Executor>,
    /// Shut down by the master: no new tasks, its updates are dropped.
    pub terminating: bool,
}

impl Framework {
    /// Whether the framework asked for checkpointing (its work survives an
    /// agent restart).
    pub fn checkpoints(&self) -> bool {
        self.info.checkpoint()
    }

    pub fn has_capability(&self, capability: v1::framework_info::capability::Type) -> bool {
        self.info
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(capability as i32))
    }
}

/// Counters Mesos reports as `slave/...` metrics.
#[derive(Debug, Default, Clone)]
pub(crate) struct Counters {
    pub tasks_finished: u64,
    pub tasks_failed: u64,
    pub tasks_killed: u64,
    pub tasks_lost: u64,
    pub tasks_error: u64,
    pub tasks_dropped: u64,
    pub tasks_gone: u64,
    pub valid_status_updates: u64,
    pub invalid_status_updates: u64,
    pub valid_framework_messages: u64,
    pub invalid_framework_messages: u64,
    pub executors_terminated: u64,
}

#[derive(Debug)]
pub(crate) struct AgentState {
    pub agent_id: Option<v1::AgentId>,
    pub registered: bool,
    pub shutting_down: bool,
    /// Containers being started right now (see [`crate::inner`]'s
    /// `begin_launch`): the agent's shutdown waits for them.
    pub launching: usize,
    pub frameworks: HashMap<String, Framework>,
    pub completed_frameworks: VecDeque<Framework>,
    pub updates: StatusUpdateManager,
    pub counters: Counters,
    /// Where retired executors and frameworks are forgotten on disk.
    pub checkpoint: Checkpointer,
    /// The ID this agent had before it discarded an incompatible
    /// checkpoint, until it registers anew.
    pub previous_agent_id: Option<v1::AgentId>,
    /// Its resources as the master last sent them (after dynamic
    /// reservations); `None`: as `--resources` says.
    pub resources: Option<Vec<v1::Resource>>,
}

impl AgentState {
    pub fn new(
        agent_id: Option<v1::AgentId>,
        updates: StatusUpdateManager,
        checkpoint: Checkpointer,
    ) -> Self {
        Self {
            agent_id,
            registered: false,
            shutting_down: false,
            launching: 0,
            frameworks: HashMap::new(),
            completed_frameworks: VecDeque::new(),
            updates,
            counters: Counters::default(),
            checkpoint,
            previous_agent_id: None,
            resources: None,
        }
    }

    pub fn executor(&self, framework_id: &str, executor_id: &str) -> Option<&Executor> {
        self.frameworks
            .get(framework_id)?
            .executors
            .get(executor_id)
    }

    pub fn executor_mut(&mut self, framework_id: &str, executor_id: &str) -> Option<&mut Executor> {
        self.frameworks
            .get_mut(framework_id)?
            .executors
            .get_mut(executor_id)
    }

    /// The executor running (or about to run) a task.
    pub fn executor_of_task(&self, framework_id: &str, task_id: &str) -> Option<&Executor> {
        self.frameworks
            .get(framework_id)?
            .executors
            .values()
            .find(|e| e.tasks.contains_key(task_id))
    }

    pub fn executor_of_task_mut(
        &mut self,
        framework_id: &str,
        task_id: &str,
    ) -> Option<&mut Executor> {
        self.frameworks
            .get_mut(framework_id)?
            .executors
            .values_mut()
            .find(|e| e.tasks.contains_key(task_id))
    }

    /// What an executor's container may use now: the executor's own
    /// resources and those of its unfinished tasks. `None` for the command
    /// executor (its container holds its one task, limited at launch) and
    /// for executors that ended.
    pub fn executor_limits(
        &self,
        framework_id: &str,
        executor_id: &str,
    ) -> Option<(v1::ContainerId, Vec<v1::Resource>)> {
        let executor = self.executor(framework_id, executor_id)?;
        if executor.kind == ExecutorKind::Command || !executor.is_live() {
            return None;
        }
        let mut resources = executor.info.resources.clone();
        for task in executor.tasks.values().filter(|t| !is_terminal(t.state)) {
            resources.extend(task.info.resources.iter().cloned());
        }
        Some((executor.container_id.clone(), resources))
    }

    /// True when the task's terminal update was acknowledged (it is in a
    /// completed list); a late update for it is a duplicate.
    pub fn is_completed(&self, framework_id: &str, task_id: &str) -> bool {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return false;
        };
        let live = framework
            .executors
            .values()
            .any(|e| e.tasks.contains_key(task_id));
        !live
            && framework
                .executors
                .values()
                .chain(&framework.completed_executors)
                .flat_map(|e| &e.completed_tasks)
                .any(|t| t.info.task_id.value == task_id)
    }

    /// Records a status update the agent accepted. Returns true for the
    /// task's first terminal update (counted in the metrics).
    pub fn record_status(&mut self, framework_id: &str, status: &v1::TaskStatus) -> bool {
        let Some(executor) = self.executor_of_task_mut(framework_id, &status.task_id.value) else {
            return false;
        };
        let Some(task) = executor.tasks.get_mut(&status.task_id.value) else {
            return false;
        };
        let first_terminal = is_terminal(status.state) && !is_terminal(task.state);
        task.state = status.state;
        task.queued = false;
        let mut kept = status.clone();
        kept.data = None;
        task.statuses.push(kept);
        if task.statuses.len() > MAX_STATUSES {
            task.statuses.remove(0);
        }
        if first_terminal {
            task.control = None;
            let c = &mut self.counters;
            match TaskState::try_from(status.state) {
                Ok(TaskState::TaskFinished) => c.tasks_finished += 1,
                Ok(TaskState::TaskFailed) => c.tasks_failed += 1,
                Ok(TaskState::TaskKilled) => c.tasks_killed += 1,
                Ok(TaskState::TaskLost) => c.tasks_lost += 1,
                Ok(TaskState::TaskError) => c.tasks_error += 1,
                Ok(TaskState::TaskDropped) => c.tasks_dropped += 1,
                _ => c.tasks_gone += 1,
            }
        }
        first_terminal
    }

    /// Moves a task whose terminal update was acknowledged to the completed
    /// list, then retires its executor and framework if they are done.
    pub fn complete_task(&mut self, framework_id: &str, task_id: &str) {
        let Some(executor) = self.executor_of_task_mut(framework_id, task_id) else {
            return;
        };
        let executor_id = executor.id().value.clone();
        if let Some(task) = executor.tasks.remove(task_id) {
            executor.completed_tasks.push_back(task);
            if executor.completed_tasks.len() > MAX_COMPLETED_TASKS {
                executor.completed_tasks.pop_front();
            }
        }
        self.retire_if_done(framework_id, &executor_id);
    }

    /// Completes every task of a framework that already reached a terminal
    /// state: used when no acknowledgement will come any more (the
    /// framework was shut down).
    pub fn complete_terminal_tasks(&mut self, framework_id: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let done: Vec<String> = framework
            .executors
            .values()
            .flat_map(|e| e.tasks.values())
            .filter(|t| is_terminal(t.state))
            .map(|t| t.info.task_id.value.clone())
            .collect();
        for task_id in done {
            self.complete_task(framework_id, &task_id);
        }
    }

    /// Retires an executor that ended and has no tasks left, then its
    /// framework if it has no executors left.
    pub fn retire_if_done(&mut self, framework_id: &str, executor_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let done = framework
            .executors
            .get(executor_id)
            .is_some_and(|e| e.phase == ExecutorPhase::Terminated && e.tasks.is_empty());
        if done {
            if let Some(executor) = framework.executors.remove(executor_id) {
                self.checkpoint.remove_executor(framework_id, executor_id);
                framework.completed_executors.push_back(executor);
                if framework.completed_executors.len() > MAX_COMPLETED_EXECUTORS {
                    framework.completed_executors.pop_front();
                }
            }
        }
        if framework.executors.is_empty() {
            if let Some(framework) = self.frameworks.remove(framework_id) {
                self.checkpoint.remove_framework(framework_id);
                tracing::info!(
                    framework_id,
                    "framework has no executors left; it is completed"
                );
                self.completed_frameworks.push_back(framework);
                if self.completed_frameworks.len() > MAX_COMPLETED_FRAMEWORKS {
                    self.completed_frameworks.pop_front();
                }
            }
        }
    }

    /// Tasks in a given state, over all live executors.
    pub fn count_tasks(&self, state: TaskState) -> usize {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .flat_map(|e| e.tasks.values())
            .filter(|t| t.state == state as i32)
            .count()
    }

    /// Executors in a given phase.
    pub fn count_executors(&self, phase: ExecutorPhase) -> usize {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .filter(|e| e.phase == phase)
            .count()
    }
}
