//! Recovery: what a starting agent does with the [checkpoint] of the run
//! before it.
//!
//! 1. **Judge.** The checkpointed `AgentInfo` is compared with what this
//!    run would register (hostname, resources, attributes; not the port).
//!    If they differ — or the operator asked for `--recover=cleanup` — the
//!    old work cannot be taken back under the old ID: every recorded
//!    container is killed, the `meta` directory is moved aside
//!    (`meta.<old ID>.discarded`, replacing an earlier one), and the agent
//!    registers as a new agent naming the old ID in
//!    `Register.previous_agent_id`, so the master can report the old tasks
//!    gone at once.
//! 2. **Take back.** Otherwise the containerizer re-attaches to every
//!    recorded container. Frameworks that checkpoint get their executors
//!    and tasks back; each task's update stream is rebuilt from its journal
//!    (the task's state is its last update's). Containers nothing refers to
//!    — those of frameworks that do not checkpoint, or left by a crash in
//!    the middle of a launch — are killed, as Mesos kills such orphans; the
//!    master learns that their tasks are gone when the agent re-registers
//!    without them.
//! 3. **Resume** (once the agent runs): a built-in executor's task whose
//!    process lives is watched again (`TASK_RUNNING` is reported if the
//!    crash came before it was); one whose process ended meanwhile gets its
//!    terminal update from the recorded exit status. A task with no
//!    recorded process never started: it is reported `TASK_LOST` (or
//!    `TASK_DROPPED` to partition-aware frameworks). A custom executor gets
//!    `executor_reregistration_timeout` to subscribe again.
//!
//! The agent then registers with its old ID and reports the recovered
//! tasks; unacknowledged updates are re-sent after registration.
//!
//! [checkpoint]: crate::checkpoint

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use meseta_proto::v1::{self, framework_info::capability::Type as Capability, TaskState};
use meseta_proto::{json, resources::describe};
use tokio::sync::mpsc;

use crate::builtin_executor::BuiltinTask;
use crate::checkpoint::load::{Loaded, LoadedFramework};
use crate::checkpoint::Checkpointer;
use crate::config::{RecoverMode, Settings};
use crate::containerizer::{container_key, Containerizer, RecoverRequest, Signal};
use crate::custom_executor::CustomLaunch;
use crate::inner::Inner;
use crate::launch::{policy_grace, DEFAULT_KILL_GRACE};
use crate::sandbox::Layout;
use crate::state::{
    AgentState, Control, Executor, ExecutorKind, ExecutorPhase, Framework, Task, MAX_STATUSES,
};
use crate::status_updates::{is_terminal, StreamKey};

/// Work taken back, to resume once the agent runs.
pub(crate) enum Resume {
    /// Watch a built-in executor's task again.
    Builtin {
        spec: Box<BuiltinTask>,
        control: mpsc::UnboundedReceiver<Control>,
        /// Updates to report first (the crash came before they were).
        announce: Vec<TaskState>,
        /// A kill had been requested: the process ended, so it was killed.
        killed: bool,
    },
    /// Give a custom executor its chance to subscribe again.
    Custom(Box<CustomLaunch>),
    /// A task that never started: report it gone.
    Gone {
        framework_id: v1::FrameworkId,
        task_id: v1::TaskId,
        state: TaskState,
    },
}

/// What recovery produced: the agent's state, who it was before a fresh
/// start, and the work to resume.
pub(crate) struct Recovered {
    pub state: AgentState,
    pub previous_agent_id: Option<v1::AgentId>,
    pub resume: Vec<Resume>,
}

/// Why the checkpointed agent cannot be taken back, if it cannot.
fn incompatibility(
    settings: &Settings,
    resources: &[v1::Resource],
    saved: &v1::AgentInfo,
) -> Option<String> {
    fn normal<M: prost::Message + prost::Name>(items: &[M]) -> Vec<String> {
        let mut out: Vec<String> = items
            .iter()
            .map(|i| json::to_value(i).to_string())
            .collect();
        out.sort();
        out
    }
    let mut changes = Vec::new();
    if saved.hostname != settings.hostname {
        changes.push(format!(
            "hostname {:?} is now {:?}",
            saved.hostname, settings.hostname
        ));
    }
    if normal(&saved.resources) != normal(resources) {
        changes.push(format!(
            "resources {} are now {}",
            describe(&saved.resources),
            describe(resources)
        ));
    }
    if normal(&saved.attributes) != normal(&settings.attributes) {
        changes.push("the attributes changed".to_string());
    }
    (!changes.is_empty()).then(|| changes.join("; "))
}

/// Reads the checkpoint and takes back what can be (see the module docs).
pub(crate) async fn recover(
    settings: &Settings,
    layout: &Layout,
    containerizer: &dyn Containerizer,
    mut state: AgentState,
    loaded: Loaded,
) -> Recovered {
    let saved_id = state.agent_id.clone();
    let discard = match (&loaded.agent_info, settings.config.recover) {
        (_, RecoverMode::Cleanup) if !loaded.is_empty() || saved_id.is_some() => {
            Some("--recover=cleanup".to_string())
        }
        (Some(saved), _) => incompatibility(
            settings,
            state.resources.as_deref().unwrap_or(&settings.resources),
            saved,
        ),
        _ => None,
    };
    let requests: Vec<RecoverRequest> = loaded
        .containers
        .iter()
        .map(|(id, dir)| RecoverRequest {
            container_id: id.clone(),
            checkpoint_dir: dir.clone(),
        })
        .collect();
    let recovered = match containerizer.recover(requests).await {
        Ok(recovered) => recovered,
        Err(e) => {
            tracing::error!(error = %e, "cannot recover the containers of the previous run");
            Vec::new()
        }
    };
    // Container key → still running.
    let known: HashMap<String, bool> = recovered
        .iter()
        .map(|c| (container_key(&c.container_id), c.running))
        .collect();
    if let Some(reason) = discard {
        let old = saved_id.as_ref().map_or("(none)", |id| id.value.as_str());
        tracing::warn!(
            previous_agent_id = old,
            %reason,
            "THE CHECKPOINTED AGENT DOES NOT MATCH THIS ONE: killing its {} container(s) and registering as a new agent",
            recovered.iter().filter(|c| c.running).count()
        );
        for container in &recovered {
            let _ = containerizer
                .kill(&container.container_id, Signal::Kill)
                .await;
        }
        set_aside(layout, saved_id.as_ref());
        state.agent_id = None;
        state.resources = None;
        return Recovered {
            state,
            previous_agent_id: saved_id,
            resume: Vec::new(),
        };
    }
    let had_work = !loaded.is_empty();
    let mut resume = Vec::new();
    let mut wanted = HashSet::new();
    let checkpoint = state.checkpoint.clone();
    for framework in loaded.frameworks {
        take_back(
            &mut state,
            &checkpoint,
            &known,
            framework,
            &mut wanted,
            &mut resume,
        );
    }
    let mut orphans = 0;
    for (id, _) in &loaded.containers {
        if wanted.contains(&container_key(id)) {
            continue;
        }
        if known.contains_key(&container_key(id)) {
            let _ = containerizer.kill(id, Signal::Kill).await;
            orphans += 1;
        }
        checkpoint.remove_container(id);
    }
    let tasks: usize = state
        .frameworks
        .values()
        .flat_map(|f| f.executors.values())
        .map(|e| e.tasks.len())
        .sum();
    if had_work {
        tracing::info!(
            frameworks = state.frameworks.len(),
            tasks,
            pending_updates = state.updates.pending_count(),
            killed_orphans = orphans,
            "recovered the previous run's work"
        );
    }
    Recovered {
        state,
        previous_agent_id: None,
        resume,
    }
}

/// Moves the checkpoint aside (keeping the latest one for post-mortems).
fn set_aside(layout: &Layout, old: Option<&v1::AgentId>) {
    let meta = layout.meta_dir();
    let name = format!(
        "meta.{}.discarded",
        old.map_or("unregistered", |id| id.value.as_str())
    );
    let aside = layout.work_dir().join(name);
    let _ = std::fs::remove_dir_all(&aside);
    if let Err(e) = std::fs::rename(&meta, &aside) {
        tracing::warn!(error = %e, "cannot move the old checkpoint aside; removing it");
        let _ = std::fs::remove_dir_all(&meta);
    }
}

/// Rebuilds one checkpointing framework with its executors and tasks.
fn take_back(
    state: &mut AgentState,
    checkpoint: &Checkpointer,
    known: &HashMap<String, bool>,
    loaded: LoadedFramework,
    wanted: &mut HashSet<String>,
    resume: &mut Vec<Resume>,
) {
    let Some(framework_id) = loaded.info.id.clone() else {
        return;
    };
    let fid = framework_id.value.clone();
    if !loaded.info.checkpoint() {
        checkpoint.remove_framework(&fid);
        return;
    }
    let mut framework = Framework {
        info: loaded.info,
        id: framework_id.clone(),
        executors: HashMap::new(),
        completed_executors: Default::default(),
        terminating: false,
    };
    let killing_state = framework.has_capability(Capability::TaskKillingState);
    let partition_aware = framework.has_capability(Capability::PartitionAware);
    let user = Some(framework.info.user.clone()).filter(|u| !u.is_empty());
    for record in loaded.executors {
        let eid = record.info.executor_id.value.clone();
        let mut executor = Executor::new(
            record.info,
            record.kind,
            record.container_id,
            record.sandbox,
        );
        if record.kind == ExecutorKind::Custom {
            wanted.insert(container_key(&executor.container_id));
            executor.recovered = true;
            resume.push(Resume::Custom(Box::new(CustomLaunch {
                framework_id: framework_id.clone(),
                info: executor.info.clone(),
                container_id: executor.container_id.clone(),
                checkpoint_dir: checkpoint.container_dir(&executor.container_id),
                sandbox: executor.directory.clone(),
                user: user.clone(),
                checkpoint: true,
            })));
        }
        framework.executors.insert(eid, executor);
    }
    for task in loaded.tasks {
        let tid = task.record.info.task_id.value.clone();
        let key = StreamKey {
            framework_id: fid.clone(),
            task_id: tid.clone(),
        };
        let (history, open) = state.updates.recover(&key, task.journal);
        if !open && !history.is_empty() {
            // Its terminal update was acknowledged: it is complete.
            checkpoint.remove_task(&fid, &tid);
            continue;
        }
        let Some(executor) = framework.executors.get_mut(&task.record.executor_id) else {
            tracing::warn!(framework_id = %fid, task_id = %tid, "the checkpoint names no executor for this task; it is not recovered");
            continue;
        };
        let mut entry = Task::new(task.record.info.clone());
        entry.group = task.record.group.clone();
        entry.container_id = task.record.container_id.clone();
        if let Some(last) = history.last() {
            entry.state = last.state;
        }
        let skip = history.len().saturating_sub(MAX_STATUSES);
        entry.statuses = history.into_iter().skip(skip).collect();
        for status in &mut entry.statuses {
            status.data = None;
        }
        if executor.kind != ExecutorKind::Custom && !is_terminal(entry.state) {
            let container_id = entry
                .container_id
                .clone()
                .unwrap_or_else(|| executor.container_id.clone());
            let key = container_key(&container_id);
            wanted.insert(key.clone());
            let Some(running) = known.get(&key).copied() else {
                let state = if partition_aware {
                    TaskState::TaskDropped
                } else {
                    TaskState::TaskLost
                };
                resume.push(Resume::Gone {
                    framework_id: framework_id.clone(),
                    task_id: entry.info.task_id.clone(),
                    state,
                });
                executor.tasks.insert(tid, entry);
                continue;
            };
            {
                let (tx, rx) = mpsc::unbounded_channel();
                let sandbox = match executor.kind {
                    ExecutorKind::Default => executor.directory.join("tasks").join(&tid),
                    _ => executor.directory.clone(),
                };
                let grace =
                    policy_grace(entry.info.kill_policy.as_ref()).unwrap_or(DEFAULT_KILL_GRACE);
                let kill_requested =
                    task.kill_requested || entry.state == TaskState::TaskKilling as i32;
                // A live process is killed again (the grace period restarts);
                // one that ended meanwhile was killed.
                if kill_requested && running {
                    let _ = tx.send(Control::Kill { grace });
                }
                let announce = if running {
                    match TaskState::try_from(entry.state) {
                        Ok(TaskState::TaskStaging) => {
                            vec![TaskState::TaskStarting, TaskState::TaskRunning]
                        }
                        Ok(TaskState::TaskStarting) => vec![TaskState::TaskRunning],
                        _ => Vec::new(),
                    }
                } else {
                    Vec::new()
                };
                entry.control = Some(tx);
                resume.push(Resume::Builtin {
                    spec: Box::new(BuiltinTask {
                        framework_id: framework_id.clone(),
                        executor_id: executor.id().clone(),
                        checkpoint_dir: checkpoint.container_dir(&container_id),
                        container_id,
                        sandbox,
                        task: entry.info.clone(),
                        grace,
                        killing_state,
                        user: user.clone(),
                        executor_pid: None,
                    }),
                    control: rx,
                    announce,
                    killed: kill_requested && !running,
                });
            }
        }
        executor.tasks.insert(tid, entry);
    }
    // Built-in executors with nothing left to run have ended.
    let mut ended = Vec::new();
    for (eid, executor) in &mut framework.executors {
        let idle = executor.tasks.values().all(|t| is_terminal(t.state));
        if executor.kind != ExecutorKind::Custom && idle {
            executor.phase = ExecutorPhase::Terminated;
            ended.push(eid.clone());
        }
    }
    tracing::info!(framework_id = %fid, executors = framework.executors.len(), "recovered framework");
    state.frameworks.insert(fid.clone(), framework);
    for eid in ended {
        state.retire_if_done(&fid, &eid);
    }
}

impl Inner {
    /// Resumes what recovery took back (see the module docs).
    pub(crate) fn resume(self: &Arc<Self>, work: Vec<Resume>) {
        for item in work {
            match item {
                Resume::Builtin {
                    spec,
                    control,
                    announce,
                    killed,
                } => {
                    for state in announce {
                        let _ = self.report(&spec.framework_id, spec.status(state, None));
                    }
                    tokio::spawn(Arc::clone(self).supervise_builtin_task(*spec, control, killed));
                }
                Resume::Custom(launch) => {
                    tokio::spawn(Arc::clone(self).run_recovered_custom_executor(*launch));
                }
                Resume::Gone {
                    framework_id,
                    task_id,
                    state,
                } => {
                    tracing::warn!(framework_id = %framework_id.value, task_id = %task_id.value, "task was being launched when the agent stopped; it never started");
                    self.report_from_agent(
                        &framework_id,
                        &task_id,
                        state,
                        Some(v1::task_status::Reason::AgentRestarted),
                        "The task had not started when the agent restarted".into(),
                    );
                    let fid = framework_id.value.clone();
                    let mut agent = self.lock();
                    let ended = agent
                        .executor_of_task(&fid, &task_id.value)
                        .filter(|e| e.kind != ExecutorKind::Custom)
                        .filter(|e| e.tasks.values().all(|t| is_terminal(t.state)))
                        .map(|e| e.id().value.clone());
                    if let Some(eid) = ended {
                        if let Some(executor) = agent.executor_mut(&fid, &eid) {
                            executor.phase = ExecutorPhase::Terminated;
                        }
                        agent.retire_if_done(&fid, &eid);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentConfig;

    #[test]
    fn recovery_judges_incompatible_agent_infos() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::derive(AgentConfig {
            work_dir: dir.path().into(),
            hostname: Some("h".into()),
            resources: Some("cpus:2;mem:100;disk:10;ports:[1-2]".into()),
            attributes: Some("rack:a".into()),
            ..Default::default()
        })
        .unwrap();
        let saved = v1::AgentInfo {
            hostname: "h".into(),
            resources: settings.resources.clone(),
            attributes: settings.attributes.clone(),
            port: Some(1234),
            ..Default::default()
        };
        let round_tripped: v1::AgentInfo = json::from_value(&json::to_value(&saved)).unwrap();
        assert_eq!(
            incompatibility(&settings, &settings.resources, &round_tripped),
            None
        );
        let mut more = round_tripped.clone();
        more.resources = meseta_proto::resources::parse_resources("cpus:4;mem:100").unwrap();
        let why = incompatibility(&settings, &settings.resources, &more).unwrap();
        assert!(why.contains("resources"), "{why}");
        let mut renamed = round_tripped;
        renamed.hostname = "other".into();
        assert!(incompatibility(&settings, &settings.resources, &renamed)
            .unwrap()
            .contains("hostname"));
    }
}
