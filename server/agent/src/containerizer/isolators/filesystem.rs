//! `filesystem/linux`, `namespaces/pid` and `namespaces/ipc`: what a task
//! sees of the machine.
//!
//! * `filesystem/linux`: a mount namespace of its own (mounts made in it
//!   stay in it; the host's later mounts still show, as the namespace is a
//!   slave of the host's), with the sandbox also mounted at
//!   `--sandbox-directory` (`/mnt/mesos/sandbox`), where `MESOS_SANDBOX`
//!   points, and its persistent volumes bind-mounted at their container
//!   paths in the sandbox (read-only ones read-only).
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
use crate::volumes::VolumeMount;

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("the path {} holds a NUL byte", path.display()))
}

#[derive(Debug)]
pub(super) struct LinuxFilesystem {
    sandbox_directory: PathBuf,
    /// The agent's work dir, where persistent volumes live.
    work_dir: PathBuf,
}

/// Bind-mounts `source` at `target`, read-only if asked (a bind mount
/// takes its flags from a remount).
fn bind(
    source: &Path,
    target: &Path,
    read_only: bool,
    mounts: &mut Vec<MountCall>,
) -> Result<(), String> {
    let what = format!(
        "mount the volume {} at {}",
        source.display(),
        target.display()
    );
    mounts.push(MountCall {
        source: Some(c_path(source)?),
        target: c_path(target)?,
        fstype: None,
        flags: libc::MS_BIND as libc::c_ulong,
        data: None,
        what: what.clone(),
    });
    if read_only {
        mounts.push(MountCall {
            source: None,
            target: c_path(target)?,
            fstype: None,
            flags: (libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY) as libc::c_ulong,
            data: None,
            what: format!("{what} read-only"),
        });
    }
    Ok(())
}

/// The sandbox's mount at `sandbox_directory` and its volumes' mounts, in
/// order. Without an image, each volume goes on the sandbox's own path
/// before the sandbox is also mounted (recursively) at the sandbox
/// directory; in an image's root (where targets are paths inside the
/// root), under the sandbox directory once the sandbox is there.
fn sandbox_mounts(
    sandbox: &Path,
    sandbox_directory: &Path,
    volumes: &[VolumeMount],
    in_image: bool,
) -> Result<Vec<MountCall>, String> {
    let mut mounts = Vec::new();
    if !in_image {
        for v in volumes {
            bind(
                &v.source,
                &sandbox.join(&v.container_path),
                v.read_only,
                &mut mounts,
            )?;
        }
    }
    mounts.push(MountCall {
        source: Some(c_path(sandbox)?),
        target: c_path(sandbox_directory)?,
        fstype: None,
        flags: (libc::MS_BIND | libc::MS_REC) as libc::c_ulong,
        data: None,
        what: format!("mount the sandbox at {}", sandbox_directory.display()),
    });
    if in_image {
        for v in volumes {
            let at = sandbox_directory.join(&v.container_path);
            bind(&v.source, &at, v.read_only, &mut mounts)?;
        }
    }
    Ok(mounts)
}

impl LinuxFilesystem {
    /// Makes sure the mount point for sandboxes exists on the host.
    pub fn new(sandbox_directory: PathBuf, work_dir: PathBuf) -> Result<Self, String> {
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
        Ok(Self {
            sandbox_directory,
            work_dir,
        })
    }
}

impl Isolator for LinuxFilesystem {
    fn name(&self) -> &'static str {
        "filesystem/linux"
    }

    fn prepare(&self, container: &Container<'_>, launch: &mut Launch) -> Result<(), String> {
        launch.namespaces |= libc::CLONE_NEWNS;
        let volumes =
            crate::volumes::mount_points(&self.work_dir, container.sandbox, container.resources)
                .map_err(|e| e.to_string())?;
        let mounts = sandbox_mounts(
            container.sandbox,
            &self.sandbox_directory,
            &volumes,
            container.image.is_some(),
        )?;
        launch.mounts.extend(mounts);
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::sandbox_mounts;
    use crate::volumes::VolumeMount;

    fn volumes() -> Vec<VolumeMount> {
        vec![VolumeMount {
            source: PathBuf::from("/w/volumes/roles/ml/v1"),
            container_path: PathBuf::from("data"),
            read_only: true,
        }]
    }

    /// (target, read-only remount) of each mount, in order.
    fn plan(in_image: bool) -> Vec<(String, bool)> {
        sandbox_mounts(
            Path::new("/w/run/s"),
            Path::new("/mnt/mesos/sandbox"),
            &volumes(),
            in_image,
        )
        .expect("mounts")
        .into_iter()
        .map(|m| {
            let remount = m.flags & libc::MS_REMOUNT as libc::c_ulong != 0;
            let read_only = m.flags & libc::MS_RDONLY as libc::c_ulong != 0;
            assert_eq!(remount, read_only, "{}", m.what);
            (m.target.to_string_lossy().into_owned(), read_only)
        })
        .collect()
    }

    #[test]
    fn volumes_are_mounted_where_the_sandbox_mount_carries_them() {
        // Without an image: on the sandbox's path, before the recursive
        // bind takes them along to the sandbox directory.
        assert_eq!(
            plan(false),
            [
                ("/w/run/s/data".to_string(), false),
                ("/w/run/s/data".to_string(), true),
                ("/mnt/mesos/sandbox".to_string(), false),
            ]
        );
        // In an image's root: under the sandbox directory, after it.
        assert_eq!(
            plan(true),
            [
                ("/mnt/mesos/sandbox".to_string(), false),
                ("/mnt/mesos/sandbox/data".to_string(), false),
                ("/mnt/mesos/sandbox/data".to_string(), true),
            ]
        );
    }
}
