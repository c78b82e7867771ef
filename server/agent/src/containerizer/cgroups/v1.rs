//! cgroup v1: one hierarchy per controller (some may be co-mounted, such as
//! `cpu,cpuacct`), each with its own directory for a container.
//!
//! Killing a container freezes it first (`freezer.state`), so that nothing
//! can fork while its processes are being SIGKILLed, then thaws it so the
//! signals are delivered. OOM events come from an eventfd registered in the
//! memory cgroup's `cgroup.event_control` on `memory.oom_control`.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::discover::{dir_in_mount, Mount};
use super::stats::{clock_ticks, count_recursive};
use super::{poll_until, read, read_keyed, read_u64, write, CgroupStats, Controller, Version};

/// Limits at or above this are the kernel's "unlimited".
const UNLIMITED: u64 = 1 << 62;

/// The directory of this process's cgroup in the hierarchy of each
/// controller (the freezer always included, for tracking).
pub(crate) fn locate(
    mounts: &[Mount],
    own: &BTreeMap<String, String>,
    controllers: &[Controller],
) -> Result<BTreeMap<Controller, PathBuf>, String> {
    let mut wanted: Vec<Controller> = controllers.to_vec();
    wanted.push(Controller::Freezer);
    if wanted.contains(&Controller::Cpu) {
        wanted.push(Controller::Cpuacct);
    }
    wanted.sort();
    wanted.dedup();
    let mut dirs = BTreeMap::new();
    for controller in wanted {
        let name = controller.name();
        let mount = mounts
            .iter()
            .find(|m| m.version == Version::V1 && m.controllers.iter().any(|c| c == name))
            .ok_or_else(|| format!("the {name} controller is not mounted"))?;
        let path = own.get(name).map_or("/", String::as_str);
        dirs.insert(controller, dir_in_mount(mount, path));
    }
    Ok(dirs)
}

pub(crate) fn set_cpu(
    dirs: &BTreeMap<Controller, PathBuf>,
    shares: u64,
    quota: Option<(Duration, Duration)>,
) -> io::Result<()> {
    let dir = dirs.get(&Controller::Cpu).ok_or_else(missing)?;
    write(dir, "cpu.shares", &shares.to_string())?;
    if let Some((quota, period)) = quota {
        write(dir, "cpu.cfs_period_us", &period.as_micros().to_string())?;
        write(dir, "cpu.cfs_quota_us", &quota.as_micros().to_string())?;
    }
    Ok(())
}

/// The hard limit is only ever raised: lowering it below what the
/// container uses would OOM-kill it; the soft limit follows the request.
pub(crate) fn set_memory(
    dirs: &BTreeMap<Controller, PathBuf>,
    limit: u64,
    soft: u64,
) -> io::Result<()> {
    let dir = dirs.get(&Controller::Memory).ok_or_else(missing)?;
    let current = read_u64(dir, "memory.limit_in_bytes").unwrap_or(u64::MAX);
    if current >= UNLIMITED || limit > current {
        write(dir, "memory.limit_in_bytes", &limit.to_string())?;
    }
    write(dir, "memory.soft_limit_in_bytes", &soft.to_string())
}

pub(crate) fn stats(dirs: &BTreeMap<Controller, PathBuf>) -> CgroupStats {
    let mut stats = CgroupStats::default();
    if let Some(dir) = dirs.get(&Controller::Cpuacct) {
        let cpuacct = read_keyed(dir, "cpuacct.stat");
        let ticks = clock_ticks();
        stats.cpu_user_secs = cpuacct.get("user").map(|t| *t as f64 / ticks);
        stats.cpu_system_secs = cpuacct.get("system").map(|t| *t as f64 / ticks);
    }
    if let Some(dir) = dirs.get(&Controller::Cpu) {
        let cpu = read_keyed(dir, "cpu.stat");
        stats.cpu_periods = cpu.get("nr_periods").copied();
        stats.cpu_throttled_periods = cpu.get("nr_throttled").copied();
        stats.cpu_throttled_secs = cpu.get("throttled_time").map(|ns| *ns as f64 / 1e9);
    }
    if let Some(dir) = dirs.get(&Controller::Memory) {
        let memory = read_keyed(dir, "memory.stat");
        stats.memory_total = read_u64(dir, "memory.usage_in_bytes");
        stats.memory_peak = read_u64(dir, "memory.max_usage_in_bytes");
        stats.memory_limit = read_u64(dir, "memory.limit_in_bytes").filter(|l| *l < UNLIMITED);
        stats.memory_anon = memory.get("total_rss").copied();
        stats.memory_file = memory.get("total_cache").copied();
        stats.memory_mapped_file = memory.get("total_mapped_file").copied();
        stats.memory_swap = memory.get("total_swap").copied();
        stats.memory_unevictable = memory.get("total_unevictable").copied();
    }
    let tracking = tracking(dirs);
    stats.processes = count_recursive(&tracking, "cgroup.procs");
    stats.threads = count_recursive(&tracking, "tasks");
    stats
}

pub(crate) fn oom_kills(dirs: &BTreeMap<Controller, PathBuf>) -> u64 {
    dirs.get(&Controller::Memory)
        .map(|dir| {
            read_keyed(dir, "memory.oom_control")
                .get("oom_kill")
                .copied()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// An eventfd that becomes readable when the memory cgroup runs out of
/// memory (and when the cgroup is removed).
pub(crate) fn oom_eventfd(dir: &Path) -> io::Result<OwnedFd> {
    // SAFETY: eventfd has no pointer arguments; the descriptor it returns
    // is owned by the OwnedFd below.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let event = unsafe { OwnedFd::from_raw_fd(raw) };
    let control = std::fs::File::open(dir.join("memory.oom_control"))?;
    let line = format!("{} {}", event.as_raw_fd(), control.as_raw_fd());
    write(dir, "cgroup.event_control", &line)?;
    Ok(event)
}

/// The freeze, kill, thaw dance (see the module docs); without a freezer,
/// SIGKILL rounds until the cgroup is empty.
pub(crate) fn kill_all(dirs: &BTreeMap<Controller, PathBuf>, timeout: Duration) -> io::Result<()> {
    let dir = tracking(dirs);
    if !dir.is_dir() {
        return Ok(());
    }
    let freezer = dirs
        .get(&Controller::Freezer)
        .filter(|d| d.join("freezer.state").exists());
    if let Some(freezer) = freezer {
        write(freezer, "freezer.state", "FROZEN")?;
        let frozen = poll_until(timeout / 2, || {
            read(freezer, "freezer.state").as_deref() == Some("FROZEN")
        });
        if !frozen {
            tracing::warn!(cgroup = %freezer.display(), "the cgroup did not freeze in time; killing it unfrozen");
        }
        signal_tree(&dir, libc::SIGKILL);
        write(freezer, "freezer.state", "THAWED")?;
    }
    let emptied = poll_until(timeout, || {
        signal_tree(&dir, libc::SIGKILL);
        count_recursive(&dir, "cgroup.procs").unwrap_or(0) == 0
    });
    if emptied {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("processes remain in {} after SIGKILL", dir.display()),
        ))
    }
}

/// Sends `signal` to every process of the cgroup at `dir` and below;
/// returns how many there were.
pub(crate) fn signal_tree(dir: &Path, signal: libc::c_int) -> usize {
    let mut count = 0;
    for pid in super::read_ids(&dir.join("cgroup.procs")) {
        if pid > 1 {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, signal) };
            count += 1;
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                count += signal_tree(&entry.path(), signal);
            }
        }
    }
    count
}

fn tracking(dirs: &BTreeMap<Controller, PathBuf>) -> PathBuf {
    dirs.get(&Controller::Freezer)
        .or_else(|| dirs.values().next())
        .cloned()
        .unwrap_or_default()
}

fn missing() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "controller not in use")
}
