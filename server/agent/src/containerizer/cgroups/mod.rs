//! Control groups: where a container's processes are tracked, limited and
//! measured.
//!
//! The Linux containerizer gives every container one cgroup (in each v1
//! hierarchy it uses, or one directory of the v2 unified hierarchy), named
//! `<base>/<container ID>`; a nested container's cgroup sits inside its
//! parent's, `<base>/<parent ID>/<child ID>`. `<base>` is the agent's own
//! cgroup followed by `--cgroups-root` (default `meseta`): an agent that
//! itself runs inside a cgroup (a systemd service, a container) keeps its
//! containers below it.
//!
//! Both cgroup versions sit behind one interface, [`Hierarchy`] (found once
//! at start) and [`Cgroup`] (one container's). Which version is used is read
//! from the host: the v1 hierarchies when the controllers the isolators need
//! are mounted as v1 (hybrid hosts included), else the unified v2 hierarchy.
//! On v1 the `freezer` hierarchy tracks every container, whatever the
//! isolators, so that all of a container's processes can be killed at once
//! (freeze, SIGKILL, thaw); v2 has `cgroup.kill` for that.
//!
//! Values follow the kernel's interface files: v1 `cpu.shares`,
//! `cpu.cfs_quota_us`, `memory.limit_in_bytes`, ...; v2 `cpu.weight`,
//! `cpu.max`, `memory.max`, ... The conversions between them live in
//! [`v2`].

mod discover;
mod stats;
pub mod v1;
pub mod v2;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use stats::CgroupStats;

pub(crate) use discover::procs_files_joining;
use discover::{parse_membership, parse_mountinfo};

/// A cgroup controller the isolators may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    /// CPU shares and CFS bandwidth.
    Cpu,
    /// CPU time accounting (part of `cpu` on v2).
    Cpuacct,
    /// Memory limit, usage and OOM events.
    Memory,
    /// Process count limit.
    Pids,
    /// Device access whitelist (v1 only).
    Devices,
    /// Freezing, for killing every process at once (built into v2).
    Freezer,
}

impl Controller {
    /// The controller's name in `/proc/self/cgroup` and mount options.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Devices => "devices",
            Controller::Freezer => "freezer",
        }
    }
}

/// Why cgroups cannot be used on this host.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Neither a usable v1 nor v2 hierarchy was found.
    #[error("{0}")]
    Unavailable(String),
    /// A cgroup file or directory could not be used.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl CgroupError {
    pub(crate) fn io(action: &str, path: &Path, source: io::Error) -> Self {
        CgroupError::Io {
            context: format!("{action} {}", path.display()),
            source,
        }
    }
}

/// Which cgroup version a [`Hierarchy`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One hierarchy per controller (or group of co-mounted controllers).
    V1,
    /// The unified hierarchy.
    V2,
}

/// The agent's base cgroup(s): where its containers' cgroups are made.
#[derive(Debug, Clone)]
pub enum Hierarchy {
    /// Base directory per controller (co-mounted controllers share one).
    V1(BTreeMap<Controller, PathBuf>),
    /// The base directory in the unified hierarchy.
    V2(PathBuf),
}

impl Hierarchy {
    /// Finds the hierarchies mounted under `mount_root` (normally
    /// `/sys/fs/cgroup`) that hold `controllers` (plus what tracking
    /// needs), locates this process's own cgroup in them, and creates
    /// `<own>/<cgroups_root>` in each.
    pub fn detect(
        mount_root: &Path,
        cgroups_root: &str,
        controllers: &[Controller],
    ) -> Result<Self, CgroupError> {
        let relative = cgroups_root.trim_matches('/');
        if relative.is_empty() || relative.split('/').any(|part| part == "..") {
            return Err(CgroupError::Unavailable(format!(
                "--cgroups-root {cgroups_root:?} must be a relative path without '..'"
            )));
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| CgroupError::io("cannot read", Path::new("/proc/self/mountinfo"), e))?;
        let membership = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| CgroupError::io("cannot read", Path::new("/proc/self/cgroup"), e))?;
        let mounts = parse_mountinfo(&mountinfo, mount_root);
        let own = parse_membership(&membership);
        let v1 = v1::locate(&mounts, &own, controllers);
        match v1 {
            Ok(dirs) => {
                let dirs: BTreeMap<Controller, PathBuf> = dirs
                    .into_iter()
                    .map(|(c, dir)| (c, dir.join(relative)))
                    .collect();
                for dir in unique(&dirs) {
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| CgroupError::io("cannot create cgroup", &dir, e))?;
                }
                Ok(Hierarchy::V1(dirs))
            }
            Err(v1_problem) => match v2::locate(&mounts, &own, controllers) {
                Ok(own_dir) => Ok(Hierarchy::V2(v2::create_base(&own_dir, relative)?)),
                Err(v2_problem) => Err(CgroupError::Unavailable(format!(
                    "no usable cgroup hierarchy under {}: v1: {v1_problem}; v2: {v2_problem}",
                    mount_root.display()
                ))),
            },
        }
    }

    /// The cgroup version in use.
    pub fn version(&self) -> Version {
        match self {
            Hierarchy::V1(_) => Version::V1,
            Hierarchy::V2(_) => Version::V2,
        }
    }

    /// The base directories, one per hierarchy (for logs and `/state`).
    pub fn base_dirs(&self) -> Vec<PathBuf> {
        match self {
            Hierarchy::V1(dirs) => {
                let mut unique: Vec<PathBuf> = dirs.values().cloned().collect();
                unique.sort();
                unique.dedup();
                unique
            }
            Hierarchy::V2(dir) => vec![dir.clone()],
        }
    }

    /// The cgroup at `path` below the base (`<id>` or `<parent>/<child>`);
    /// nothing is created yet.
    pub fn cgroup(&self, path: &str) -> Cgroup {
        match self {
            Hierarchy::V1(dirs) => Cgroup::V1(
                dirs.iter()
                    .map(|(controller, dir)| (*controller, dir.join(path)))
                    .collect(),
            ),
            Hierarchy::V2(dir) => Cgroup::V2(dir.join(path)),
        }
    }

    /// The names of the cgroups directly below the base, in any hierarchy
    /// in use (for finding orphans: a crash may leave a container's cgroup
    /// in some hierarchies only).
    pub fn top_level(&self) -> Vec<String> {
        let mut names = std::collections::BTreeSet::new();
        for dir in self.base_dirs() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    names.insert(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        names.into_iter().collect()
    }
}

/// One container's cgroup, in every hierarchy in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroup {
    /// Its directory per controller.
    V1(BTreeMap<Controller, PathBuf>),
    /// Its directory in the unified hierarchy.
    V2(PathBuf),
}

/// A line of the v1 device whitelist: `c 1:3 rwm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    /// `a` (all), `c` (character) or `b` (block).
    pub kind: char,
    /// Major number; `None` is `*`.
    pub major: Option<u32>,
    /// Minor number; `None` is `*`.
    pub minor: Option<u32>,
    /// Some of `r`, `w`, `m`.
    pub access: &'static str,
}

impl std::fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let number = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        write!(
            f,
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

impl Cgroup {
    /// Creates the cgroup's directories (parents included).
    pub fn create(&self) -> Result<(), CgroupError> {
        match self {
            Cgroup::V1(dirs) => {
                for dir in unique(dirs) {
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| CgroupError::io("cannot create cgroup", &dir, e))?;
                }
                Ok(())
            }
            Cgroup::V2(dir) => v2::create(dir),
        }
    }

    /// True when the cgroup exists (in the tracking hierarchy).
    pub fn exists(&self) -> bool {
        self.tracking_dir().is_dir()
    }

    /// The `cgroup.procs` files a process writes itself into to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        match self {
            Cgroup::V1(dirs) => unique(dirs)
                .into_iter()
                .map(|d| d.join("cgroup.procs"))
                .collect(),
            Cgroup::V2(dir) => vec![dir.join("cgroup.procs")],
        }
    }

    /// The directory that tracks the container's processes.
    pub fn tracking_dir(&self) -> PathBuf {
        match self {
            Cgroup::V1(dirs) => dirs
                .get(&Controller::Freezer)
                .or_else(|| dirs.values().next())
                .cloned()
                .unwrap_or_default(),
            Cgroup::V2(dir) => dir.clone(),
        }
    }

    /// The directory of one controller, if it is in use.
    pub fn dir(&self, controller: Controller) -> Option<&Path> {
        match self {
            Cgroup::V1(dirs) => dirs.get(&controller).map(PathBuf::as_path),
            Cgroup::V2(dir) => match controller {
                Controller::Devices => None,
                _ => Some(dir.as_path()),
            },
        }
    }

    /// A nested cgroup inside this one.
    pub fn child(&self, name: &str) -> Cgroup {
        match self {
            Cgroup::V1(dirs) => Cgroup::V1(
                dirs.iter()
                    .map(|(controller, dir)| (*controller, dir.join(name)))
                    .collect(),
            ),
            Cgroup::V2(dir) => Cgroup::V2(dir.join(name)),
        }
    }

    /// Sets the CPU weight (`shares`, v1 scale: 1024 per CPU) and, when
    /// given, a hard quota per CFS period.
    pub fn set_cpu(&self, shares: u64, quota: Option<(Duration, Duration)>) -> io::Result<()> {
        match self {
            Cgroup::V1(dirs) => v1::set_cpu(dirs, shares, quota),
            Cgroup::V2(dir) => v2::set_cpu(dir, shares, quota),
        }
    }

    /// Sets the memory limit (hard) and the soft limit, in bytes. A hard
    /// limit below what the container already uses is refused by the
    /// kernel (`EBUSY`).
    pub fn set_memory(&self, limit: u64, soft: u64) -> io::Result<()> {
        match self {
            Cgroup::V1(dirs) => v1::set_memory(dirs, limit, soft),
            Cgroup::V2(dir) => v2::set_memory(dir, limit, soft),
        }
    }

    /// Caps the number of processes and threads.
    pub fn set_pids_max(&self, max: u64) -> io::Result<()> {
        let dir = self.dir(Controller::Pids).ok_or_else(not_in_use)?;
        write(dir, "pids.max", &max.to_string())
    }

    /// Denies every device, then allows `rules` (v1 only).
    pub fn set_devices(&self, rules: &[DeviceRule]) -> io::Result<()> {
        let dir = self.dir(Controller::Devices).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "device rules need the v1 devices controller",
            )
        })?;
        write(dir, "devices.deny", "a")?;
        for rule in rules {
            write(dir, "devices.allow", &rule.to_string())?;
        }
        Ok(())
    }

    /// The PIDs of the container's processes (thread group leaders), its
    /// nested containers' included.
    pub fn pids(&self) -> Vec<i32> {
        fn collect(dir: &Path, into: &mut Vec<i32>) {
            into.extend(read_ids(&dir.join("cgroup.procs")));
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        collect(&entry.path(), into);
                    }
                }
            }
        }
        let mut pids = Vec::new();
        collect(&self.tracking_dir(), &mut pids);
        pids
    }

    /// Usage figures, as far as the controllers in use report them.
    pub fn stats(&self) -> CgroupStats {
        match self {
            Cgroup::V1(dirs) => v1::stats(dirs),
            Cgroup::V2(dir) => v2::stats(dir),
        }
    }

    /// How many processes the kernel's OOM killer has killed in it.
    pub fn oom_kills(&self) -> u64 {
        match self {
            Cgroup::V1(dirs) => v1::oom_kills(dirs),
            Cgroup::V2(dir) => v2::oom_kills(dir),
        }
    }

    /// Kills every process in the cgroup (and its nested cgroups) and
    /// waits, up to `timeout`, until none is left.
    pub fn kill_all(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Cgroup::V1(dirs) => v1::kill_all(dirs, timeout),
            Cgroup::V2(dir) => v2::kill_all(dir, timeout),
        }
    }

    /// Removes the cgroup's directories, nested ones first. Its processes
    /// must be gone. A cgroup that does not exist is not an error.
    pub fn remove(&self) -> io::Result<()> {
        let dirs = match self {
            Cgroup::V1(dirs) => unique(dirs),
            Cgroup::V2(dir) => vec![dir.clone()],
        };
        let mut first_error = None;
        for dir in dirs {
            if let Err(e) = remove_tree(&dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn not_in_use() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "controller not in use")
}

/// The distinct directories of a v1 cgroup (co-mounted controllers share).
fn unique(dirs: &BTreeMap<Controller, PathBuf>) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = dirs.values().cloned().collect();
    all.sort();
    all.dedup();
    all
}

/// Removes a cgroup directory and the cgroups inside it (cgroupfs wants
/// `rmdir`, innermost first; the interface files go with their directory).
fn remove_tree(dir: &Path) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Writes one interface file.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot write {value:?} to {}: {e}", path.display()),
        )
    })
}

/// Reads one interface file, trimmed.
pub(crate) fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Reads a number from an interface file (`max` is `None`).
pub(crate) fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    read(dir, file)?.parse().ok()
}

/// `key value` lines of a `*.stat` or `*.events` file.
pub(crate) fn read_keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

fn read_ids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Waits, polling, until `done` holds or `timeout` passes.
pub(crate) fn poll_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests;
