//! Finding the cgroup hierarchies of this host and this process's place in
//! them: `/proc/self/mountinfo` says where each hierarchy is mounted (and
//! which cgroup is the root of that mount: in a cgroup namespace or a bind
//! mount it is not `/`), `/proc/self/cgroup` which cgroup the agent is in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Version;

/// Super options of a cgroup mount that name no controller.
const NOT_CONTROLLERS: [&str; 8] = [
    "rw",
    "ro",
    "xattr",
    "noprefix",
    "clone_children",
    "nsdelegate",
    "memory_recursiveprot",
    "favordynmods",
];

/// A cgroup mount: its filesystem type's version, the controllers in its
/// super options (v1), where it is mounted and which cgroup is its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub version: Version,
    pub controllers: Vec<String>,
    pub mount_point: PathBuf,
    pub root: String,
}

/// The cgroup mounts at or below `under`, from `/proc/self/mountinfo`.
pub(crate) fn parse_mountinfo(text: &str, under: &Path) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let version = match *right.first()? {
                "cgroup" => Version::V1,
                "cgroup2" => Version::V2,
                _ => return None,
            };
            let root = left.get(3)?.to_string();
            let mount_point = PathBuf::from(unescape(left.get(4)?));
            if !mount_point.starts_with(under) {
                return None;
            }
            let controllers = right
                .get(2)
                .map(|options| {
                    options
                        .split(',')
                        .filter(|o| !o.contains('=') && !NOT_CONTROLLERS.contains(o))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Some(Mount {
                version,
                controllers,
                mount_point,
                root,
            })
        })
        .collect()
}

/// mountinfo escapes spaces and the like as `\040` (three octal digits).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|_| bytes[i] == b'\\')
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 8).ok());
        match octal {
            Some(code) => {
                out.push(code);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup per v1 controller name, and its v2 cgroup under
/// the key `""`, from `/proc/self/cgroup`.
pub(crate) fn parse_membership(text: &str) -> BTreeMap<String, String> {
    let mut own = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            own.insert(String::new(), path.to_string());
        }
        for controller in controllers.split(',').filter(|c| !c.is_empty()) {
            own.insert(controller.to_string(), path.to_string());
        }
    }
    own
}

/// The directory of a cgroup `path` (as `/proc/self/cgroup` gives it) in a
/// hierarchy mounted at `mount` (whose root may be a cgroup of its own, in
/// a cgroup namespace or a bind mount).
pub(crate) fn dir_in_mount(mount: &Mount, path: &str) -> PathBuf {
    let root = mount.root.trim_end_matches('/');
    let relative = path.strip_prefix(root).unwrap_or(path);
    mount.mount_point.join(relative.trim_start_matches('/'))
}

/// The `cgroup.procs` files a process must write itself into to be in the
/// cgroups `pid` is in, in every hierarchy where that differs from this
/// process's own (a process started inside a running container joins its
/// cgroups, whichever containerizer made them).
pub(crate) fn procs_files_joining(pid: i32) -> std::io::Result<Vec<PathBuf>> {
    let read = |path: String| std::fs::read_to_string(path);
    let theirs = parse_membership(&read(format!("/proc/{pid}/cgroup"))?);
    let ours = parse_membership(&read("/proc/self/cgroup".to_string())?);
    let mounts = parse_mountinfo(&read("/proc/self/mountinfo".to_string())?, Path::new("/"));
    let mut files: Vec<PathBuf> = Vec::new();
    for mount in &mounts {
        let key = match mount.version {
            Version::V2 => Some(""),
            Version::V1 => mount
                .controllers
                .iter()
                .map(String::as_str)
                .find(|c| theirs.contains_key(*c)),
        };
        let Some(key) = key else { continue };
        let (Some(path), own) = (theirs.get(key), ours.get(key)) else {
            continue;
        };
        if own == Some(path) {
            continue;
        }
        let file = dir_in_mount(mount, path).join("cgroup.procs");
        if file.exists() && !files.contains(&file) {
            files.push(file);
        }
    }
    Ok(files)
}
