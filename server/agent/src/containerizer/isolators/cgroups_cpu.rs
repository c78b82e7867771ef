//! `cgroups/cpu` and `cgroups/pids`.
//!
//! CPU: shares proportional to `cpus` (1024 per CPU, at least 2), which
//! only matter under contention; with `--cgroups-enable-cfs` also a hard
//! quota of `cpus` × the 100 ms CFS period (at least 1 ms). Pids: every
//! container is capped at `--cgroups-max-pids` processes and threads.

use std::time::Duration;

use meseta_proto::v1;

use super::{scalar, Isolator};
use crate::containerizer::cgroups::{Cgroup, Controller};

/// Shares per CPU, as in Mesos.
pub const SHARES_PER_CPU: f64 = 1024.0;
/// The fewest shares a container gets.
pub const MIN_SHARES: u64 = 2;
/// The CFS period.
pub const CFS_PERIOD: Duration = Duration::from_millis(100);
/// The smallest CFS quota.
pub const MIN_CFS_QUOTA: Duration = Duration::from_millis(1);

/// The shares for `cpus`.
pub fn shares(cpus: f64) -> u64 {
    ((cpus * SHARES_PER_CPU) as u64).max(MIN_SHARES)
}

/// The CFS quota per period for `cpus`.
pub fn cfs_quota(cpus: f64) -> Duration {
    CFS_PERIOD.mul_f64(cpus.max(0.0)).max(MIN_CFS_QUOTA)
}

#[derive(Debug)]
pub(super) struct CpuIsolator {
    pub enable_cfs: bool,
}

impl Isolator for CpuIsolator {
    fn name(&self) -> &'static str {
        "cgroups/cpu"
    }

    fn controllers(&self) -> &'static [Controller] {
        &[Controller::Cpu, Controller::Cpuacct]
    }

    fn update(&self, cgroup: &Cgroup, resources: &[v1::Resource]) -> Result<(), String> {
        let cpus = scalar(resources, "cpus");
        let quota = self.enable_cfs.then(|| (cfs_quota(cpus), CFS_PERIOD));
        cgroup
            .set_cpu(shares(cpus), quota)
            .map_err(|e| format!("cannot set the CPU limits: {e}"))
    }
}

#[derive(Debug)]
pub(super) struct PidsIsolator {
    pub max: u64,
}

impl Isolator for PidsIsolator {
    fn name(&self) -> &'static str {
        "cgroups/pids"
    }

    fn controllers(&self) -> &'static [Controller] {
        &[Controller::Pids]
    }

    fn update(&self, cgroup: &Cgroup, _resources: &[v1::Resource]) -> Result<(), String> {
        cgroup
            .set_pids_max(self.max)
            .map_err(|e| format!("cannot set the process limit: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_quota_follow_the_cpus() {
        assert_eq!(shares(1.0), 1024);
        assert_eq!(shares(0.25), 256);
        assert_eq!(shares(3.0), 3072);
        assert_eq!(shares(0.0), MIN_SHARES);
        assert_eq!(shares(0.001), MIN_SHARES);
        assert_eq!(cfs_quota(0.25), Duration::from_millis(25));
        assert_eq!(cfs_quota(2.0), Duration::from_millis(200));
        assert_eq!(cfs_quota(0.0), MIN_CFS_QUOTA);
    }
}
