//! What a container's cgroup says about its usage, in one shape for both
//! versions, and how it lands in Mesos's `ResourceStatistics`.

use meseta_proto::v1::ResourceStatistics;

/// Usage figures read from a cgroup; `None` where the controller is not in
/// use (or the kernel does not report it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgroupStats {
    /// CPU time in user mode, seconds.
    pub cpu_user_secs: Option<f64>,
    /// CPU time in kernel mode, seconds.
    pub cpu_system_secs: Option<f64>,
    /// CFS periods elapsed while the cgroup was runnable.
    pub cpu_periods: Option<u64>,
    /// Periods in which the cgroup hit its quota.
    pub cpu_throttled_periods: Option<u64>,
    /// Total time throttled, seconds.
    pub cpu_throttled_secs: Option<f64>,
    /// Memory charged now (anonymous + page cache + kernel), bytes.
    pub memory_total: Option<u64>,
    /// The most ever charged, bytes.
    pub memory_peak: Option<u64>,
    /// The hard limit, bytes (`None`: unlimited).
    pub memory_limit: Option<u64>,
    /// Anonymous memory (what Mesos calls rss), bytes.
    pub memory_anon: Option<u64>,
    /// Page cache, bytes.
    pub memory_file: Option<u64>,
    /// Mapped files, bytes.
    pub memory_mapped_file: Option<u64>,
    /// Swapped out, bytes.
    pub memory_swap: Option<u64>,
    /// Unevictable, bytes.
    pub memory_unevictable: Option<u64>,
    /// Processes (thread group leaders) in it and its nested cgroups.
    pub processes: Option<u32>,
    /// Threads in it and its nested cgroups.
    pub threads: Option<u32>,
}

impl CgroupStats {
    /// Copies the figures into Mesos's message (fields left as they are
    /// where the cgroup has nothing to say).
    pub fn fill(&self, stats: &mut ResourceStatistics) {
        let set_f64 = |target: &mut Option<f64>, value: Option<f64>| {
            if value.is_some() {
                *target = value;
            }
        };
        let set_u64 = |target: &mut Option<u64>, value: Option<u64>| {
            if value.is_some() {
                *target = value;
            }
        };
        let as_u32 = |value: Option<u64>| value.map(|v| u32::try_from(v).unwrap_or(u32::MAX));
        set_f64(&mut stats.cpus_user_time_secs, self.cpu_user_secs);
        set_f64(&mut stats.cpus_system_time_secs, self.cpu_system_secs);
        if let Some(periods) = as_u32(self.cpu_periods) {
            stats.cpus_nr_periods = Some(periods);
        }
        if let Some(throttled) = as_u32(self.cpu_throttled_periods) {
            stats.cpus_nr_throttled = Some(throttled);
        }
        set_f64(&mut stats.cpus_throttled_time_secs, self.cpu_throttled_secs);
        set_u64(&mut stats.mem_total_bytes, self.memory_total);
        set_u64(&mut stats.mem_limit_bytes, self.memory_limit);
        set_u64(&mut stats.mem_rss_bytes, self.memory_anon);
        set_u64(&mut stats.mem_anon_bytes, self.memory_anon);
        set_u64(&mut stats.mem_cache_bytes, self.memory_file);
        set_u64(&mut stats.mem_file_bytes, self.memory_file);
        set_u64(&mut stats.mem_mapped_file_bytes, self.memory_mapped_file);
        set_u64(&mut stats.mem_swap_bytes, self.memory_swap);
        set_u64(&mut stats.mem_unevictable_bytes, self.memory_unevictable);
        if self.processes.is_some() {
            stats.processes = self.processes;
        }
        if self.threads.is_some() {
            stats.threads = self.threads;
        }
    }
}

/// Clock ticks per second, the unit of v1's `cpuacct.stat`.
pub(crate) fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// Counts the lines of `file` in `dir` and every cgroup below it.
pub(crate) fn count_recursive(dir: &std::path::Path, file: &str) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    let mut count =
        u32::try_from(text.lines().filter(|l| !l.trim().is_empty()).count()).unwrap_or(u32::MAX);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                count = count.saturating_add(count_recursive(&entry.path(), file).unwrap_or(0));
            }
        }
    }
    Some(count)
}
