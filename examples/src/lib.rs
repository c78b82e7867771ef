//! Helpers shared by the example frameworks: logging, a `FrameworkInfo`, and
//! cutting task resources out of an offer.

use meseta_core::detector::MasterSpec;
use meseta_proto::v1::{self, framework_info, Resource, TaskState};

/// Logs to stderr; `RUST_LOG` overrides the default level (`info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(meseta_core::logging::colour_stderr())
        .init();
}

/// A clap value parser that rejects a malformed `--master` up front.
pub fn parse_master(text: &str) -> Result<String, String> {
    MasterSpec::parse(text)
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

/// A multi-role framework in `role`, run as `user` (default: `$USER`, or
/// `root`).
pub fn framework_info(name: &str, role: &str, user: Option<String>) -> v1::FrameworkInfo {
    let user = user
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".to_string());
    v1::FrameworkInfo {
        user,
        name: name.to_string(),
        roles: vec![role.to_string()],
        capabilities: vec![framework_info::Capability {
            r#type: Some(framework_info::capability::Type::MultiRole as i32),
        }],
        hostname: hostname(),
        ..Default::default()
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Mesos name of a task state (`TASK_FINISHED`).
pub fn state_name(state: i32) -> &'static str {
    TaskState::try_from(state)
        .map(|s| s.as_str_name())
        .unwrap_or("UNKNOWN_STATE")
}

/// Cuts `cpus` + `mem` slices out of one offer's scalar resources, keeping
/// each offered resource's role, reservations and allocation info (so the
/// slices are valid for reserved and multi-role offers alike).
#[derive(Debug)]
pub struct Packer {
    pool: Vec<(Resource, f64)>,
}

impl Packer {
    /// The offer's scalar `cpus` and `mem`.
    pub fn new(offer: &v1::Offer) -> Self {
        let pool = offer
            .resources
            .iter()
            .filter(|r| r.name == "cpus" || r.name == "mem")
            .filter(|r| r.revocable.is_none() && r.disk.is_none())
            .filter_map(|r| r.scalar.as_ref().map(|s| (r.clone(), s.value)))
            .collect();
        Self { pool }
    }

    /// Takes `cpus` and `mem` if both fit, as task resources.
    pub fn take(&mut self, cpus: f64, mem: f64) -> Option<Vec<Resource>> {
        let cpu_slot = self.slot("cpus", cpus)?;
        let mem_slot = self.slot("mem", mem)?;
        let mut taken = Vec::new();
        for (slot, amount) in [(cpu_slot, cpus), (mem_slot, mem)] {
            if amount <= 0.0 {
                continue;
            }
            let (template, remaining) = &mut self.pool[slot];
            // Mesos keeps three decimals; do the same so 0.1 * 10 fits in 1.
            *remaining = ((*remaining - amount) * 1000.0).round() / 1000.0;
            let mut resource = template.clone();
            resource.scalar = Some(v1::value::Scalar { value: amount });
            taken.push(resource);
        }
        Some(taken)
    }

    fn slot(&self, name: &str, amount: f64) -> Option<usize> {
        if amount <= 0.0 {
            return Some(0);
        }
        self.pool
            .iter()
            .position(|(r, remaining)| r.name == name && *remaining + 1e-9 >= amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meseta_proto::resources::scalar;

    fn offer(resources: Vec<Resource>) -> v1::Offer {
        v1::Offer {
            resources,
            ..Default::default()
        }
    }

    #[test]
    fn packer_fits_as_many_tasks_as_the_offer_holds() {
        let mut packer = Packer::new(&offer(vec![scalar("cpus", 1.0), scalar("mem", 100.0)]));
        let mut fitted = 0;
        while packer.take(0.1, 32.0).is_some() {
            fitted += 1;
        }
        assert_eq!(fitted, 3, "memory is the limit");

        let mut packer = Packer::new(&offer(vec![scalar("cpus", 1.0), scalar("mem", 4096.0)]));
        let mut fitted = 0;
        while packer.take(0.1, 32.0).is_some() {
            fitted += 1;
        }
        assert_eq!(fitted, 10, "0.1 * 10 fits in 1 cpu despite float rounding");
    }

    #[test]
    fn packer_keeps_the_offered_role_metadata() {
        let mut reserved = scalar("cpus", 2.0);
        reserved.allocation_info = Some(v1::resource::AllocationInfo {
            role: Some("web".into()),
        });
        let mut packer = Packer::new(&offer(vec![reserved, scalar("mem", 64.0)]));
        let taken = packer.take(0.5, 16.0).expect("fits");
        assert_eq!(taken.len(), 2);
        assert_eq!(
            taken[0]
                .allocation_info
                .as_ref()
                .and_then(|a| a.role.as_deref()),
            Some("web")
        );
        assert_eq!(taken[0].scalar.as_ref().map(|s| s.value), Some(0.5));
        assert!(packer.take(2.0, 1.0).is_none());
    }
}
