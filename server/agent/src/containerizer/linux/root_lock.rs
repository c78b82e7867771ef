//! One agent per cgroup root. An agent takes every cgroup under its root
//! that it did not recover for an orphan and kills it, so a second agent
//! on the same root would destroy the first one's containers. The first
//! agent holds an exclusive lock named after its root (a `flock` on a file
//! in `/run/meseta`, released by the kernel when the agent dies); a second
//! one is refused at start with the advice to give each agent its own
//! `--cgroups-root`.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use crate::containerizer::cgroups::Hierarchy;
use crate::error::AgentError;

/// Where the locks live (`/run/meseta`, else the temporary directory).
fn lock_dir() -> PathBuf {
    let run = PathBuf::from("/run/meseta");
    if std::fs::create_dir_all(&run).is_ok() {
        run
    } else {
        std::env::temp_dir().join("meseta-locks")
    }
}

/// Holds the lock of a cgroup root while it lives.
#[derive(Debug)]
pub(super) struct RootLock {
    _file: File,
}

impl RootLock {
    pub fn acquire(hierarchy: &Hierarchy, cgroups_root: &str) -> Result<Self, AgentError> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        hierarchy.base_dirs().hash(&mut hasher);
        let dir = lock_dir();
        std::fs::create_dir_all(&dir).map_err(|e| AgentError::io("cannot create", &dir, e))?;
        let path = dir.join(format!("cgroups-{:016x}.lock", hasher.finish()));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| AgentError::io("cannot open", &path, e))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(AgentError::Config(format!(
                "another agent on this machine uses the cgroup root {cgroups_root:?} ({}); \
                 each agent needs its own --cgroups-root, or it would kill the other's containers as orphans",
                path.display()
            )));
        }
        Ok(Self { _file: file })
    }
}
