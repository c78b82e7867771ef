//! The JSON shapes of Mesos's legacy endpoints (`/master/state` and
//! friends): key names and nesting that dashboards, the CLI and other tools
//! expect, built from the state machine's read-only view.

use std::time::Duration;

use meseta_allocator::Resources;
use meseta_proto::v1;
use serde_json::{json, Value};

use super::snapshot::{AgentView, FrameworkView};

pub(crate) use meseta_proto::endpoint_json::{attributes, resources};

/// The same, from the allocator's form.
pub(crate) fn allocator_resources(r: &Resources) -> Value {
    resources(&r.to_mesos("*"))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub(crate) fn task(task: &v1::Task) -> Value {
    let state = v1::TaskState::try_from(task.state)
        .map(|s| s.as_str_name())
        .unwrap_or("TASK_UNKNOWN");
    let statuses: Vec<Value> = task
        .statuses
        .iter()
        .map(|s| {
            let mut status = json!({
                "state": v1::TaskState::try_from(s.state).map(|x| x.as_str_name()).unwrap_or("TASK_UNKNOWN"),
                "timestamp": s.timestamp.unwrap_or_default(),
            });
            if let Some(container) = &s.container_status {
                status["container_status"] = meseta_proto::json::to_value(container);
            }
            status
        })
        .collect();
    let mut out = json!({
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": task.framework_id.value,
        "executor_id": task.executor_id.as_ref().map(|e| e.value.clone()).unwrap_or_default(),
        "slave_id": task.agent_id.value,
        "state": state,
        "resources": resources(&task.resources),
        "statuses": statuses,
    });
    if let Some(role) = task
        .resources
        .iter()
        .find_map(|r| r.allocation_info.as_ref()?.role.clone())
    {
        out["role"] = json!(role);
    }
    if let Some(user) = &task.user {
        out["user"] = json!(user);
    }
    if let Some(labels) = &task.labels {
        out["labels"] = meseta_proto::json::to_value(labels)["labels"].clone();
    }
    if let Some(container) = &task.container {
        out["container"] = meseta_proto::json::to_value(container.as_ref());
    }
    if let Some(discovery) = &task.discovery {
        out["discovery"] = meseta_proto::json::to_value(discovery.as_ref());
    }
    out
}

pub(crate) fn framework(f: &FrameworkView, summary: bool) -> Value {
    let capabilities: Vec<Value> = f
        .info
        .capabilities
        .iter()
        .filter_map(|c| c.r#type)
        .filter_map(|t| v1::framework_info::capability::Type::try_from(t).ok())
        .map(|t| json!(t.as_str_name()))
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
    if summary {
        let count = |tasks: &[std::sync::Arc<v1::Task>], state: v1::TaskState| {
            tasks.iter().filter(|t| t.state == state as i32).count()
        };
        out["slave_ids"] = json!(f
            .tasks
            .iter()
            .map(|t| t.agent_id.value.clone())
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
        return out;
    }
    out["tasks"] = json!(f.tasks.iter().map(|t| task(t)).collect::<Vec<_>>());
    out["completed_tasks"] = json!(f
        .completed_tasks
        .iter()
        .map(|t| task(t))
        .collect::<Vec<_>>());
    out["unreachable_tasks"] = json!([]);
    out["offers"] = json!(f
        .offers
        .iter()
        .map(|o| json!({
            "id": o.id,
            "framework_id": f.id,
            "slave_id": o.agent_id,
            "resources": allocator_resources(&o.resources),
        }))
        .collect::<Vec<_>>());
    out["executors"] = json!(f
        .executors
        .iter()
        .map(|(agent, e)| {
            let mut value = meseta_proto::json::to_value(e);
            value["slave_id"] = json!(agent);
            value
        })
        .collect::<Vec<_>>());
    out
}

pub(crate) fn agent(a: &AgentView) -> Value {
    json!({
        "id": a.id,
        "pid": format!("slave(1)@{}", a.http_address),
        "hostname": a.info.hostname,
        "port": a.info.port.unwrap_or(5051),
        "registered_time": secs(a.registered_time),
        "reregistered_time": a.reregistered_time.map(secs),
        "resources": resources(&a.info.resources),
        "used_resources": allocator_resources(&a.used),
        "offered_resources": allocator_resources(&a.offered),
        "reserved_resources": {},
        "unreserved_resources": resources(&a.info.resources),
        "attributes": attributes(&a.info.attributes),
        "active": a.active,
        "deactivated": !a.active,
        "version": a.version,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "TASK_LABELS_DEDUPLICATION"],
    })
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
