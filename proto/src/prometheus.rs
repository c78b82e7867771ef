//! Prometheus's text exposition format (version 0.0.4), written by the
//! master's and the agent's `GET /metrics`.
//!
//! Mesos publishes its figures only as one flat JSON object
//! (`/metrics/snapshot`, keys such as `master/tasks_running`), which a
//! Prometheus server cannot scrape: Mesos users run an exporter process
//! beside every master and agent to translate. Serving the format ourselves
//! makes that process unnecessary. The figures are the snapshot's, turned
//! into Prometheus names by one rule (below), so the two views cannot drift
//! apart; and the rule lives here, shared by the master and the agent, so a
//! figure both report (`tasks_running`, `cpus_used`) is named, typed and
//! explained the same way by both.
//!
//! # Names
//!
//! [`metric_name`] turns a Mesos key into a Prometheus name that
//! `promtool check metrics` accepts without a lint warning:
//!
//! 1. Time is in seconds, Prometheus's base unit (its linter rejects
//!    abbreviated units such as `_ms`): a key ending `_secs` ends
//!    `_seconds`; one ending `_ms` ends `_seconds` and its value is divided
//!    by 1000; a Mesos timer's `<name>_ms/count` (how many events were
//!    timed) just loses the unit.
//! 2. `mesos_` goes in front, letters are lowercased, and every other
//!    character outside `[a-z0-9_]` (the `/` separators above all) becomes
//!    `_`, a run of them one `_`.
//! 3. A counter (see [`kind_of`]) ends `_total`, as Prometheus wants; a gauge
//!    whose Mesos key ends `_total` (a capacity, such as `slave/cpus_total`)
//!    ends `_capacity` instead, `_total` being reserved for counters.
//!
//! | Mesos key                            | Prometheus name                                |
//! |--------------------------------------|------------------------------------------------|
//! | `master/tasks_running`               | `mesos_master_tasks_running`                   |
//! | `master/tasks_finished`              | `mesos_master_tasks_finished_total`            |
//! | `master/messages_launch_tasks`       | `mesos_master_messages_launch_tasks_total`     |
//! | `allocator/mesos/allocation_runs`    | `mesos_allocator_mesos_allocation_runs_total`  |
//! | `master/cpus_total`                  | `mesos_master_cpus_capacity`                   |
//! | `slave/cpus_total`                   | `mesos_slave_cpus_capacity`                    |
//! | `master/uptime_secs`                 | `mesos_master_uptime_seconds`                  |
//! | `containerizer/docker/image_pull_ms` | `mesos_containerizer_docker_image_pull_seconds` (÷ 1000) |
//! | `containerizer/docker/image_pull_ms/count` | `mesos_containerizer_docker_image_pull_count_total` |
//!
//! Other units stay Mesos's (mem and disk in megabytes, `_percent` a
//! fraction from 0 to 1): converting them would make the two views of one
//! figure disagree for nothing a query cannot do. Every HELP text ends with
//! the Mesos key, so a figure can be found from either side. Two keys that
//! would map to one name (none do today) keep the first in key order: a
//! family may appear only once in an exposition.
//!
//! # Kinds
//!
//! The snapshot does not say which figures only grow; [`kind_of`] knows
//! Mesos's counters by name. Anything it does not know is a gauge, the safe
//! side: `rate()` over a gauge mistyped as a counter would invent resets.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::v1::TaskState;

/// The `Content-Type` of an exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows (until the process restarts).
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One sample of a family: its labels (names are ours, values anything)
/// and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label names and values, in the order they are written.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A sample without labels.
    pub fn new(value: f64) -> Self {
        Sample {
            labels: Vec::new(),
            value,
        }
    }

    /// The sample with one more label.
    pub fn label(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.labels.push((name, value.into()));
        self
    }
}

/// An exposition being written: families one after the other, each name
/// once.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
    names: HashSet<String>,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes a family: `# HELP`, `# TYPE`, then its samples. A family
    /// without samples, or whose name was already written, is left out
    /// (the answer is then `false`).
    pub fn family(&mut self, name: &str, kind: Kind, help: &str, samples: &[Sample]) -> bool {
        debug_assert!(valid_name(name), "not a Prometheus metric name: {name}");
        if samples.is_empty() || !self.names.insert(name.to_string()) {
            return false;
        }
        let out = &mut self.text;
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
        for sample in samples {
            out.push_str(name);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (label, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{label}=\"{}\"", escape_label_value(value));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(sample.value));
        }
        true
    }

    /// Writes every numeric figure of a flat Mesos snapshot
    /// (`{"master/tasks_running": 1, ...}`), named, typed and explained as
    /// the module documentation says. Anything else in it is skipped.
    pub fn snapshot(&mut self, snapshot: &Value) {
        let Some(figures) = snapshot.as_object() else {
            return;
        };
        let sorted: BTreeMap<&String, &Value> = figures.iter().collect();
        for (key, value) in sorted {
            let Some(value) = value.as_f64() else {
                continue;
            };
            let kind = kind_of(key);
            let (name, divisor) = metric_name(key, kind);
            self.family(&name, kind, &help_of(key), &[Sample::new(value / divisor)]);
        }
    }

    /// The text, ready to serve with [`CONTENT_TYPE`].
    pub fn into_text(self) -> String {
        self.text
    }
}

/// Whether a Mesos figure is a counter (see the module documentation).
pub fn kind_of(key: &str) -> Kind {
    let leaf = key.rsplit('/').next().unwrap_or(key);
    let counter = leaf.starts_with("messages_")
        || leaf.starts_with("valid_")
        || leaf.starts_with("invalid_")
        || leaf.ends_with("_runs")
        || leaf.ends_with("_errors")
        || matches!(
            leaf,
            "tasks_finished"
                | "tasks_failed"
                | "tasks_killed"
                | "tasks_lost"
                | "tasks_error"
                | "tasks_dropped"
                | "tasks_gone"
                | "executors_terminated"
                | "slave_unreachable_completed"
                | "violations"
                | "count"
        );
    if counter {
        Kind::Counter
    } else {
        Kind::Gauge
    }
}

/// The Prometheus name of a Mesos figure of the given kind, and what its
/// value is divided by (1000 for milliseconds, else 1). See the module
/// documentation for the rule.
pub fn metric_name(key: &str, kind: Kind) -> (String, f64) {
    let (key, divisor) = in_seconds(key);
    let mut name = String::from("mesos_");
    for c in key.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    while name.ends_with('_') && name.len() > "mesos_".len() {
        name.pop();
    }
    match kind {
        Kind::Counter if !name.ends_with("_total") => name.push_str("_total"),
        Kind::Gauge => {
            if let Some(stem) = name.strip_suffix("_total") {
                name = format!("{stem}_capacity");
            }
        }
        Kind::Counter => {}
    }
    (name, divisor)
}

/// A key with its time unit spelled in seconds, and the divisor of its
/// value.
fn in_seconds(key: &str) -> (String, f64) {
    for (unit, divisor) in [("_ms", 1000.0), ("_secs", 1.0)] {
        if let Some(stem) = key.strip_suffix(unit) {
            return (format!("{stem}_seconds"), divisor);
        }
        if let Some((timer, statistic)) = key.split_once(&format!("{unit}/")) {
            return if statistic == "count" {
                (format!("{timer}/count"), 1.0)
            } else {
                (format!("{timer}/{statistic}_seconds"), divisor)
            };
        }
    }
    (key.to_string(), 1.0)
}

/// Whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A label value as the format quotes it: backslash, double quote and
/// line feed escaped (`\\`, `\"`, `\n`).
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A HELP text as the format wants it: backslash and line feed escaped
/// (quotes are literal there).
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A value as the format writes it (`NaN`, `+Inf`, `-Inf`, else the
/// shortest decimal that reads back the same).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{value}")
    }
}

/// Tasks counted by state name (`TASK_RUNNING`), for a per-framework
/// family. The `always` states are there even at zero, so that a series
/// does not vanish when its last task leaves; other states only when some
/// task is in them (a terminal task is tracked only until acknowledged).
pub fn tasks_by_state(
    states: impl IntoIterator<Item = i32>,
    always: &[TaskState],
) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> =
        always.iter().map(|s| (s.as_str_name(), 0)).collect();
    for state in states {
        let name = TaskState::try_from(state).map_or("TASK_UNKNOWN", |s| s.as_str_name());
        *counts.entry(name).or_default() += 1;
    }
    counts
}

/// The HELP text of a Mesos figure: what it counts, then its Mesos key.
pub fn help_of(key: &str) -> String {
    match describe(key) {
        Some(text) => format!("{text} (Mesos {key})"),
        None => format!("Mesos metric {key}"),
    }
}

fn describe(key: &str) -> Option<String> {
    let (scope, leaf) = key.rsplit_once('/')?;
    let process = if scope == "slave" { "agent" } else { "master" };
    let text = match leaf {
        "uptime_secs" => format!("Seconds since this {process} started"),
        "elected" => "1 if this master leads the cluster, else 0".into(),
        "registered" => "1 if this agent is registered with a master, else 0".into(),
        "load_1min" => "Load average of this machine over one minute".into(),
        "mem_total_bytes" => "Memory of this machine in bytes".into(),
        "slaves_active" => "Agents registered and active".into(),
        "slaves_inactive" => "Agents registered but deactivated".into(),
        "slaves_connected" => "Agents connected to this master".into(),
        "slaves_disconnected" => "Agents registered but not connected".into(),
        "slaves_unreachable" => "Agents marked unreachable".into(),
        "slave_unreachable_completed" => "Times an agent was marked unreachable".into(),
        "frameworks_active" if process == "agent" => "Frameworks with work on this agent".into(),
        "frameworks_active" => "Frameworks subscribed and active".into(),
        "frameworks_inactive" => "Frameworks known but not active".into(),
        "frameworks_connected" => "Frameworks with an open subscription".into(),
        "frameworks_disconnected" => "Frameworks waiting to resubscribe".into(),
        "outstanding_offers" => "Offers not yet accepted, declined or rescinded".into(),
        "valid_status_updates" => "Task status updates accepted".into(),
        "invalid_status_updates" => "Task status updates rejected".into(),
        "valid_framework_messages" => "Framework messages delivered to executors".into(),
        "invalid_framework_messages" => "Framework messages dropped".into(),
        "invalid_framework_to_executor_messages" => {
            "Framework messages to executors dropped".into()
        }
        "invalid_calls" => "Calls rejected as invalid".into(),
        "allocation_runs" => "Allocation cycles run".into(),
        "status_updates_pending" => "Task status updates not yet acknowledged".into(),
        "recovery_errors" => "Errors met recovering from a restart".into(),
        "executors_terminated" => "Executors that terminated".into(),
        "violations" => "Tasks found listening on ports they were not given".into(),
        "count" if scope.ends_with("image_pull_ms") => "Images pulled".into(),
        "image_pull_ms" => "Seconds the last image pull took".into(),
        _ => {
            if let Some(kind) = leaf.strip_prefix("messages_") {
                format!("Messages (calls) {kind} received")
            } else if let Some(state) = leaf.strip_prefix("tasks_") {
                let state = format!("TASK_{}", state.to_ascii_uppercase());
                match kind_of(key) {
                    Kind::Counter => format!("Tasks that ended in {state}"),
                    Kind::Gauge => format!("Tasks in {state} now"),
                }
            } else if let Some(phase) = leaf.strip_prefix("executors_") {
                format!("Executors now {phase}")
            } else {
                describe_resource(scope, leaf)?
            }
        }
    };
    Some(text)
}

/// `cpus_total`, `mem_used`, `disk_percent`...
fn describe_resource(scope: &str, leaf: &str) -> Option<String> {
    let (resource, figure) = leaf.split_once('_')?;
    let (resource, unit) = match resource {
        "cpus" => ("CPUs", ""),
        "gpus" => ("GPUs", ""),
        "mem" => ("Memory", ", in MB"),
        "disk" => ("Disk", ", in MB"),
        _ => return None,
    };
    let of = match scope {
        "master" => "of the registered agents",
        "slave" => "of this agent",
        "system" => "of this machine",
        _ => return None,
    };
    Some(match figure {
        "total" => format!("{resource} {of}{unit}"),
        "used" => format!("{resource} {of} used by tasks{unit}"),
        "percent" => format!("{resource} {of} used by tasks, as a fraction (0 to 1)"),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "prometheus_tests.rs"]
mod tests;
