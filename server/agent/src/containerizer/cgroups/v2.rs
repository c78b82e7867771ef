//! cgroup v2: one unified hierarchy. A controller is usable in a cgroup only
//! when its parent lists it in `cgroup.subtree_control`, and a cgroup that
//! hands controllers down may hold no processes itself, so the agent's own
//! cgroup must be delegated to it with no other processes in it (as a
//! systemd unit with `Delegate=yes` is).
//!
//! v1 values are converted: CPU shares to `cpu.weight` (the mapping
//! systemd and the OCI runtimes use: 2..262144 onto 1..10000), the CFS
//! quota to `cpu.max`, the memory limit to `memory.max`. The v1 soft
//! memory limit has no v2 counterpart that keeps its meaning, so it is not
//! written. Killing uses `cgroup.kill` (Linux 5.14+), else freezing with
//! `cgroup.freeze` and SIGKILL.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::discover::{dir_in_mount, Mount};
use super::stats::count_recursive;
use super::{poll_until, read, read_keyed, read_u64, write, CgroupError, CgroupStats, Controller};
use super::{v1::signal_tree, Version};

/// The v2 controllers the isolators can use.
const USED: [&str; 3] = ["cpu", "memory", "pids"];

/// The v2 name of a controller (`None`: built in, or not on v2).
fn v2_name(controller: Controller) -> Result<Option<&'static str>, String> {
    match controller {
        Controller::Cpu | Controller::Cpuacct => Ok(Some("cpu")),
        Controller::Memory => Ok(Some("memory")),
        Controller::Pids => Ok(Some("pids")),
        Controller::Freezer => Ok(None),
        Controller::Devices => {
            Err("device rules are not available on cgroup v2 (they need BPF programs there)".into())
        }
    }
}

/// This process's cgroup in the unified hierarchy, checked to offer the
/// controllers wanted.
pub(crate) fn locate(
    mounts: &[Mount],
    own: &BTreeMap<String, String>,
    controllers: &[Controller],
) -> Result<PathBuf, String> {
    let mount = mounts
        .iter()
        .find(|m| m.version == Version::V2)
        .ok_or("no cgroup2 file system is mounted")?;
    let path = own.get("").map_or("/", String::as_str);
    let dir = dir_in_mount(mount, path);
    let available = read(&dir, "cgroup.controllers").unwrap_or_default();
    for controller in controllers {
        if let Some(name) = v2_name(*controller)? {
            if !available.split_whitespace().any(|c| c == name) {
                return Err(format!(
                    "the {name} controller is not available in {} (it offers: {:?})",
                    dir.display(),
                    available
                ));
            }
        }
    }
    Ok(dir)
}

/// Creates `<own>/<relative>`, the base cgroup, handing the controllers
/// down to it from the agent's own cgroup; returns it.
pub(crate) fn create_base(own: &Path, relative: &str) -> Result<PathBuf, CgroupError> {
    let mut dir = own.to_path_buf();
    delegate_checked(&dir)?;
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(CgroupError::io("cannot create cgroup", &dir, e))
            }
            _ => {}
        }
        delegate_checked(&dir)?;
    }
    Ok(dir)
}

fn delegate_checked(dir: &Path) -> Result<(), CgroupError> {
    delegate(dir).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EBUSY) {
            " (a cgroup with processes cannot hand controllers down: run the agent in a \
             cgroup of its own, e.g. a systemd unit with Delegate=yes)"
        } else {
            ""
        };
        CgroupError::Io {
            context: format!("cannot enable controllers in {}{hint}", dir.display()),
            source: e,
        }
    })
}

/// Enables, for the cgroups below `dir`, the used controllers `dir` has.
fn delegate(dir: &Path) -> io::Result<()> {
    let available = read(dir, "cgroup.controllers").unwrap_or_default();
    let enable: Vec<String> = available
        .split_whitespace()
        .filter(|c| USED.contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    if enable.is_empty() {
        return Ok(());
    }
    write(dir, "cgroup.subtree_control", &enable.join(" "))
}

/// Creates a container's cgroup; a nested one's parent hands its
/// controllers down.
pub(crate) fn create(dir: &Path) -> Result<(), CgroupError> {
    if let Some(parent) = dir.parent() {
        if !parent.is_dir() {
            create(parent)?;
        }
        if !dir.is_dir() {
            delegate(parent)
                .map_err(|e| CgroupError::io("cannot enable controllers in", parent, e))?;
        }
    }
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            Err(CgroupError::io("cannot create cgroup", dir, e))
        }
        _ => Ok(()),
    }
}

/// v1 shares (2..262144) to a v2 weight (1..10000).
pub fn weight_of_shares(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

pub(crate) fn set_cpu(
    dir: &Path,
    shares: u64,
    quota: Option<(Duration, Duration)>,
) -> io::Result<()> {
    write(dir, "cpu.weight", &weight_of_shares(shares).to_string())?;
    if let Some((quota, period)) = quota {
        let line = format!("{} {}", quota.as_micros(), period.as_micros());
        write(dir, "cpu.max", &line)?;
    }
    Ok(())
}

/// As on v1, the hard limit is only raised.
pub(crate) fn set_memory(dir: &Path, limit: u64, _soft: u64) -> io::Result<()> {
    let current = read(dir, "memory.max");
    let raise = match current.as_deref() {
        None | Some("max") => true,
        Some(value) => value.parse::<u64>().map_or(true, |current| limit > current),
    };
    if raise {
        write(dir, "memory.max", &limit.to_string())?;
    }
    Ok(())
}

pub(crate) fn stats(dir: &Path) -> CgroupStats {
    let cpu = read_keyed(dir, "cpu.stat");
    let memory = read_keyed(dir, "memory.stat");
    let micros = |key: &str| cpu.get(key).map(|us| *us as f64 / 1e6);
    CgroupStats {
        cpu_user_secs: micros("user_usec"),
        cpu_system_secs: micros("system_usec"),
        cpu_periods: cpu.get("nr_periods").copied(),
        cpu_throttled_periods: cpu.get("nr_throttled").copied(),
        cpu_throttled_secs: micros("throttled_usec"),
        memory_total: read_u64(dir, "memory.current"),
        memory_peak: read_u64(dir, "memory.peak"),
        memory_limit: read_u64(dir, "memory.max"),
        memory_anon: memory.get("anon").copied(),
        memory_file: memory.get("file").copied(),
        memory_mapped_file: memory.get("file_mapped").copied(),
        memory_swap: read_u64(dir, "memory.swap.current"),
        memory_unevictable: memory.get("unevictable").copied(),
        processes: count_recursive(dir, "cgroup.procs"),
        threads: count_recursive(dir, "cgroup.threads"),
    }
}

pub(crate) fn oom_kills(dir: &Path) -> u64 {
    read_keyed(dir, "memory.events")
        .get("oom_kill")
        .copied()
        .unwrap_or(0)
}

/// True while a process is in the cgroup or below.
pub(crate) fn populated(dir: &Path) -> bool {
    read_keyed(dir, "cgroup.events").get("populated") == Some(&1)
}

pub(crate) fn kill_all(dir: &Path, timeout: Duration) -> io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    if dir.join("cgroup.kill").exists() {
        write(dir, "cgroup.kill", "1")?;
    } else {
        write(dir, "cgroup.freeze", "1")?;
        poll_until(timeout / 2, || {
            read_keyed(dir, "cgroup.events").get("frozen") == Some(&1)
        });
        signal_tree(dir, libc::SIGKILL);
        write(dir, "cgroup.freeze", "0")?;
    }
    if poll_until(timeout, || !populated(dir)) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("processes remain in {} after it was killed", dir.display()),
        ))
    }
}
