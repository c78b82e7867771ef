//! Persistent volumes on this agent: one directory per volume, outside
//! every sandbox (`<work_dir>/volumes/roles/<role>/<persistence id>`, as
//! Mesos lays them out), so what a task writes there outlives the task,
//! its executor and agent restarts; it is deleted only when the volume is
//! destroyed. A task that uses a volume finds it at the volume's
//! `container_path` in its sandbox: bind-mounted there in the container's
//! own mount namespace under `filesystem/linux` (so it also shows at
//! `/mnt/mesos/sandbox/<path>` in an image's root, and vanishes with the
//! container), else a symbolic link to the directory.

use std::path::{Path, PathBuf};

use meseta_proto::resources::reserved_role;
use meseta_proto::v1;

use crate::error::AgentError;

/// A volume a container mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The volume's directory on the host.
    pub source: PathBuf,
    /// Where it goes, relative to the sandbox.
    pub container_path: PathBuf,
    pub read_only: bool,
}

/// A volume named in a resource list.
struct Volume<'a> {
    role: &'a str,
    id: &'a str,
    container_path: &'a str,
    read_only: bool,
}

/// The volumes in a resource list.
fn volumes(resources: &[v1::Resource]) -> Vec<Volume<'_>> {
    resources
        .iter()
        .filter_map(|r| {
            let disk = r.disk.as_deref()?;
            let volume = disk.volume.as_ref();
            Some(Volume {
                role: reserved_role(r).unwrap_or("*"),
                id: disk.persistence.as_ref()?.id.as_str(),
                container_path: volume.map_or("", |v| v.container_path.as_str()),
                read_only: volume.is_some_and(|v| v.mode == v1::volume::Mode::Ro as i32),
            })
        })
        .collect()
}

/// The directory of a volume a task uses, checked: it exists on this
/// agent and its container path stays inside the sandbox.
fn checked_dir(work_dir: &Path, v: &Volume<'_>) -> Result<PathBuf, AgentError> {
    let dir = volume_dir(work_dir, v.role, v.id);
    if !dir.is_dir() {
        return Err(AgentError::Volume(format!(
            "'{}' of role '{}' does not exist on this agent",
            v.id, v.role
        )));
    }
    if !meseta_proto::resources::container_path_is_inside(v.container_path) {
        return Err(AgentError::Volume(format!(
            "'{}': container_path '{}' must be relative, inside the sandbox",
            v.id, v.container_path
        )));
    }
    Ok(dir)
}

/// Where the volume `id` of `role` keeps its data.
pub fn volume_dir(work_dir: &Path, role: &str, id: &str) -> PathBuf {
    work_dir.join("volumes").join("roles").join(role).join(id)
}

/// Makes the directories of the volumes in `now` and deletes those of the
/// volumes that were in `before` and are not any more (destroyed).
pub fn follow(work_dir: &Path, before: &[v1::Resource], now: &[v1::Resource]) {
    let kept = volumes(now);
    for v in &kept {
        let dir = volume_dir(work_dir, v.role, v.id);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::error!(path = %dir.display(), error = %e, "cannot create a persistent volume");
        }
    }
    for v in volumes(before) {
        if kept.iter().any(|k| k.role == v.role && k.id == v.id) {
            continue;
        }
        let dir = volume_dir(work_dir, v.role, v.id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::info!(path = %dir.display(), "persistent volume destroyed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(path = %dir.display(), error = %e, "cannot delete a destroyed volume")
            }
        }
    }
}

/// The volumes among a container's resources, each with its mount point
/// made in `sandbox`: a directory, in place of the link [`link`] made (a
/// link to the host's path leads nowhere in an image's root).
pub fn mount_points(
    work_dir: &Path,
    sandbox: &Path,
    resources: &[v1::Resource],
) -> Result<Vec<VolumeMount>, AgentError> {
    let mut mounts = Vec::new();
    for v in volumes(resources) {
        let source = checked_dir(work_dir, &v)?;
        let at = sandbox.join(v.container_path);
        if at.is_symlink() {
            std::fs::remove_file(&at).map_err(|e| AgentError::io("cannot replace", &at, e))?;
        }
        std::fs::create_dir_all(&at).map_err(|e| AgentError::io("cannot create", &at, e))?;
        mounts.push(VolumeMount {
            source,
            container_path: PathBuf::from(v.container_path),
            read_only: v.read_only,
        });
    }
    Ok(mounts)
}

/// Links each volume a task uses into its sandbox at the volume's
/// container path.
pub fn link(work_dir: &Path, sandbox: &Path, resources: &[v1::Resource]) -> Result<(), AgentError> {
    for v in volumes(resources) {
        let target = checked_dir(work_dir, &v)?;
        let at = sandbox.join(v.container_path);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| AgentError::io("cannot create", parent, e))?;
        }
        std::os::unix::fs::symlink(&target, &at)
            .map_err(|e| AgentError::io("cannot link the volume at", &at, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use meseta_proto::v1::resource::{disk_info, DiskInfo, ReservationInfo};

    fn volume(id: &str, path: &str) -> v1::Resource {
        v1::Resource {
            reservations: vec![ReservationInfo {
                role: Some("ml".into()),
                ..Default::default()
            }],
            disk: Some(Box::new(DiskInfo {
                persistence: Some(disk_info::Persistence {
                    id: id.into(),
                    principal: None,
                }),
                volume: Some(v1::Volume {
                    container_path: path.into(),
                    mode: v1::volume::Mode::Rw as i32,
                    ..Default::default()
                }),
                source: None,
            })),
            ..meseta_proto::resources::scalar("disk", 64.0)
        }
    }

    #[test]
    fn a_volume_outlives_sandboxes_until_destroyed() {
        let work = tempfile::tempdir().unwrap();
        let data = volume("v1", "data");
        follow(work.path(), &[], std::slice::from_ref(&data));
        for run in ["run-1", "run-2"] {
            let sandbox = work.path().join(run);
            std::fs::create_dir_all(&sandbox).unwrap();
            link(work.path(), &sandbox, std::slice::from_ref(&data)).unwrap();
            let file = sandbox.join("data").join("counter");
            let seen = std::fs::read_to_string(&file).unwrap_or_default();
            std::fs::write(&file, format!("{seen}x")).unwrap();
        }
        let dir = volume_dir(work.path(), "ml", "v1");
        assert_eq!(std::fs::read_to_string(dir.join("counter")).unwrap(), "xx");
        follow(work.path(), std::slice::from_ref(&data), &[]);
        assert!(!dir.exists());
        let sandbox = work.path().join("run-3");
        std::fs::create_dir_all(&sandbox).unwrap();
        assert!(link(work.path(), &sandbox, &[data]).is_err());
    }
}
