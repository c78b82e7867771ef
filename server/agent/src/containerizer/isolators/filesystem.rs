//! `filesystem/linux`, `namespaces/pid` and `namespaces/ipc`: what a task
//! sees of the machine.
//!
//! * `filesystem/linux`: a mount namespace of its own (mounts made in it
//!   stay in it; the host's later mounts still show, as the namespace is a
//!   slave of the host's), with the sandbox also mounted at
//!   `--sandbox-directory` (`/mnt/mesos/sandbox`), where `MESOS_SANDBOX`
//!   points.
//! * `namespaces/pid`: a PID namespace of its own with `/proc` mounted
//!   anew, so `ps` shows the task's processes only and the task cannot
//!   signal anything outside; when its first process ends the kernel ends
//!   the rest.
//! * `namespaces/ipc`: System V IPC and POSIX message queues of its own,
//!   and a private tmpfs at `/dev/shm`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{Container, Isolator, Launch};
use crate::containerizer::program::MountCall;

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("the path {} holds a NUL byte", path.display()))
}

#[derive(Debug)]
pub(super) struct LinuxFilesystem {
    sandbox_directory: PathBuf,
}

impl LinuxFilesystem {
    /// Makes sure the mount point for sandboxes exists on the host.
    pub fn new(sandbox_directory: PathBuf) -> Result<Self, String> {
        if !sandbox_directory.is_absolute() {
            return Err(format!(
                "--sandbox-directory {} must be an absolute path",
                sandbox_directory.display()
            ));
        }
        std::fs::create_dir_all(&sandbox_directory).map_err(|e| {
            format!(
                "filesystem/linux cannot create the sandbox mount point {}: {e}",
                sandbox_directory.display()
            )
        })?;
        Ok(Self { sandbox_directory })
    }
}

impl Isolator for LinuxFilesystem {
    fn name(&self) -> &'static str {
        "filesystem/linux"
    }

    fn prepare(&self, container: &Container<'_>, launch: &mut Launch) -> Result<(), String> {
        launch.namespaces |= libc::CLONE_NEWNS;
        launch.mounts.push(MountCall {
            source: Some(c_path(container.sandbox)?),
            target: c_path(&self.sandbox_directory)?,
            fstype: None,
            flags: (libc::MS_BIND | libc::MS_REC) as libc::c_ulong,
            data: None,
            what: format!("mount the sandbox at {}", self.sandbox_directory.display()),
        });
        launch.environment.push((
            "MESOS_SANDBOX".to_string(),
            self.sandbox_directory.display().to_string(),
        ));
        Ok(())
    }
}

#[derive(Debug)]
pub(super) struct PidNamespace;

impl Isolator for PidNamespace {
    fn name(&self) -> &'static str {
        "namespaces/pid"
    }

    fn prepare(&self, _container: &Container<'_>, launch: &mut Launch) -> Result<(), String> {
        launch.namespaces |= libc::CLONE_NEWNS;
        launch.pid_namespace = true;
        Ok(())
    }
}

#[derive(Debug)]
pub(super) struct IpcNamespace;

impl Isolator for IpcNamespace {
    fn name(&self) -> &'static str {
        "namespaces/ipc"
    }

    fn prepare(&self, _container: &Container<'_>, launch: &mut Launch) -> Result<(), String> {
        launch.namespaces |= libc::CLONE_NEWIPC | libc::CLONE_NEWNS;
        launch.mounts.push(MountCall {
            source: Some(c"tmpfs".into()),
            target: c"/dev/shm".into(),
            fstype: Some(c"tmpfs".into()),
            flags: (libc::MS_NOSUID | libc::MS_NODEV) as libc::c_ulong,
            data: Some(c"mode=1777".into()),
            what: "mount a private tmpfs at /dev/shm".to_string(),
        });
        Ok(())
    }
}
