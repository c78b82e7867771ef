//! The JSON shapes of Mesos's legacy endpoints (`/master/state` and
//! friends): key names and nesting that dashboards, the CLI and other tools
//! expect, built from a [`Snapshot`](crate::state::snapshot::Snapshot)'s views.
//!
//! Tasks, agents and frameworks are written straight to the serializer
//! (`Serialize` views borrowing the snapshot), not built as a
//! `serde_json::Value` first: a `/master/state` of 100,000 tasks was
//! mostly map inserts, allocations and frees. The small, fixed parts of a
//! document stay `json!` values.

use std::sync::Arc;
use std::time::Duration;

use meseta_allocator::Resources;
use meseta_proto::endpoint_json::ResourcesJson;
use meseta_proto::v1;
use serde::ser::Serializer;
use serde::Serialize;
use serde_json::{json, Value};

use crate::state::snapshot::{AgentView, FrameworkView, OfferView};

pub(crate) use meseta_proto::endpoint_json::{attributes, resources};
use meseta_proto::endpoint_json::{reserved_by_role, reserved_for};

/// The same, from the allocator's form.
pub(crate) fn allocator_resources(r: &Resources) -> Value {
    resources(&r.to_mesos("*"))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn state_name(state: i32) -> &'static str {
    v1::TaskState::try_from(state)
        .map(|s| s.as_str_name())
        .unwrap_or("TASK_UNKNOWN")
}

/// One task as the legacy endpoints show it.
#[derive(Serialize)]
pub(crate) struct TaskJson<'a> {
    id: &'a str,
    name: &'a str,
    framework_id: &'a str,
    executor_id: &'a str,
    slave_id: &'a str,
    state: &'static str,
    resources: ResourcesJson<'a>,
    statuses: Statuses<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discovery: Option<Value>,
}

impl<'a> TaskJson<'a> {
    pub fn new(task: &'a v1::Task) -> Self {
        Self {
            id: &task.task_id.value,
            name: &task.name,
            framework_id: &task.framework_id.value,
            executor_id: task.executor_id.as_ref().map_or("", |e| e.value.as_str()),
            slave_id: &task.agent_id.value,
            state: state_name(task.state),
            resources: ResourcesJson(&task.resources),
            statuses: Statuses(&task.statuses),
            role: task
                .resources
                .iter()
                .find_map(|r| r.allocation_info.as_ref()?.role.as_deref()),
            user: task.user.as_deref(),
            labels: task
                .labels
                .as_ref()
                .map(|l| meseta_proto::json::to_value(l)["labels"].clone()),
            container: task.container.as_deref().map(meseta_proto::json::to_value),
            discovery: task.discovery.as_deref().map(meseta_proto::json::to_value),
        }
    }
}

/// A task's status history: state and time, and what its container
/// reported.
struct Statuses<'a>(&'a [v1::TaskStatus]);

#[derive(Serialize)]
struct StatusJson {
    state: &'static str,
    timestamp: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_status: Option<Value>,
}

impl Serialize for Statuses<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|s| {
            StatusJson {
                state: state_name(s.state),
                timestamp: s.timestamp.unwrap_or_default(),
                container_status: s
                    .container_status
                    .as_ref()
                    .map(meseta_proto::json::to_value),
            }
        }))
    }
}

struct Tasks<'a>(&'a [Arc<v1::Task>]);

impl Serialize for Tasks<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|t| TaskJson::new(t)))
    }
}

/// What every view of a framework shows, summary or not.
fn framework_head(f: &FrameworkView) -> Value {
    let capabilities: Vec<&str> = f
        .info
        .capabilities
        .iter()
        .filter_map(|c| c.r#type)
        .filter_map(|t| v1::framework_info::capability::Type::try_from(t).ok())
        .map(|t| t.as_str_name())
        .collect();
    let mut out = json!({
        "id": f.id,
        "name": f.info.name,
        "pid": Value::Null,
        "user": f.info.user,
        "hostname": f.info.hostname.clone().unwrap_or_default(),
        "webui_url": f.info.webui_url.clone().unwrap_or_default(),
        "principal": f.info.principal.clone(),
        "role": crate::state::framework_role(&f.info),
        "roles": f.info.roles,
        "failover_timeout": f.info.failover_timeout.unwrap_or(0.0),
        "checkpoint": f.info.checkpoint.unwrap_or(false),
        "capabilities": capabilities,
        "active": f.active,
        "connected": f.connected,
        "recovered": false,
        "registered_time": secs(f.registered_time),
        "unregistered_time": f.unregistered_time.map(secs).unwrap_or(0.0),
        "resources": allocator_resources(&{
            let mut total = f.used.clone();
            total.add(&f.offered);
            total
        }),
        "used_resources": allocator_resources(&f.used),
        "offered_resources": allocator_resources(&f.offered),
        "task_count": f.tasks.len(),
    });
    if let Some(t) = f.reregistered_time {
        out["reregistered_time"] = json!(secs(t));
    }
    out
}

/// `/master/state-summary`'s framework: counts by state instead of tasks.
pub(crate) fn framework_summary(f: &FrameworkView) -> Value {
    let mut out = framework_head(f);
    let count = |tasks: &[Arc<v1::Task>], state: v1::TaskState| {
        tasks.iter().filter(|t| t.state == state as i32).count()
    };
    out["slave_ids"] = json!(f
        .tasks
        .iter()
        .map(|t| t.agent_id.value.as_str())
        .collect::<std::collections::BTreeSet<_>>());
    for state in [
        v1::TaskState::TaskStaging,
        v1::TaskState::TaskStarting,
        v1::TaskState::TaskRunning,
        v1::TaskState::TaskKilling,
    ] {
        out[state.as_str_name()] = json!(count(&f.tasks, state));
    }
    for state in [
        v1::TaskState::TaskFinished,
        v1::TaskState::TaskKilled,
        v1::TaskState::TaskFailed,
        v1::TaskState::TaskLost,
        v1::TaskState::TaskError,
    ] {
        out[state.as_str_name()] = json!(count(&f.completed_tasks, state));
    }
    out
}

/// One framework with its tasks, offers and executors (`/master/state`,
/// `/master/frameworks`).
#[derive(Serialize)]
pub(crate) struct FrameworkJson<'a> {
    #[serde(flatten)]
    head: Value,
    tasks: Tasks<'a>,
    completed_tasks: Tasks<'a>,
    unreachable_tasks: [(); 0],
    offers: Vec<OfferJson<'a>>,
    executors: Vec<Value>,
}

#[derive(Serialize)]
struct OfferJson<'a> {
    id: &'a str,
    framework_id: &'a str,
    slave_id: &'a str,
    resources: Value,
}

impl<'a> FrameworkJson<'a> {
    pub fn new(f: &'a FrameworkView) -> Self {
        let offer = |o: &'a OfferView| OfferJson {
            id: &o.id,
            framework_id: &f.id,
            slave_id: &o.agent_id,
            resources: allocator_resources(&o.resources),
        };
        Self {
            head: framework_head(f),
            tasks: Tasks(&f.tasks),
            completed_tasks: Tasks(&f.completed_tasks),
            unreachable_tasks: [],
            offers: f.offers.iter().map(offer).collect(),
            executors: f
                .executors
                .iter()
                .map(|(agent, e)| {
                    let mut value = meseta_proto::json::to_value(e);
                    value["slave_id"] = json!(agent);
                    value
                })
                .collect(),
        }
    }
}

/// One registered agent.
#[derive(Serialize)]
pub(crate) struct AgentJson<'a> {
    id: &'a str,
    pid: String,
    hostname: &'a str,
    port: i32,
    registered_time: f64,
    reregistered_time: Option<f64>,
    resources: ResourcesJson<'a>,
    used_resources: Value,
    offered_resources: Value,
    reserved_resources: Value,
    unreserved_resources: Value,
    attributes: Value,
    active: bool,
    deactivated: bool,
    version: &'a str,
    capabilities: [&'static str; 3],
}

impl<'a> AgentJson<'a> {
    pub fn new(a: &'a AgentView) -> Self {
        Self {
            id: &a.id,
            pid: format!("slave(1)@{}", a.http_address),
            hostname: &a.info.hostname,
            port: a.info.port.unwrap_or(5051),
            registered_time: secs(a.registered_time),
            reregistered_time: a.reregistered_time.map(secs),
            resources: ResourcesJson(&a.info.resources),
            used_resources: allocator_resources(&a.used),
            offered_resources: allocator_resources(&a.offered),
            reserved_resources: reserved_by_role(&a.info.resources),
            unreserved_resources: reserved_for(&a.info.resources, None),
            attributes: attributes(&a.info.attributes),
            active: a.active,
            deactivated: !a.active,
            version: &a.version,
            capabilities: [
                "MULTI_ROLE",
                "HIERARCHICAL_ROLE",
                "TASK_LABELS_DEDUPLICATION",
            ],
        }
    }
}

/// One agent as a value (for `/master/state-summary`, which adds to it).
pub(crate) fn agent(a: &AgentView) -> Value {
    serde_json::to_value(AgentJson::new(a)).unwrap_or_default()
}

/// An agent from the registry that has not re-registered yet (Mesos's
/// `recovered_slaves` entries: the agent's info only).
pub(crate) fn recovered_agent(info: &v1::AgentInfo) -> Value {
    json!({
        "id": info.id.as_ref().map(|id| id.value.clone()).unwrap_or_default(),
        "hostname": info.hostname,
        "port": info.port.unwrap_or(5051),
        "resources": resources(&info.resources),
        "attributes": attributes(&info.attributes),
    })
}
