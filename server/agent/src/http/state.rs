//! `/state` (`/state.json`, `/slave(1)/state`) and `/metrics/snapshot`.
//!
//! The JSON shapes are Mesos's agent endpoints', which the web UI, DC/OS
//! tools and operators' scripts read: resources and attributes as objects
//! (`{"cpus": 4, "ports": "[31000-32000]"}`), tasks with their `statuses`,
//! executors with their sandbox `directory`, and metrics as one flat object
//! of numbers keyed `slave/...` (Mesos's spelling, kept for compatibility).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use meseta_proto::endpoint_json::{reserved_by_role, reserved_for};
use meseta_proto::v1::TaskState;
use meseta_proto::MESOS_VERSION;
use serde_json::{json, Value};

use crate::inner::Inner;
use crate::resources_detect;
use crate::state::{Executor, ExecutorKind, ExecutorPhase, Framework, Task};
use crate::status_updates::state_name;

pub use meseta_proto::endpoint_json::{attributes as attributes_json, resources as resources_json};

fn task_json(task: &Task, framework_id: &str, executor: &Executor, agent_id: &str) -> Value {
    let executor_id = match executor.kind {
        ExecutorKind::Command => String::new(),
        _ => executor.id().value.clone(),
    };
    let statuses: Vec<Value> = task
        .statuses
        .iter()
        .map(|s| {
            let mut status =
                json!({"state": state_name(s.state), "timestamp": s.timestamp.unwrap_or_default()});
            if let Some(container_status) = &s.container_status {
                status["container_status"] = meseta_proto::json::to_value(container_status);
            }
            status
        })
        .collect();
    let mut out = json!({
        "id": task.info.task_id.value,
        "name": task.info.name,
        "framework_id": framework_id,
        "executor_id": executor_id,
        "slave_id": agent_id,
        "state": state_name(task.state),
        "resources": resources_json(&task.info.resources),
        "statuses": statuses,
    });
    if let Some(labels) = &task.info.labels {
        out["labels"] = meseta_proto::json::to_value(labels)["labels"].clone();
    }
    if let Some(discovery) = &task.info.discovery {
        out["discovery"] = meseta_proto::json::to_value(discovery);
    }
    if let Some(container) = &task.info.container {
        out["container"] = meseta_proto::json::to_value(container);
    }
    out
}

// `source` is deprecated in the protobuf but still shown by Mesos tools.
#[allow(deprecated)]
fn executor_json(executor: &Executor, framework_id: &str, agent_id: &str) -> Value {
    let tasks = |queued: bool| -> Vec<Value> {
        executor
            .tasks
            .values()
            .filter(|t| t.queued == queued)
            .map(|t| task_json(t, framework_id, executor, agent_id))
            .collect()
    };
    let completed: Vec<Value> = executor
        .completed_tasks
        .iter()
        .map(|t| task_json(t, framework_id, executor, agent_id))
        .collect();
    json!({
        "id": executor.id().value,
        "name": executor.info.name.clone().unwrap_or_default(),
        "source": executor.info.source.clone().unwrap_or_default(),
        "framework_id": framework_id,
        "container": executor.container_id.value,
        "directory": executor.directory.display().to_string(),
        "resources": resources_json(&executor.info.resources),
        "type": if executor.kind == ExecutorKind::Custom { "CUSTOM" } else { "DEFAULT" },
        "tasks": tasks(false),
        "queued_tasks": tasks(true),
        "completed_tasks": completed,
    })
}

// `role` is deprecated in the protobuf but still shown by Mesos tools.
#[allow(deprecated)]
fn framework_json(framework: &Framework, agent_id: &str) -> Value {
    let fid = framework.id.value.as_str();
    let info = &framework.info;
    json!({
        "id": fid,
        "name": info.name,
        "user": info.user,
        "failover_timeout": info.failover_timeout.unwrap_or(0.0),
        "checkpoint": info.checkpoint.unwrap_or(false),
        "hostname": info.hostname.clone().unwrap_or_default(),
        "role": info.role.clone().unwrap_or_else(|| "*".into()),
        "roles": info.roles,
        "principal": info.principal.clone().unwrap_or_default(),
        "executors": framework.executors.values().map(|e| executor_json(e, fid, agent_id)).collect::<Vec<_>>(),
        "completed_executors": framework.completed_executors.iter().map(|e| executor_json(e, fid, agent_id)).collect::<Vec<_>>(),
    })
}

/// The agent's flags as `/state` and GET_FLAGS show them (Mesos names).
pub(crate) fn flags_document(inner: &Inner) -> Value {
    let settings = &inner.settings;
    let config = &settings.config;
    let mut flags = json!({
        "master": config.master,
        "ip": config.ip.to_string(),
        "port": config.port.to_string(),
        "hostname": settings.hostname,
        "work_dir": config.work_dir.display().to_string(),
        "resources": config.resources.clone().unwrap_or_default(),
        "attributes": config.attributes.clone().unwrap_or_default(),
        "executor_shutdown_grace_period": crate::config::mesos_duration(config.executor_shutdown_grace_period),
        "executor_registration_timeout": crate::config::mesos_duration(config.executor_registration_timeout),
        "registration_backoff_factor": crate::config::mesos_duration(config.registration_backoff_factor),
        "containerizers": config.isolation.containerizers.join(","),
        "isolation": inner.isolation,
        "cgroups_hierarchy": config.isolation.cgroups_hierarchy.display().to_string(),
        "cgroups_root": config.isolation.cgroups_root,
        "cgroups_enable_cfs": config.isolation.cgroups_enable_cfs.to_string(),
        "cgroups_max_pids": config.isolation.cgroups_max_pids.to_string(),
        "enforce_container_ports": config.isolation.enforce_container_ports.to_string(),
        "container_ports_watch_interval": crate::config::mesos_duration(config.isolation.container_ports_watch_interval),
        "enforce_container_disk_quota": config.isolation.enforce_container_disk_quota.to_string(),
        "container_disk_watch_interval": crate::config::mesos_duration(config.isolation.container_disk_watch_interval),
        "switch_user": config.isolation.switch_user.to_string(),
        "sandbox_directory": config.isolation.sandbox_directory.display().to_string(),
        "docker_socket": config.isolation.docker.socket.display().to_string(),
        "docker_kill_orphans": config.isolation.docker.kill_orphans.to_string(),
        "docker_stop_timeout": crate::config::mesos_duration(config.isolation.docker.stop_timeout),
        "docker_remove_delay": crate::config::mesos_duration(config.isolation.docker.remove_delay),
    });
    if let Some(range) = &config.isolation.container_ports_isolated_range {
        flags["container_ports_isolated_range"] = json!(range);
    }
    if let Some(reason) = &inner.isolation_fallback {
        flags["isolation_fallback"] = json!(format!("isolation is off: {reason}"));
    }
    if let Some(dir) = config.log_file.as_ref().and_then(|f| f.parent()) {
        flags["log_dir"] = json!(dir.display().to_string());
    }
    flags
}

/// The agent's `/state` document.
pub(crate) fn state_document(inner: &Inner) -> Value {
    let settings = &inner.settings;
    let config = &settings.config;
    let start_time = inner
        .start_time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let state = inner.lock();
    let agent_id = state
        .agent_id
        .as_ref()
        .map(|a| a.value.clone())
        .unwrap_or_default();
    let flags = flags_document(inner);
    let resources = state.resources.as_deref().unwrap_or(&settings.resources);
    json!({
        "version": MESOS_VERSION,
        "meseta_version": env!("CARGO_PKG_VERSION"),
        "start_time": start_time,
        "id": agent_id,
        "pid": format!("slave(1)@{}", inner.http_address),
        "hostname": settings.hostname,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
        "resources": resources_json(resources),
        "unreserved_resources": reserved_for(resources, None),
        "reserved_resources": reserved_by_role(resources),
        "attributes": attributes_json(&settings.attributes),
        "master_hostname": config.master.rsplit_once(':').map_or(config.master.as_str(), |(h, _)| h),
        "flags": flags,
        "frameworks": state.frameworks.values().map(|f| framework_json(f, &agent_id)).collect::<Vec<_>>(),
        "completed_frameworks": state.completed_frameworks.iter().map(|f| framework_json(f, &agent_id)).collect::<Vec<_>>(),
    })
}

pub(crate) async fn state(State(inner): State<Arc<Inner>>) -> Json<Value> {
    Json(state_document(&inner))
}

/// The `/metrics/snapshot` object.
pub(crate) fn metrics_document(inner: &Inner) -> Value {
    use meseta_proto::resources::scalar_total;
    let total = &inner.settings.resources;
    let state = inner.lock();
    let used = |name: &str| -> f64 {
        state
            .frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .flat_map(|e| e.tasks.values())
            .map(|t| scalar_total(&t.info.resources, name))
            .sum::<f64>()
            + 0.0 // an empty f64 sum is -0.0
    };
    let total_of = |name: &str| scalar_total(total, name) + 0.0;
    let (cpus_used, mem_used, disk_used) = (used("cpus"), used("mem"), used("disk"));
    let percent = |used: f64, total: f64| if total > 0.0 { used / total } else { 0.0 };
    let (cpus_total, mem_total, disk_total) = (total_of("cpus"), total_of("mem"), total_of("disk"));
    let c = &state.counters;
    let mut document = json!({
        "slave/registered": if state.registered { 1.0 } else { 0.0 },
        "slave/uptime_secs": inner.started.elapsed().as_secs_f64(),
        "slave/tasks_staging": state.count_tasks(TaskState::TaskStaging),
        "slave/tasks_starting": state.count_tasks(TaskState::TaskStarting),
        "slave/tasks_running": state.count_tasks(TaskState::TaskRunning),
        "slave/tasks_killing": state.count_tasks(TaskState::TaskKilling),
        "slave/tasks_finished": c.tasks_finished,
        "slave/tasks_failed": c.tasks_failed,
        "slave/tasks_killed": c.tasks_killed,
        "slave/tasks_lost": c.tasks_lost,
        "slave/tasks_error": c.tasks_error,
        "slave/tasks_dropped": c.tasks_dropped,
        "slave/tasks_gone": c.tasks_gone,
        "slave/executors_registering": state.count_executors(ExecutorPhase::Registering),
        "slave/executors_running": state.count_executors(ExecutorPhase::Running),
        "slave/executors_terminating": state.count_executors(ExecutorPhase::Terminating),
        "slave/executors_terminated": c.executors_terminated,
        "slave/frameworks_active": state.frameworks.len(),
        "slave/valid_status_updates": c.valid_status_updates,
        "slave/invalid_status_updates": c.invalid_status_updates,
        "slave/valid_framework_messages": c.valid_framework_messages,
        "slave/invalid_framework_messages": c.invalid_framework_messages,
        "slave/status_updates_pending": state.updates.pending_count(),
        "slave/recovery_errors": 0,
        "slave/cpus_total": cpus_total,
        "slave/cpus_used": cpus_used,
        "slave/cpus_percent": percent(cpus_used, cpus_total),
        "slave/mem_total": mem_total,
        "slave/mem_used": mem_used,
        "slave/mem_percent": percent(mem_used, mem_total),
        "slave/disk_total": disk_total,
        "slave/disk_used": disk_used,
        "slave/disk_percent": percent(disk_used, disk_total),
        "slave/gpus_total": total_of("gpus"),
        "system/cpus_total": resources_detect::detect_cpus(),
        "system/mem_total_bytes": resources_detect::detect_memory_mb().unwrap_or(0) * 1024 * 1024,
        "system/load_1min": load_average(),
    });
    drop(state);
    for (key, value) in inner.containerizer.metrics() {
        document[key] = json!(value);
    }
    document
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

pub(crate) async fn metrics(State(inner): State<Arc<Inner>>) -> Json<Value> {
    Json(metrics_document(&inner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use meseta_proto::resources::{parse_attributes, parse_resources};

    #[test]
    fn resources_and_attributes_take_mesos_json_shape() {
        let r = parse_resources("cpus:2;cpus:1;mem:64;ports:[1-2,5-6]").unwrap();
        let j = resources_json(&r);
        assert_eq!(j["cpus"], 3.0);
        assert_eq!(j["mem"], 64.0);
        assert_eq!(j["disk"], 0.0);
        assert_eq!(j["ports"], "[1-2, 5-6]");
        let a = attributes_json(&parse_attributes("rack:r1;level:3").unwrap());
        assert_eq!(a, json!({"rack": "r1", "level": 3.0}));
    }
}
