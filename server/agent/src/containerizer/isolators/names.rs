//! `--isolation`: Mesos's isolator names, its aliases and its rules.
//!
//! The value is a comma-separated list. Mesos's old aliases are rewritten
//! (`process` → `posix/cpu,posix/mem`, `cgroups` → `cgroups/cpu,cgroups/mem`,
//! `posix/disk` → `disk/du`, `cgroups/all` → every cgroup isolator we
//! have); a name given twice, a name we do not know, and a combination
//! that cannot work (a PID or IPC namespace without `filesystem/linux`,
//! GPUs without the devices cgroup) are errors that list what is valid.

/// What `meseta agent` isolates with when `--isolation` is not given and
/// it can (root, writable cgroups).
pub const DEFAULT_ISOLATION: &str =
    "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,filesystem/linux,docker/runtime,network/ports,disk/du";

/// Mesos's own default: usage reporting only, no isolation.
pub const NO_ISOLATION: &str = "posix/cpu,posix/mem";

/// Every isolator name Meseta accepts.
pub const SUPPORTED: [&str; 16] = [
    "cgroups/cpu",
    "cgroups/mem",
    "cgroups/pids",
    "cgroups/devices",
    "cgroups/all",
    "namespaces/pid",
    "namespaces/ipc",
    "filesystem/linux",
    "filesystem/posix",
    "docker/runtime",
    "network/ports",
    "disk/du",
    "posix/rlimits",
    "posix/cpu",
    "posix/mem",
    "gpu/nvidia",
];

/// Mesos isolators Meseta knows of but does not have.
const NOT_AVAILABLE: [&str; 19] = [
    "appc/runtime",
    "cgroups/blkio",
    "cgroups/cpuset",
    "cgroups/hugetlb",
    "cgroups/net_cls",
    "cgroups/net_prio",
    "cgroups/perf_event",
    "disk/xfs",
    "docker/volume",
    "environment_secret",
    "filesystem/shared",
    "linux/capabilities",
    "linux/devices",
    "linux/nnp",
    "linux/seccomp",
    "network/cni",
    "network/port_mapping",
    "volume/host_path",
    "volume/sandbox_path",
];

/// A checked `--isolation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// Canonical names, aliases expanded, in the order given.
    pub names: Vec<String>,
}

impl Isolation {
    /// True when nothing is isolated (only usage reporting): plain processes.
    pub fn is_plain(&self) -> bool {
        self.names
            .iter()
            .all(|n| matches!(n.as_str(), "posix/cpu" | "posix/mem" | "filesystem/posix"))
    }

    /// True when `name` is in the list.
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The list as `/state` shows it.
    pub fn text(&self) -> String {
        self.names.join(",")
    }
}

/// Parses and checks an `--isolation` value (see the module docs).
pub fn parse_isolation(text: &str) -> Result<Isolation, String> {
    let mut names: Vec<String> = Vec::new();
    for given in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let expanded: Vec<&str> = match given {
            "process" => vec!["posix/cpu", "posix/mem"],
            "cgroups" => vec!["cgroups/cpu", "cgroups/mem"],
            "posix/disk" => vec!["disk/du"],
            "cgroups/all" => vec![
                "cgroups/cpu",
                "cgroups/mem",
                "cgroups/pids",
                "cgroups/devices",
            ],
            name if SUPPORTED.contains(&name) => vec![name],
            name if NOT_AVAILABLE.contains(&name) => {
                return Err(format!(
                    "the Mesos isolator '{name}' is not available in Meseta; valid isolators: {}",
                    SUPPORTED.join(", ")
                ))
            }
            name => {
                return Err(format!(
                    "unknown isolator '{name}'; valid isolators: {}",
                    SUPPORTED.join(", ")
                ))
            }
        };
        for name in expanded {
            if names.iter().any(|n| n == name) {
                if given == "cgroups/all" {
                    continue;
                }
                return Err(format!(
                    "the isolator '{name}' is given twice in --isolation"
                ));
            }
            names.push(name.to_string());
        }
    }
    if names.is_empty() {
        return Err(format!(
            "--isolation is empty; valid isolators: {}",
            SUPPORTED.join(", ")
        ));
    }
    let isolation = Isolation { names };
    if isolation.has("filesystem/linux") && isolation.has("filesystem/posix") {
        return Err("filesystem/linux and filesystem/posix cannot be used together".into());
    }
    for needs_mounts in ["namespaces/pid", "namespaces/ipc"] {
        if isolation.has(needs_mounts) && !isolation.has("filesystem/linux") {
            return Err(format!(
                "{needs_mounts} needs filesystem/linux (a mount namespace) in --isolation"
            ));
        }
    }
    if isolation.has("gpu/nvidia")
        && !(isolation.has("cgroups/devices") && isolation.has("filesystem/linux"))
    {
        return Err("gpu/nvidia needs cgroups/devices and filesystem/linux in --isolation".into());
    }
    Ok(isolation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_parses() {
        let isolation = parse_isolation(DEFAULT_ISOLATION).unwrap();
        assert_eq!(isolation.text(), DEFAULT_ISOLATION);
        assert!(!isolation.is_plain());
        assert!(parse_isolation(NO_ISOLATION).unwrap().is_plain());
    }

    #[test]
    fn aliases_expand() {
        let isolation = parse_isolation("cgroups, process,posix/disk").unwrap();
        assert_eq!(
            isolation.text(),
            "cgroups/cpu,cgroups/mem,posix/cpu,posix/mem,disk/du"
        );
        let all = parse_isolation("cgroups/mem,cgroups/all").unwrap();
        assert_eq!(
            all.text(),
            "cgroups/mem,cgroups/cpu,cgroups/pids,cgroups/devices"
        );
    }

    #[test]
    fn unknown_and_unavailable_names_list_the_valid_ones() {
        let unknown = parse_isolation("cgroups/cpu,cgroups/memory").unwrap_err();
        assert!(
            unknown.contains("unknown isolator 'cgroups/memory'"),
            "{unknown}"
        );
        assert!(
            unknown.contains("cgroups/mem,") || unknown.contains("cgroups/mem "),
            "{unknown}"
        );
        let unavailable = parse_isolation("network/cni").unwrap_err();
        assert!(
            unavailable.contains("not available in Meseta"),
            "{unavailable}"
        );
        assert!(parse_isolation(" , ").is_err());
    }

    #[test]
    fn combinations_that_cannot_work_are_refused() {
        assert!(parse_isolation("cgroups/cpu,cgroups/cpu")
            .unwrap_err()
            .contains("twice"));
        assert!(parse_isolation("namespaces/pid")
            .unwrap_err()
            .contains("filesystem/linux"));
        assert!(parse_isolation("gpu/nvidia,filesystem/linux")
            .unwrap_err()
            .contains("cgroups/devices"));
        assert!(parse_isolation("filesystem/linux,filesystem/posix").is_err());
    }
}
