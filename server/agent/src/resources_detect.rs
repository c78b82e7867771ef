//! What the machine offers when the operator does not say.
//!
//! Like Mesos, any of `cpus`, `mem`, `disk` and `ports` missing from
//! `--resources` is detected: CPUs from the scheduler's view of the machine,
//! memory and disk as their totals minus a reserve kept for the operating
//! system and the agent itself, and ports as the conventional
//! `[31000-32000]`. The arithmetic is in pure functions so it can be tested
//! without the machine.

use std::path::Path;

use meseta_proto::resources::{ranges, scalar};
use meseta_proto::v1;

const MB: u64 = 1024 * 1024;
const GB_IN_MB: u64 = 1024;

/// Ports offered when the operator does not name any.
pub const DEFAULT_PORTS: (u64, u64) = (31000, 32000);

/// `given` plus every standard resource it lacks, detected from the machine.
pub(crate) fn complete(mut given: Vec<v1::Resource>, work_dir: &Path) -> Vec<v1::Resource> {
    let has = |resources: &[v1::Resource], name: &str| resources.iter().any(|r| r.name == name);
    if !has(&given, "cpus") {
        given.push(scalar("cpus", detect_cpus() as f64));
    }
    if !has(&given, "mem") {
        let total = detect_memory_mb().unwrap_or(0);
        given.push(scalar("mem", memory_after_reserve(total) as f64));
    }
    if !has(&given, "disk") {
        let total = detect_disk_mb(work_dir).unwrap_or(0);
        given.push(scalar("disk", disk_after_reserve(total) as f64));
    }
    if !has(&given, "ports") {
        given.push(ranges("ports", &[DEFAULT_PORTS]));
    }
    given
}

/// CPUs this process may run on.
pub fn detect_cpus() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

/// Total memory in MB from `/proc/meminfo`.
pub fn detect_memory_mb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_total_mb(&text)
}

/// `MemTotal` of a `/proc/meminfo` text, in MB.
pub fn parse_meminfo_total_mb(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let amount: u64 = fields.next()?.parse().ok()?;
    let bytes = match fields.next().unwrap_or("kB") {
        "kB" => amount * 1024,
        "B" => amount,
        _ => return None,
    };
    Some(bytes / MB)
}

/// Memory offered out of `total_mb`: 1 GB is kept back when the machine has
/// at least 2 GB, otherwise half.
pub fn memory_after_reserve(total_mb: u64) -> u64 {
    if total_mb >= 2 * GB_IN_MB {
        total_mb - GB_IN_MB
    } else {
        total_mb / 2
    }
}

/// Size in MB of the file system holding `path`.
pub fn detect_disk_mb(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data; all-zero is a valid value to be overwritten.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a valid NUL-terminated string and `stats` a valid
    // out-pointer, both alive for the duration of the call.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) };
    if rc != 0 {
        return None;
    }
    let bytes = (stats.f_blocks as u64).saturating_mul(stats.f_frsize as u64);
    Some(bytes / MB)
}

/// Disk offered out of `total_mb`: 5 GB is kept back when the file system
/// has at least 10 GB, otherwise half.
pub fn disk_after_reserve(total_mb: u64) -> u64 {
    if total_mb >= 10 * GB_IN_MB {
        total_mb - 5 * GB_IN_MB
    } else {
        total_mb / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meseta_proto::resources::{range_spans, scalar_total};

    #[test]
    fn meminfo_is_parsed() {
        let text = "MemTotal:       16318480 kB\nMemFree:         1234 kB\n";
        assert_eq!(parse_meminfo_total_mb(text), Some(15936));
        assert_eq!(parse_meminfo_total_mb("MemFree: 1 kB"), None);
        assert_eq!(parse_meminfo_total_mb("MemTotal: lots kB"), None);
    }

    #[test]
    fn reserves_follow_the_machine_size() {
        assert_eq!(memory_after_reserve(16 * 1024), 15 * 1024);
        assert_eq!(memory_after_reserve(1024), 512);
        assert_eq!(disk_after_reserve(100 * 1024), 95 * 1024);
        assert_eq!(disk_after_reserve(4096), 2048);
    }

    #[test]
    fn missing_resources_are_detected_and_given_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let given = meseta_proto::resources::parse_resources("cpus:3").unwrap();
        let all = complete(given, dir.path());
        assert_eq!(scalar_total(&all, "cpus"), 3.0);
        assert!(scalar_total(&all, "mem") > 0.0);
        assert!(scalar_total(&all, "disk") > 0.0);
        assert_eq!(range_spans(&all, "ports"), vec![DEFAULT_PORTS]);
        assert!(detect_cpus() >= 1);
        assert!(detect_memory_mb().unwrap() > 0);
    }
}
