//! The agent's checkpoint: what a restarted agent needs to take back the
//! work of the run before it.
//!
//! ```text
//! <work_dir>/meta/agent_id                                 the agent's ID
//! <work_dir>/meta/agent.json                               AgentInfo as registered
//! <work_dir>/meta/containers/<container>/pid               main process (containerizer)
//! <work_dir>/meta/containers/<container>/termination       how it ended (supervisor)
//! <work_dir>/meta/frameworks/<fw>/framework.json           FrameworkInfo
//! <work_dir>/meta/frameworks/<fw>/executors/<ex>/executor.json
//!                                                          ExecutorInfo, kind, container, sandbox
//! <work_dir>/meta/frameworks/<fw>/tasks/<task>/task.json   TaskInfo, executor, group, container
//! <work_dir>/meta/frameworks/<fw>/tasks/<task>/updates     status update journal
//! <work_dir>/meta/frameworks/<fw>/tasks/<task>/kill_requested
//! ```
//!
//! * Every container gets a directory under `containers/`, whatever its
//!   framework, so that a restarted agent can find and kill the processes
//!   it will not take back. Frameworks, executors and tasks are recorded
//!   only for frameworks that checkpoint (`FrameworkInfo.checkpoint`): the
//!   others are not recovered, as in Mesos.
//! * Tasks are keyed by framework, not executor: a task ID is unique within
//!   its framework, and so the status update journal finds a task's
//!   directory from the stream key alone. A task's directory lives as long
//!   as its update stream: acknowledging its terminal update removes it.
//! * Records are JSON (Mesos's mapping for the protobuf parts), written to
//!   a temporary file, fsync'ed, renamed into place, and the directory
//!   fsync'ed, so a crash leaves the old or the new record, never half.
//! * A task's state is not stored apart: it is the state of the last update
//!   in its journal (`TASK_STAGING` when it has none yet).
//! * Once [sealed](Checkpointer::seal) — the agent was dropped without a
//!   shutdown, as a crash would leave it — nothing more is written, so an
//!   agent started on the same work dir owns the files alone.

pub mod journal;
pub(crate) mod load;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use meseta_proto::{json, v1};
use serde::{Deserialize, Serialize};

use crate::containerizer::container_key;
use crate::error::AgentError;
use crate::state::ExecutorKind;

/// `meta/frameworks/<fw>/tasks/<task>`.
pub(crate) fn task_dir(meta: &Path, framework_id: &str, task_id: &str) -> PathBuf {
    framework_dir(meta, framework_id)
        .join("tasks")
        .join(task_id)
}

/// `meta/frameworks/<fw>`.
pub(crate) fn framework_dir(meta: &Path, framework_id: &str) -> PathBuf {
    meta.join("frameworks").join(framework_id)
}

/// `meta/frameworks/<fw>/executors/<ex>`.
pub(crate) fn executor_dir(meta: &Path, framework_id: &str, executor_id: &str) -> PathBuf {
    framework_dir(meta, framework_id)
        .join("executors")
        .join(executor_id)
}

/// `meta/containers/<container>`.
pub(crate) fn container_dir(meta: &Path, container_id: &v1::ContainerId) -> PathBuf {
    meta.join("containers").join(container_key(container_id))
}

pub(crate) const AGENT_FILE: &str = "agent.json";
pub(crate) const FRAMEWORK_FILE: &str = "framework.json";
pub(crate) const EXECUTOR_FILE: &str = "executor.json";
pub(crate) const TASK_FILE: &str = "task.json";
pub(crate) const KILL_FILE: &str = "kill_requested";

/// Makes a directory's entries durable (best effort: not every file system
/// supports fsync on directories).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new
/// contents: temporary file, fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    use std::io::Write;
    let dir = path
        .parent()
        .ok_or_else(|| AgentError::Config(format!("{} has no parent", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| AgentError::io("cannot create", dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.tmp"));
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()));
    written.map_err(|e| AgentError::io("cannot write", &temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| AgentError::io("cannot rename to", path, e))?;
    sync_dir(dir);
    Ok(())
}

fn remove_dir(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %dir.display(), error = %e, "cannot remove checkpoint"),
    }
}

/// An executor as checkpointed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExecutorRecord {
    pub info: v1::ExecutorInfo,
    pub kind: ExecutorKind,
    /// Its container (virtual for the default executor, whose tasks each
    /// have their own).
    pub container_id: v1::ContainerId,
    pub sandbox: PathBuf,
}

/// A task as checkpointed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskRecord {
    pub info: v1::TaskInfo,
    pub executor_id: String,
    /// The task group it was launched in (default executor).
    pub group: Option<String>,
    /// Its own container (tasks of built-in executors).
    pub container_id: Option<v1::ContainerId>,
}

#[derive(Serialize, Deserialize)]
struct ExecutorFile {
    kind: String,
    container_id: serde_json::Value,
    sandbox: PathBuf,
    info: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct TaskFile {
    executor_id: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    container_id: Option<serde_json::Value>,
    info: serde_json::Value,
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> AgentError {
    AgentError::Config(format!(
        "unreadable checkpoint {}: {reason}",
        path.display()
    ))
}

impl ExecutorRecord {
    fn to_json(&self) -> Vec<u8> {
        let file = ExecutorFile {
            kind: self.kind.name().to_string(),
            container_id: json::to_value(&self.container_id),
            sandbox: self.sandbox.clone(),
            info: json::to_value(&self.info),
        };
        serde_json::to_vec_pretty(&file).unwrap_or_default()
    }

    pub(crate) fn from_json(path: &Path, bytes: &[u8]) -> Result<Self, AgentError> {
        let file: ExecutorFile = serde_json::from_slice(bytes).map_err(|e| bad(path, e))?;
        Ok(Self {
            kind: ExecutorKind::from_name(&file.kind)
                .ok_or_else(|| bad(path, format!("unknown executor kind {:?}", file.kind)))?,
            container_id: json::from_value(&file.container_id).map_err(|e| bad(path, e))?,
            sandbox: file.sandbox,
            info: json::from_value(&file.info).map_err(|e| bad(path, e))?,
        })
    }
}

impl TaskRecord {
    fn to_json(&self) -> Vec<u8> {
        let file = TaskFile {
            executor_id: self.executor_id.clone(),
            group: self.group.clone(),
            container_id: self.container_id.as_ref().map(json::to_value),
            info: json::to_value(&self.info),
        };
        serde_json::to_vec_pretty(&file).unwrap_or_default()
    }

    pub(crate) fn from_json(path: &Path, bytes: &[u8]) -> Result<Self, AgentError> {
        let file: TaskFile = serde_json::from_slice(bytes).map_err(|e| bad(path, e))?;
        let container_id = match &file.container_id {
            Some(value) => Some(json::from_value(value).map_err(|e| bad(path, e))?),
            None => None,
        };
        Ok(Self {
            executor_id: file.executor_id,
            group: file.group,
            container_id,
            info: json::from_value(&file.info).map_err(|e| bad(path, e))?,
        })
    }
}

/// Writes and removes checkpoint records (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Checkpointer {
    meta: PathBuf,
    sealed: Arc<AtomicBool>,
}

impl Checkpointer {
    pub fn new(meta: PathBuf, sealed: Arc<AtomicBool>) -> Self {
        Self { meta, sealed }
    }

    /// Stops all further writes.
    pub fn seal(&self) {
        self.sealed.store(true, Ordering::SeqCst);
    }

    fn writable(&self) -> Result<(), AgentError> {
        if self.sealed.load(Ordering::SeqCst) {
            return Err(AgentError::ShuttingDown);
        }
        Ok(())
    }

    /// Where a container's process is recorded.
    pub fn container_dir(&self, container_id: &v1::ContainerId) -> PathBuf {
        container_dir(&self.meta, container_id)
    }

    pub fn write_agent_info(&self, info: &v1::AgentInfo) -> Result<(), AgentError> {
        self.writable()?;
        write_atomic(&self.meta.join(AGENT_FILE), &json::to_vec(info))
    }

    pub fn write_framework(&self, info: &v1::FrameworkInfo) -> Result<(), AgentError> {
        self.writable()?;
        let id = info.id.as_ref().map(|i| i.value.as_str()).unwrap_or("");
        let path = framework_dir(&self.meta, id).join(FRAMEWORK_FILE);
        write_atomic(&path, &json::to_vec(info))
    }

    pub fn write_executor(
        &self,
        framework_id: &str,
        record: &ExecutorRecord,
    ) -> Result<(), AgentError> {
        self.writable()?;
        let dir = executor_dir(&self.meta, framework_id, &record.info.executor_id.value);
        write_atomic(&dir.join(EXECUTOR_FILE), &record.to_json())
    }

    pub fn write_task(&self, framework_id: &str, record: &TaskRecord) -> Result<(), AgentError> {
        self.writable()?;
        let dir = task_dir(&self.meta, framework_id, &record.info.task_id.value);
        write_atomic(&dir.join(TASK_FILE), &record.to_json())
    }

    /// Notes that a kill of a built-in executor's task was requested, so a
    /// restarted agent reports the task `TASK_KILLED` and finishes the kill.
    pub fn mark_kill_requested(&self, framework_id: &str, task_id: &str) {
        if self.writable().is_err() {
            return;
        }
        let dir = task_dir(&self.meta, framework_id, task_id);
        if dir.join(TASK_FILE).exists() {
            if let Err(e) = write_atomic(&dir.join(KILL_FILE), b"") {
                tracing::warn!(task_id, error = %e, "cannot checkpoint the kill request");
            }
        }
    }

    pub fn remove_task(&self, framework_id: &str, task_id: &str) {
        if self.writable().is_ok() {
            remove_dir(&task_dir(&self.meta, framework_id, task_id));
        }
    }

    pub fn remove_executor(&self, framework_id: &str, executor_id: &str) {
        if self.writable().is_ok() {
            remove_dir(&executor_dir(&self.meta, framework_id, executor_id));
        }
    }

    pub fn remove_framework(&self, framework_id: &str) {
        if self.writable().is_ok() {
            remove_dir(&framework_dir(&self.meta, framework_id));
        }
    }

    /// Forgets a container whose end the agent has accounted for.
    pub fn remove_container(&self, container_id: &v1::ContainerId) {
        if self.writable().is_ok() {
            remove_dir(&self.container_dir(container_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let executor = ExecutorRecord {
            info: v1::ExecutorInfo {
                executor_id: v1::ExecutorId { value: "e".into() },
                framework_id: Some(v1::FrameworkId { value: "f".into() }),
                ..Default::default()
            },
            kind: ExecutorKind::Default,
            container_id: v1::ContainerId {
                value: "c".into(),
                parent: None,
            },
            sandbox: "/w/sandbox".into(),
        };
        let path = Path::new("x");
        assert_eq!(
            ExecutorRecord::from_json(path, &executor.to_json()).unwrap(),
            executor
        );
        let task = TaskRecord {
            info: v1::TaskInfo {
                name: "t".into(),
                task_id: v1::TaskId { value: "t".into() },
                agent_id: v1::AgentId { value: "a".into() },
                ..Default::default()
            },
            executor_id: "e".into(),
            group: Some("g".into()),
            container_id: Some(v1::ContainerId {
                value: "child".into(),
                parent: Some(Box::new(executor.container_id.clone())),
            }),
        };
        assert_eq!(TaskRecord::from_json(path, &task.to_json()).unwrap(), task);
        assert!(TaskRecord::from_json(path, b"{}").is_err());
    }

    #[test]
    fn sealed_checkpointer_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpointer::new(dir.path().into(), Arc::default());
        let info = v1::FrameworkInfo {
            id: Some(v1::FrameworkId { value: "f".into() }),
            ..Default::default()
        };
        checkpoint.write_framework(&info).unwrap();
        assert!(framework_dir(dir.path(), "f").join(FRAMEWORK_FILE).exists());
        checkpoint.seal();
        checkpoint.remove_framework("f");
        assert!(framework_dir(dir.path(), "f").exists());
        assert!(checkpoint.write_framework(&info).is_err());
    }
}
