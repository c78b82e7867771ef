//! `disk/du`: every `--container-disk-watch-interval` the size of the
//! container's sandbox is measured (blocks actually used, as `du` counts,
//! each hard-linked file once, without leaving the file system). The
//! figure is reported in the statistics (`disk_used_bytes` against
//! `disk_limit_bytes`); with `--enforce-container-disk-quota` a container
//! past its `disk` ends with `REASON_CONTAINER_LIMITATION_DISK`. A
//! container that asked for no disk has no quota.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use meseta_proto::v1::{self, task_status::Reason};

use super::{bytes_text, scalar, scalar_resource, Container, IsolationConfig, Isolator};
use crate::containerizer::{container_key, Limitation};

#[derive(Debug)]
pub(super) struct DiskIsolator {
    enforce: bool,
    interval: Duration,
    /// The last measurement per container, for `usage`.
    measured: Mutex<HashMap<String, u64>>,
}

impl DiskIsolator {
    pub fn new(config: &IsolationConfig) -> Self {
        Self {
            enforce: config.enforce_container_disk_quota,
            interval: config.container_disk_watch_interval,
            measured: Mutex::default(),
        }
    }

    fn remember(&self, key: String, used: u64) {
        self.measured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, used);
    }
}

/// Bytes used on disk by everything under `root` (a directory's own
/// blocks included), as `du` counts them.
pub(crate) fn disk_usage(root: &Path) -> u64 {
    let Ok(top) = std::fs::symlink_metadata(root) else {
        return 0;
    };
    let device = top.dev();
    let mut seen = HashSet::new();
    let mut total = top.blocks() * 512;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.dev() != device {
                continue;
            }
            if meta.nlink() > 1 && !meta.is_dir() && !seen.insert(meta.ino()) {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    total
}

fn quota(resources: &[v1::Resource]) -> Option<u64> {
    let mb = scalar(resources, "disk");
    (mb > 0.0).then_some((mb * 1024.0 * 1024.0) as u64)
}

impl Isolator for DiskIsolator {
    fn name(&self) -> &'static str {
        "disk/du"
    }

    fn watch_interval(&self) -> Option<Duration> {
        Some(self.interval)
    }

    fn check(&self, container: &Container<'_>) -> Option<Limitation> {
        if container.nested {
            return None;
        }
        let used = disk_usage(container.sandbox);
        self.remember(container_key(container.id), used);
        let limit = quota(container.resources)?;
        if !self.enforce || used <= limit {
            return None;
        }
        Some(Limitation {
            reason: Reason::ContainerLimitationDisk,
            message: format!(
                "Disk usage ({}) exceeds quota ({})",
                bytes_text(used),
                bytes_text(limit)
            ),
            resources: vec![scalar_resource("disk", scalar(container.resources, "disk"))],
        })
    }

    fn usage(&self, container: &Container<'_>, stats: &mut v1::ResourceStatistics) {
        let key = container_key(container.id);
        let known = self
            .measured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied();
        let used = known.unwrap_or_else(|| {
            let used = disk_usage(container.sandbox);
            self.remember(key, used);
            used
        });
        stats.disk_used_bytes = Some(used);
        stats.disk_limit_bytes = quota(container.resources);
    }

    fn cleanup(&self, container_id: &v1::ContainerId) {
        self.measured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&container_key(container_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_blocks_and_hard_links_once() {
        let dir = tempfile::tempdir().unwrap();
        let empty = disk_usage(dir.path());
        std::fs::write(dir.path().join("a"), vec![7u8; 1 << 20]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), vec![7u8; 1 << 20]).unwrap();
        std::fs::hard_link(dir.path().join("a"), dir.path().join("sub/a-again")).unwrap();
        let used = disk_usage(dir.path());
        assert!(used >= empty + (2 << 20), "{used}");
        assert!(
            used < empty + (3 << 20),
            "a hard link is not counted twice: {used}"
        );
        assert_eq!(disk_usage(&dir.path().join("missing")), 0);
    }

    #[test]
    fn a_task_without_disk_has_no_quota() {
        assert_eq!(quota(&[]), None);
        assert_eq!(quota(&[scalar_resource("disk", 2.0)]), Some(2 << 20));
    }
}
