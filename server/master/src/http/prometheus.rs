//! `GET /metrics`: the master's figures in Prometheus's text format, so a
//! Prometheus server scrapes each master directly instead of through an
//! exporter process translating `/metrics/snapshot`.
//!
//! Every `/metrics/snapshot` figure is there, from the same
//! [`metrics_of`], named as [`meseta_proto::prometheus`] documents
//! (`master/tasks_running` → `mesos_master_tasks_running`,
//! `allocator/mesos/allocation_runs` →
//! `mesos_allocator_mesos_allocation_runs_total`, `master/cpus_total` →
//! `mesos_master_cpus_capacity`). Then what a flat snapshot cannot hold,
//! because it needs labels:
//!
//! * `mesos_master_role_allocated{role,resource}`: per role, the cpus,
//!   mem, disk and gpus its frameworks' tasks hold;
//! * `mesos_master_framework_allocated{framework_id,framework_name,role,resource}`:
//!   the same per framework;
//! * `mesos_master_framework_tasks{framework_id,framework_name,state}`: the
//!   tasks the master tracks for each framework, by state.
//!
//! "Allocated" is what the tasks (and the executors launched with them)
//! hold until they end, the `used_resources` of `/master/state`;
//! outstanding offers are not in it, so the figure does not swing with
//! every allocation cycle. A framework's resources count for its role as
//! [`framework_role`] gives it (the first of its roles). The active task
//! states are always reported, zero included, so that a series does not
//! vanish when a framework's last task ends.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use meseta_proto::prometheus::{self, Exposition, Kind, Sample};
use meseta_proto::v1::TaskState;

use super::endpoints::metrics_of;
use crate::handle::MasterHandle;
use crate::leadership::Leadership;
use crate::state::{framework_role, Master};

/// The resources reported per role and per framework (mem and disk in MB).
const RESOURCES: [&str; 4] = ["cpus", "mem", "disk", "gpus"];

/// Task states reported for every framework, even at zero.
const ACTIVE_STATES: [TaskState; 5] = [
    TaskState::TaskStaging,
    TaskState::TaskStarting,
    TaskState::TaskRunning,
    TaskState::TaskKilling,
    TaskState::TaskUnreachable,
];

/// A framework's labelled figures, read from the state in one go.
#[derive(Debug, Clone, PartialEq)]
struct FrameworkFigures {
    id: String,
    name: String,
    role: String,
    /// By [`RESOURCES`].
    allocated: [f64; 4],
    tasks: std::collections::BTreeMap<&'static str, usize>,
}

pub(super) async fn metrics(State(master): State<MasterHandle>) -> Response {
    let elected = master.leadership() == Leadership::Leading;
    match master.inspect(move |m| render(m, elected)).await {
        Some(text) => ([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], text).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down").into_response(),
    }
}

/// The whole exposition (`elected` as `/metrics/snapshot` reports it).
fn render(m: &Master, elected: bool) -> String {
    let snapshot = metrics_of(m, elected);
    let mut out = Exposition::new();
    out.snapshot(&snapshot);
    labelled(&mut out, &frameworks(m));
    out.into_text()
}

/// Every registered framework's figures, by ID.
fn frameworks(m: &Master) -> Vec<FrameworkFigures> {
    let mut out: Vec<FrameworkFigures> = m
        .frameworks()
        .values()
        .map(|f| {
            let used = m.used_resources(Some(&f.id), None);
            FrameworkFigures {
                id: f.id.clone(),
                name: f.info.name.clone(),
                role: framework_role(&f.info),
                allocated: RESOURCES.map(|r| used.scalar(r) + 0.0),
                tasks: prometheus::tasks_by_state(
                    f.tasks.values().map(|t| t.state() as i32),
                    &ACTIVE_STATES,
                ),
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The per-role and per-framework families.
fn labelled(out: &mut Exposition, frameworks: &[FrameworkFigures]) {
    let mut roles: std::collections::BTreeMap<&str, [f64; 4]> = Default::default();
    for f in frameworks {
        let role = roles.entry(&f.role).or_default();
        for (sum, value) in role.iter_mut().zip(f.allocated) {
            *sum += value;
        }
    }
    let role_samples: Vec<Sample> = roles
        .iter()
        .flat_map(|(role, allocated)| {
            RESOURCES.iter().zip(allocated).map(|(resource, value)| {
                Sample::new(*value)
                    .label("role", *role)
                    .label("resource", *resource)
            })
        })
        .collect();
    out.family(
        "mesos_master_role_allocated",
        Kind::Gauge,
        "Resources held by the role's tasks and their executors, offers not included \
         (cpus, gpus; mem and disk in MB)",
        &role_samples,
    );
    let framework_samples: Vec<Sample> = frameworks
        .iter()
        .flat_map(|f| {
            RESOURCES.iter().zip(f.allocated).map(|(resource, value)| {
                Sample::new(value)
                    .label("framework_id", &f.id)
                    .label("framework_name", &f.name)
                    .label("role", &f.role)
                    .label("resource", *resource)
            })
        })
        .collect();
    out.family(
        "mesos_master_framework_allocated",
        Kind::Gauge,
        "Resources held by the framework's tasks and their executors, offers not included \
         (cpus, gpus; mem and disk in MB)",
        &framework_samples,
    );
    let task_samples: Vec<Sample> = frameworks
        .iter()
        .flat_map(|f| {
            f.tasks.iter().map(|(state, count)| {
                Sample::new(*count as f64)
                    .label("framework_id", &f.id)
                    .label("framework_name", &f.name)
                    .label("state", *state)
            })
        })
        .collect();
    out.family(
        "mesos_master_framework_tasks",
        Kind::Gauge,
        "Tasks the master tracks for the framework, by state \
         (a terminal one until its update is acknowledged)",
        &task_samples,
    );
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use meseta_allocator::AllocatorConfig;
    use meseta_proto::v1;

    use super::*;
    use crate::config::Settings;
    use crate::state::Ids;

    fn figures(id: &str, name: &str, role: &str, cpus: f64, running: usize) -> FrameworkFigures {
        FrameworkFigures {
            id: id.into(),
            name: name.into(),
            role: role.into(),
            allocated: [cpus, 64.0, 0.0, 0.0],
            tasks: prometheus::tasks_by_state(
                std::iter::repeat_n(TaskState::TaskRunning as i32, running),
                &ACTIVE_STATES,
            ),
        }
    }

    #[test]
    fn roles_sum_their_frameworks_and_labels_are_escaped() {
        let mut out = Exposition::new();
        labelled(
            &mut out,
            &[
                figures("f1", "web", "*", 0.5, 1),
                figures("f2", "say \"hi\"\\\n", "*", 1.0, 0),
                figures("f3", "batch", "analytics", 2.0, 3),
            ],
        );
        let text = out.into_text();
        for line in [
            "mesos_master_role_allocated{role=\"*\",resource=\"cpus\"} 1.5",
            "mesos_master_role_allocated{role=\"*\",resource=\"mem\"} 128",
            "mesos_master_role_allocated{role=\"analytics\",resource=\"cpus\"} 2",
            "mesos_master_framework_allocated{framework_id=\"f1\",framework_name=\"web\",role=\"*\",resource=\"cpus\"} 0.5",
            "mesos_master_framework_allocated{framework_id=\"f2\",framework_name=\"say \\\"hi\\\"\\\\\\n\",role=\"*\",resource=\"gpus\"} 0",
            "mesos_master_framework_tasks{framework_id=\"f1\",framework_name=\"web\",state=\"TASK_RUNNING\"} 1",
            "mesos_master_framework_tasks{framework_id=\"f2\",framework_name=\"say \\\"hi\\\"\\\\\\n\",state=\"TASK_RUNNING\"} 0",
            "mesos_master_framework_tasks{framework_id=\"f3\",framework_name=\"batch\",state=\"TASK_STAGING\"} 0",
            "# TYPE mesos_master_framework_tasks gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        assert_eq!(text.matches("# HELP ").count(), 3, "{text}");
    }

    #[test]
    fn without_frameworks_only_the_snapshot_is_there() {
        let mut out = Exposition::new();
        labelled(&mut out, &[]);
        assert!(out.into_text().is_empty());
    }

    /// Every snapshot figure of a fresh master: one family each, a valid and
    /// unique name, HELP and TYPE, counters ending `_total` and gauges not.
    #[test]
    fn every_snapshot_figure_is_a_family_of_its_own() {
        let info = v1::MasterInfo {
            id: "M".into(),
            port: 5050,
            ..Default::default()
        };
        let master = Master::new(
            Settings::default(),
            info,
            AllocatorConfig::default(),
            Ids::seeded(1),
            Duration::from_secs(1_700_000_000),
        );
        let snapshot = metrics_of(&master, true);
        let text = render(&master, true);
        let mut names = HashSet::new();
        let lines: Vec<&str> = text.lines().collect();
        for family in lines.chunks(3) {
            let [help, kind, sample] = family else {
                panic!("HELP, TYPE and one sample: {family:?}");
            };
            let name = sample.split(' ').next().unwrap_or_default();
            assert!(prometheus::valid_name(name), "{name}");
            assert!(names.insert(name.to_string()), "{name} twice");
            assert!(help.starts_with(&format!("# HELP {name} ")), "{help}");
            let counter = name.ends_with("_total");
            let expected = if counter { "counter" } else { "gauge" };
            assert_eq!(*kind, format!("# TYPE {name} {expected}"));
        }
        let snapshot_len = snapshot.as_object().map_or(0, |o| o.len());
        assert_eq!(
            names.len(),
            snapshot_len,
            "every snapshot figure, elected included"
        );
        assert!(lines.contains(&"mesos_master_elected 1"));
        assert!(lines.contains(&"mesos_master_tasks_running 0"));
        assert!(lines.contains(&"mesos_allocator_mesos_allocation_runs_total 0"));
        assert!(lines.contains(&"# TYPE mesos_master_messages_launch_tasks_total counter"));
    }
}
