//! `cgroups/devices`: a container may use only the devices every program
//! needs (the null, zero, random and tty devices, `/dev/pts`, `/dev/net/tun`;
//! Mesos's default whitelist) plus those granted to it (its GPUs), and may
//! `mknod` but not open anything else.

use super::Isolator;
use crate::containerizer::cgroups::{Controller, DeviceRule};

const fn rule(
    kind: char,
    major: Option<u32>,
    minor: Option<u32>,
    access: &'static str,
) -> DeviceRule {
    DeviceRule {
        kind,
        major,
        minor,
        access,
    }
}

/// Mesos's default device whitelist.
pub const DEFAULT_WHITELIST: [DeviceRule; 14] = [
    rule('c', None, None, "m"),
    rule('b', None, None, "m"),
    rule('c', Some(5), Some(1), "rwm"),
    rule('c', Some(4), Some(0), "rwm"),
    rule('c', Some(4), Some(1), "rwm"),
    rule('c', Some(136), None, "rwm"),
    rule('c', Some(5), Some(2), "rwm"),
    rule('c', Some(10), Some(200), "rwm"),
    rule('c', Some(1), Some(3), "rwm"),
    rule('c', Some(1), Some(5), "rwm"),
    rule('c', Some(1), Some(7), "rwm"),
    rule('c', Some(5), Some(0), "rwm"),
    rule('c', Some(1), Some(9), "rwm"),
    rule('c', Some(1), Some(8), "rwm"),
];

/// Marks the devices controller as in use; the containerizer writes the
/// whitelist (with what other isolators grant) when it creates the cgroup.
#[derive(Debug)]
pub(super) struct DevicesIsolator;

impl Isolator for DevicesIsolator {
    fn name(&self) -> &'static str {
        "cgroups/devices"
    }

    fn controllers(&self) -> &'static [Controller] {
        &[Controller::Devices]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whitelist_reads_as_the_kernel_wants_it() {
        let lines: Vec<String> = DEFAULT_WHITELIST.iter().map(ToString::to_string).collect();
        assert_eq!(lines[0], "c *:* m");
        assert_eq!(lines[5], "c 136:* rwm");
        assert_eq!(lines[8], "c 1:3 rwm");
    }
}
