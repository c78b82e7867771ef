//! `cgroups/mem`: the container's memory is capped at its `mem` (never
//! below 32 MB, Mesos's floor). When the kernel's OOM killer strikes in the
//! cgroup, the whole container ends with
//! `REASON_CONTAINER_LIMITATION_MEMORY` and a message with the limit, the
//! peak and the cgroup's memory statistics.

use meseta_proto::v1::{self, task_status::Reason};

use super::{bytes_text, scalar, scalar_resource, Container, Isolator};
use crate::containerizer::cgroups::{Cgroup, Controller};
use crate::containerizer::Limitation;

/// The least memory a container is given, in bytes.
pub const MIN_MEMORY: u64 = 32 << 20;

/// The limit for `mem` megabytes.
pub fn memory_limit(mem_mb: f64) -> u64 {
    ((mem_mb.max(0.0) * 1024.0 * 1024.0) as u64).max(MIN_MEMORY)
}

#[derive(Debug)]
pub(super) struct MemIsolator;

impl Isolator for MemIsolator {
    fn name(&self) -> &'static str {
        "cgroups/mem"
    }

    fn controllers(&self) -> &'static [Controller] {
        &[Controller::Memory]
    }

    fn update(&self, cgroup: &Cgroup, resources: &[v1::Resource]) -> Result<(), String> {
        let limit = memory_limit(scalar(resources, "mem"));
        cgroup
            .set_memory(limit, limit)
            .map_err(|e| format!("cannot set the memory limit: {e}"))
    }

    fn check(&self, container: &Container<'_>) -> Option<Limitation> {
        if container.nested || container.cgroup.oom_kills() == 0 {
            return None;
        }
        let stats = container.cgroup.stats();
        let mut message = String::from("Memory limit exceeded:");
        if let Some(limit) = stats.memory_limit {
            message.push_str(&format!(" Requested: {}", bytes_text(limit)));
        }
        if let Some(peak) = stats.memory_peak {
            message.push_str(&format!(" Maximum Used: {}", bytes_text(peak)));
        }
        if let Some(dir) = container.cgroup.dir(Controller::Memory) {
            if let Ok(text) = std::fs::read_to_string(dir.join("memory.stat")) {
                message.push_str("\n\nMEMORY STATISTICS: \n");
                message.push_str(&text);
            }
        }
        let peak_mb = stats.memory_peak.unwrap_or(0) as f64 / (1024.0 * 1024.0);
        Some(Limitation {
            reason: Reason::ContainerLimitationMemory,
            message,
            resources: vec![scalar_resource("mem", peak_mb)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_has_a_floor() {
        assert_eq!(memory_limit(64.0), 64 << 20);
        assert_eq!(memory_limit(1.0), MIN_MEMORY);
        assert_eq!(memory_limit(0.0), MIN_MEMORY);
        assert_eq!(memory_limit(-5.0), MIN_MEMORY);
        assert_eq!(memory_limit(1024.5), (1024 << 20) + (1 << 19));
    }
}
