//! The work directory's layout, and the checks that keep IDs from escaping it.
//!
//! ```text
//! <work_dir>/meta/agent_id                       the ID the master gave us
//! <work_dir>/meta/...                             the rest of the checkpoint
//!                                                 (see `crate::checkpoint`)
//! <work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>
//!                                                 one sandbox per executor run,
//!                                                 with `stdout` and `stderr`
//! <work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/latest
//!                                                 symlink to the newest run
//! ```
//! The layout (and the `slaves` spelling) is Mesos's, so tools and people that
//! know where Mesos keeps sandboxes find ours. Framework, executor, task and
//! container IDs come from the network and become directory names, so each is
//! checked by [`validate_id`] before it touches the file system.

use std::path::{Path, PathBuf};

use meseta_proto::cluster::CheckpointedResources;
use meseta_proto::v1;
use meseta_proto::Message;

use crate::error::AgentError;

/// Rejects IDs that are not a single, ordinary path component.
pub fn validate_id(kind: &'static str, value: &str) -> Result<(), AgentError> {
    let reason = if value.is_empty() {
        Some("must not be empty")
    } else if value == "." || value == ".." {
        Some("must not be '.' or '..'")
    } else if value.contains('/') || value.contains('\\') {
        Some("must not contain a path separator")
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if value.len() > 255 {
        Some("must be at most 255 bytes")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(AgentError::InvalidId {
            kind,
            value: value.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Paths inside one agent's work directory.
#[derive(Debug, Clone)]
pub struct Layout {
    work_dir: PathBuf,
}

impl Layout {
    /// The layout rooted at `work_dir` (expected absolute and canonical).
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        Self {
            work_dir: work_dir.into(),
        }
    }

    /// The work directory itself.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// `<work_dir>/slaves/<agent>`.
    pub fn agent_dir(&self, agent_id: &str) -> PathBuf {
        self.work_dir.join("slaves").join(agent_id)
    }

    /// `.../frameworks/<framework>/executors/<executor>`.
    pub fn executor_dir(&self, agent_id: &str, framework_id: &str, executor_id: &str) -> PathBuf {
        self.agent_dir(agent_id)
            .join("frameworks")
            .join(framework_id)
            .join("executors")
            .join(executor_id)
    }

    /// The sandbox of one executor run.
    pub fn run_dir(
        &self,
        agent_id: &str,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
    ) -> PathBuf {
        self.executor_dir(agent_id, framework_id, executor_id)
            .join("runs")
            .join(container_id)
    }

    /// Where the agent keeps what outlives one run (see
    /// [`crate::checkpoint`]).
    pub fn meta_dir(&self) -> PathBuf {
        self.work_dir.join("meta")
    }

    /// Where the agent ID is kept between runs.
    pub fn agent_id_file(&self) -> PathBuf {
        self.meta_dir().join("agent_id")
    }

    /// The agent ID saved by an earlier run, if any.
    pub fn read_agent_id(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.agent_id_file()).ok()?;
        let id = text.trim().to_string();
        validate_id("agent ID", &id).ok()?;
        Some(id)
    }

    /// Saves the agent ID (write to a temporary file, then rename, so a crash
    /// never leaves half an ID).
    pub fn write_agent_id(&self, agent_id: &str) -> Result<(), AgentError> {
        let path = self.agent_id_file();
        let dir = path.parent().unwrap_or(&self.work_dir);
        std::fs::create_dir_all(dir).map_err(|e| AgentError::io("cannot create", dir, e))?;
        let temporary = dir.join(".agent_id.tmp");
        std::fs::write(&temporary, agent_id)
            .map_err(|e| AgentError::io("cannot write", &temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| AgentError::io("cannot rename to", &path, e))
    }

    /// Where the agent keeps its resources as the master last sent them
    /// (dynamic reservations made since it started with `flags`).
    pub fn resources_file(&self) -> PathBuf {
        self.meta_dir().join("resources")
    }

    /// The resources kept by an earlier run that started with the same
    /// `flags`; `None` without such a file (or for other flags: the agent
    /// then starts over, see [`crate::recovery`]).
    pub fn read_resources(&self, flags: &[v1::Resource]) -> Option<Vec<v1::Resource>> {
        let path = self.resources_file();
        let bytes = std::fs::read(&path).ok()?;
        match CheckpointedResources::decode(bytes.as_slice()) {
            Ok(kept) if kept.flags == flags => Some(kept.total),
            Ok(_) => {
                tracing::warn!(path = %path.display(), "the kept reservations were made with other --resources; not used");
                None
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the kept resources; not used");
                None
            }
        }
    }

    /// Keeps the agent's resources (temporary file, then rename).
    pub fn write_resources(
        &self,
        flags: &[v1::Resource],
        total: &[v1::Resource],
    ) -> Result<(), AgentError> {
        let path = self.resources_file();
        let dir = path.parent().unwrap_or(&self.work_dir);
        std::fs::create_dir_all(dir).map_err(|e| AgentError::io("cannot create", dir, e))?;
        let kept = CheckpointedResources {
            flags: flags.to_vec(),
            total: total.to_vec(),
        };
        let temporary = dir.join(".resources.tmp");
        std::fs::write(&temporary, kept.encode_to_vec())
            .map_err(|e| AgentError::io("cannot write", &temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| AgentError::io("cannot rename to", &path, e))
    }

    /// Forgets the saved agent ID (after the master refused it).
    pub fn forget_agent_id(&self) {
        let path = self.agent_id_file();
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove the saved agent ID");
            }
        }
    }
}

/// Creates a sandbox with empty `stdout` and `stderr` files and points the
/// `runs/latest` symlink at it.
pub fn create_sandbox(dir: &Path) -> Result<(), AgentError> {
    std::fs::create_dir_all(dir).map_err(|e| AgentError::io("cannot create sandbox", dir, e))?;
    for name in ["stdout", "stderr"] {
        let file = dir.join(name);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .map_err(|e| AgentError::io("cannot create", &file, e))?;
    }
    if let (Some(runs), Some(name)) = (dir.parent(), dir.file_name()) {
        if runs.file_name().is_some_and(|n| n == "runs") {
            let latest = runs.join("latest");
            let temporary = runs.join(".latest.tmp");
            let _ = std::fs::remove_file(&temporary);
            let linked = std::os::unix::fs::symlink(name, &temporary)
                .and_then(|()| std::fs::rename(&temporary, &latest));
            if let Err(e) = linked {
                tracing::warn!(path = %latest.display(), error = %e, "cannot update the latest-run symlink");
            }
        }
    }
    Ok(())
}

/// Appends a line to a sandbox's `stderr`, where Mesos users look for what
/// the agent did before their command started (fetching, launching).
pub fn note(sandbox: &Path, line: &str) {
    use std::io::Write;
    let path = sandbox.join("stderr");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = written {
        tracing::debug!(path = %path.display(), error = %e, "cannot write to sandbox stderr");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_would_escape_are_rejected() {
        for bad in ["", ".", "..", "a/b", "../x", "a\0b", "a\nb"] {
            assert!(validate_id("task ID", bad).is_err(), "{bad:?}");
        }
        for good in ["t1", "my-task.1", "a b", "ünïcode", "..."] {
            validate_id("task ID", good).unwrap();
        }
    }

    #[test]
    fn layout_matches_mesos() {
        let layout = Layout::new("/w");
        assert_eq!(
            layout.run_dir("A", "F", "E", "C"),
            PathBuf::from("/w/slaves/A/frameworks/F/executors/E/runs/C")
        );
    }

    #[test]
    fn agent_id_survives_and_can_be_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        assert_eq!(layout.read_agent_id(), None);
        layout.write_agent_id("abc-S0").unwrap();
        assert_eq!(layout.read_agent_id().as_deref(), Some("abc-S0"));
        layout.forget_agent_id();
        assert_eq!(layout.read_agent_id(), None);
    }

    #[test]
    fn sandbox_has_output_files_and_latest_link() {
        let dir = tempfile::tempdir().unwrap();
        let run = Layout::new(dir.path()).run_dir("A", "F", "E", "C1");
        create_sandbox(&run).unwrap();
        assert!(run.join("stdout").is_file() && run.join("stderr").is_file());
        let latest = run.parent().unwrap().join("latest");
        assert_eq!(std::fs::read_link(&latest).unwrap(), PathBuf::from("C1"));
        note(&run, "hello");
        assert_eq!(
            std::fs::read_to_string(run.join("stderr")).unwrap(),
            "hello\n"
        );
    }
}
