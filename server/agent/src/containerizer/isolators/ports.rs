//! `network/ports`: containers share the host's network, so nothing stops a
//! task from listening on a port it was not offered. Every
//! `--container-ports-watch-interval` the TCP sockets listening on the
//! host (`/proc/net/tcp`, `/proc/net/tcp6`) are matched to the container's
//! processes (their open socket inodes, found through its cgroup). A port
//! inside the watched range (`--container-ports-isolated-range`, else the
//! agent's `ports` resource) that is not among the container's `ports` is
//! a violation: logged once per set of ports and counted; with
//! `--enforce-container-ports` the container is ended with
//! `REASON_CONTAINER_LIMITATION`. Ports outside the watched range (a JVM's
//! ephemeral listeners) are left alone, as in Mesos.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use meseta_proto::resources::{parse_resources, range_spans, ranges};
use meseta_proto::v1::{self, task_status::Reason};

use super::{Container, IsolationConfig, Isolator};
use crate::containerizer::{container_key, Limitation};

#[derive(Debug)]
pub(super) struct PortsIsolator {
    enforce: bool,
    interval: Duration,
    watched: Vec<(u64, u64)>,
    /// The last violation logged per container, to log each set once.
    reported: Mutex<HashMap<String, BTreeSet<u16>>>,
    /// Violations seen, for the metrics.
    violations: AtomicU64,
}

impl PortsIsolator {
    pub fn new(config: &IsolationConfig, agent_resources: &[v1::Resource]) -> Result<Self, String> {
        let watched = match &config.container_ports_isolated_range {
            Some(text) => {
                let parsed = parse_resources(&format!("ports:{}", text.trim()))
                    .map_err(|e| format!("--container-ports-isolated-range {text:?}: {e}"))?;
                range_spans(&parsed, "ports")
            }
            None => range_spans(agent_resources, "ports"),
        };
        Ok(Self {
            enforce: config.enforce_container_ports,
            interval: config.container_ports_watch_interval,
            watched,
            reported: Mutex::default(),
            violations: AtomicU64::new(0),
        })
    }
}

fn within(spans: &[(u64, u64)], port: u16) -> bool {
    spans
        .iter()
        .any(|(begin, end)| (*begin..=*end).contains(&u64::from(port)))
}

/// `(port, socket inode)` of every listening TCP socket in a
/// `/proc/net/tcp`-style table.
pub(crate) fn listening(table: &str) -> Vec<(u16, u64)> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) != Some(&"0A") {
                return None;
            }
            let port = fields.get(1)?.rsplit_once(':')?.1;
            let port = u16::from_str_radix(port, 16).ok()?;
            let inode = fields.get(9)?.parse().ok()?;
            Some((port, inode))
        })
        .collect()
}

/// The socket inodes the processes `pids` hold open.
fn socket_inodes(pids: &[i32]) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for pid in pids {
        let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                inodes.insert(inode);
            }
        }
    }
    inodes
}

/// `[a-b, c]` for a set of ports.
fn spans_of(ports: &BTreeSet<u16>) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for port in ports.iter().map(|p| u64::from(*p)) {
        match spans.last_mut() {
            Some((_, end)) if *end + 1 == port => *end = port,
            _ => spans.push((port, port)),
        }
    }
    spans
}

fn spans_text(spans: &[(u64, u64)]) -> String {
    let parts: Vec<String> = spans.iter().map(|(b, e)| format!("{b}-{e}")).collect();
    format!("[{}]", parts.join(", "))
}

impl Isolator for PortsIsolator {
    fn name(&self) -> &'static str {
        "network/ports"
    }

    fn watch_interval(&self) -> Option<Duration> {
        Some(self.interval)
    }

    fn check(&self, container: &Container<'_>) -> Option<Limitation> {
        if container.nested || self.watched.is_empty() {
            return None;
        }
        let mut sockets = Vec::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            sockets.extend(listening(
                &std::fs::read_to_string(table).unwrap_or_default(),
            ));
        }
        if sockets.is_empty() {
            return None;
        }
        let inodes = socket_inodes(&container.cgroup.pids());
        let allocated = range_spans(container.resources, "ports");
        let unallocated: BTreeSet<u16> = sockets
            .iter()
            .filter(|(port, inode)| {
                inodes.contains(inode) && within(&self.watched, *port) && !within(&allocated, *port)
            })
            .map(|(port, _)| *port)
            .collect();
        let key = container_key(container.id);
        if unallocated.is_empty() {
            self.reported
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            return None;
        }
        let spans = spans_of(&unallocated);
        let message = format!(
            "Container {key} is listening on unallocated port(s): {}",
            spans_text(&spans)
        );
        let first_time = self
            .reported
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), unallocated.clone())
            .as_ref()
            != Some(&unallocated);
        if first_time {
            self.violations.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(container = %key, enforce = self.enforce, "{message}");
        }
        self.enforce.then(|| Limitation {
            reason: Reason::ContainerLimitation,
            message,
            resources: vec![ranges("ports", &spans)],
        })
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        vec![(
            "containerizer/mesos/network/ports/violations".to_string(),
            self.violations.load(Ordering::Relaxed) as f64,
        )]
    }

    fn cleanup(&self, container_id: &v1::ContainerId) {
        self.reported
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&container_key(container_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_the_tcp_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:A2C4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 23456 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(listening(table), vec![(8080, 12345)]);
        assert!(listening("header only\n").is_empty());
    }

    #[test]
    fn ports_group_into_spans() {
        let ports: BTreeSet<u16> = [31000, 31001, 31002, 31005].into_iter().collect();
        let spans = spans_of(&ports);
        assert_eq!(spans, vec![(31000, 31002), (31005, 31005)]);
        assert_eq!(spans_text(&spans), "[31000-31002, 31005-31005]");
        assert!(within(&spans, 31001));
        assert!(!within(&spans, 31003));
    }
}
