//! Reading the checkpoint back at start (see the [parent module](super) for
//! the layout).
//!
//! Loading never fails as a whole: a record that cannot be read is logged
//! and its directory removed (what it described cannot be recovered, and
//! its containers are then found and killed as orphans), so one bad file
//! does not keep an agent from starting.

use std::path::{Path, PathBuf};

use meseta_proto::{json, v1};

use super::journal::{replay, UPDATES_FILE};
use super::{
    ExecutorRecord, TaskRecord, AGENT_FILE, EXECUTOR_FILE, FRAMEWORK_FILE, KILL_FILE, TASK_FILE,
};
use crate::status_updates::ReplayedRecord;

/// Everything a previous run left.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// The AgentInfo the previous run registered with.
    pub agent_info: Option<v1::AgentInfo>,
    /// Checkpointing frameworks, with their executors and tasks.
    pub frameworks: Vec<LoadedFramework>,
    /// Every container directory, with the container's ID.
    pub containers: Vec<(v1::ContainerId, PathBuf)>,
}

#[derive(Debug)]
pub(crate) struct LoadedFramework {
    pub info: v1::FrameworkInfo,
    pub executors: Vec<ExecutorRecord>,
    pub tasks: Vec<LoadedTask>,
}

#[derive(Debug)]
pub(crate) struct LoadedTask {
    pub record: TaskRecord,
    pub journal: Vec<ReplayedRecord>,
    pub kill_requested: bool,
}

impl Loaded {
    /// True when the previous run left nothing to recover.
    pub fn is_empty(&self) -> bool {
        self.agent_info.is_none() && self.frameworks.is_empty() && self.containers.is_empty()
    }
}

/// The container ID a directory under `meta/containers` is named after
/// (`parent.child` for nested containers).
pub(crate) fn parse_container_key(key: &str) -> v1::ContainerId {
    let mut parts = key.split('.');
    let first = v1::ContainerId {
        value: parts.next().unwrap_or_default().to_string(),
        parent: None,
    };
    parts.fold(first, |parent, value| v1::ContainerId {
        value: value.to_string(),
        parent: Some(Box::new(parent)),
    })
}

fn discard(path: &Path, reason: &dyn std::fmt::Display) {
    tracing::warn!(path = %path.display(), %reason, "discarding an unreadable checkpoint");
    let _ = std::fs::remove_dir_all(path);
}

fn subdirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().to_str()?.to_string(), e.path())))
        .collect();
    out.sort();
    out
}

/// Reads the checkpoint under `meta`.
pub(crate) fn load(meta: &Path) -> Loaded {
    let agent_info = std::fs::read(meta.join(AGENT_FILE)).ok().and_then(|bytes| {
        match json::from_slice::<v1::AgentInfo>(&bytes) {
            Ok(info) => Some(info),
            Err(e) => {
                tracing::warn!(error = %e, "the checkpointed agent info is unreadable; ignored");
                None
            }
        }
    });
    let containers = subdirs(&meta.join("containers"))
        .into_iter()
        .map(|(key, path)| (parse_container_key(&key), path))
        .collect();
    let frameworks = subdirs(&meta.join("frameworks"))
        .into_iter()
        .filter_map(|(_, dir)| load_framework(&dir))
        .collect();
    Loaded {
        agent_info,
        frameworks,
        containers,
    }
}

fn load_framework(dir: &Path) -> Option<LoadedFramework> {
    let path = dir.join(FRAMEWORK_FILE);
    let info = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| json::from_slice::<v1::FrameworkInfo>(&b).map_err(|e| e.to_string()))
    {
        Ok(info) if info.id.is_some() => info,
        Ok(_) => {
            discard(dir, &"the framework has no ID");
            return None;
        }
        Err(e) => {
            discard(dir, &e);
            return None;
        }
    };
    let mut executors = Vec::new();
    for (_, executor_dir) in subdirs(&dir.join("executors")) {
        let path = executor_dir.join(EXECUTOR_FILE);
        let record = std::fs::read(&path)
            .map_err(|e| crate::AgentError::io("cannot read", &path, e))
            .and_then(|bytes| ExecutorRecord::from_json(&path, &bytes));
        match record {
            Ok(record) => executors.push(record),
            Err(e) => discard(&executor_dir, &e),
        }
    }
    let mut tasks = Vec::new();
    for (_, task_dir) in subdirs(&dir.join("tasks")) {
        let path = task_dir.join(TASK_FILE);
        let record = std::fs::read(&path)
            .map_err(|e| crate::AgentError::io("cannot read", &path, e))
            .and_then(|bytes| TaskRecord::from_json(&path, &bytes));
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                discard(&task_dir, &e);
                continue;
            }
        };
        let journal = match replay(&task_dir.join(UPDATES_FILE)) {
            Ok(journal) => journal,
            Err(e) => {
                discard(&task_dir, &e);
                continue;
            }
        };
        tasks.push(LoadedTask {
            record,
            journal,
            kill_requested: task_dir.join(KILL_FILE).exists(),
        });
    }
    Some(LoadedFramework {
        info,
        executors,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::checkpoint::journal::FileJournal;
    use crate::checkpoint::Checkpointer;
    use crate::containerizer::container_key;
    use crate::state::ExecutorKind;
    use crate::status_updates::{JournalRecord, StreamKey, UpdateJournal};
    use meseta_proto::cluster;

    #[test]
    fn container_keys_parse_back() {
        for key in ["a", "a.b", "a.b.c"] {
            assert_eq!(container_key(&parse_container_key(key)), key);
        }
    }

    #[test]
    fn checkpoint_round_trips_through_load() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().to_path_buf();
        let checkpoint = Checkpointer::new(meta.clone(), Arc::default());
        let agent = v1::AgentInfo {
            hostname: "h".into(),
            id: Some(v1::AgentId { value: "A".into() }),
            ..Default::default()
        };
        checkpoint.write_agent_info(&agent).unwrap();
        let framework = v1::FrameworkInfo {
            user: "u".into(),
            name: "n".into(),
            id: Some(v1::FrameworkId { value: "F".into() }),
            checkpoint: Some(true),
            ..Default::default()
        };
        checkpoint.write_framework(&framework).unwrap();
        let container = v1::ContainerId {
            value: "C".into(),
            parent: None,
        };
        let executor = ExecutorRecord {
            info: v1::ExecutorInfo {
                executor_id: v1::ExecutorId { value: "t".into() },
                ..Default::default()
            },
            kind: ExecutorKind::Command,
            container_id: container.clone(),
            sandbox: "/s".into(),
        };
        checkpoint.write_executor("F", &executor).unwrap();
        let task = TaskRecord {
            info: v1::TaskInfo {
                name: "t".into(),
                task_id: v1::TaskId { value: "t".into() },
                agent_id: v1::AgentId { value: "A".into() },
                ..Default::default()
            },
            executor_id: "t".into(),
            group: None,
            container_id: Some(container.clone()),
        };
        checkpoint.write_task("F", &task).unwrap();
        checkpoint.mark_kill_requested("F", "t");
        std::fs::create_dir_all(checkpoint.container_dir(&container)).unwrap();
        let update = cluster::StatusUpdate {
            framework_id: v1::FrameworkId { value: "F".into() },
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: "t".into() },
                state: v1::TaskState::TaskRunning as i32,
                uuid: Some(vec![7; 16]),
                ..Default::default()
            },
            latest_state: None,
        };
        let key = StreamKey {
            framework_id: "F".into(),
            task_id: "t".into(),
        };
        FileJournal::new(meta.clone(), Arc::default())
            .record(&key, JournalRecord::Update(&update))
            .unwrap();
        // Garbage next to good records is discarded, not fatal.
        std::fs::create_dir_all(meta.join("frameworks/broken")).unwrap();
        std::fs::write(meta.join("frameworks/broken/framework.json"), "{").unwrap();

        let loaded = load(&meta);
        assert_eq!(loaded.agent_info, Some(agent));
        assert_eq!(
            loaded.containers,
            vec![(container, meta.join("containers/C"))]
        );
        assert_eq!(loaded.frameworks.len(), 1);
        let f = &loaded.frameworks[0];
        assert_eq!(f.info, framework);
        assert_eq!(f.executors, vec![executor]);
        assert_eq!(f.tasks.len(), 1);
        assert_eq!(f.tasks[0].record, task);
        assert!(f.tasks[0].kill_requested);
        assert_eq!(
            f.tasks[0].journal,
            vec![ReplayedRecord::Update(Box::new(update))]
        );
        assert!(!meta.join("frameworks/broken").exists());
    }
}
