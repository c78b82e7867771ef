//! `GET /metrics`: the agent's figures in Prometheus's text format, so a
//! Prometheus server scrapes each agent directly instead of through an
//! exporter process translating `/metrics/snapshot`.
//!
//! Every `/metrics/snapshot` figure is there, from the same
//! [`metrics_document`], named as [`meseta_proto::prometheus`] documents
//! for the master's too (`slave/tasks_running` →
//! `mesos_slave_tasks_running`, `slave/cpus_total` →
//! `mesos_slave_cpus_capacity`, `slave/tasks_finished` →
//! `mesos_slave_tasks_finished_total`). Then, with labels,
//! `mesos_slave_framework_tasks{framework_id,framework_name,state}`: the
//! tasks of each framework on this agent by state, the active states always
//! reported (zero included) so that a series does not vanish when a
//! framework's last task here ends.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use meseta_proto::prometheus::{self, Exposition, Kind, Sample};
use meseta_proto::v1::TaskState;

use super::state::metrics_document;
use crate::inner::Inner;
use crate::state::AgentState;

/// Task states reported for every framework, even at zero.
const ACTIVE_STATES: [TaskState; 4] = [
    TaskState::TaskStaging,
    TaskState::TaskStarting,
    TaskState::TaskRunning,
    TaskState::TaskKilling,
];

pub(crate) async fn metrics(State(inner): State<Arc<Inner>>) -> Response {
    let mut out = Exposition::new();
    out.snapshot(&metrics_document(&inner));
    framework_tasks(&mut out, &inner.lock());
    (
        [(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)],
        out.into_text(),
    )
        .into_response()
}

/// `mesos_slave_framework_tasks`, frameworks by ID.
fn framework_tasks(out: &mut Exposition, state: &AgentState) {
    let frameworks: BTreeMap<&str, _> = state
        .frameworks
        .values()
        .map(|f| (f.id.value.as_str(), f))
        .collect();
    let samples: Vec<Sample> = frameworks
        .into_iter()
        .flat_map(|(id, f)| {
            let states = f
                .executors
                .values()
                .flat_map(|e| e.tasks.values())
                .map(|t| t.state);
            prometheus::tasks_by_state(states, &ACTIVE_STATES)
                .into_iter()
                .map(move |(state, count)| {
                    Sample::new(count as f64)
                        .label("framework_id", id)
                        .label("framework_name", &f.info.name)
                        .label("state", state)
                })
        })
        .collect();
    out.family(
        "mesos_slave_framework_tasks",
        Kind::Gauge,
        "Tasks of the framework on this agent, by state \
         (a terminal one until its update is acknowledged)",
        &samples,
    );
}
