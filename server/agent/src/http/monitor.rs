//! `/monitor/statistics`: each live executor's resource usage, as Mesos
//! serves it (an array of `{framework_id, executor_id, executor_name,
//! source, statistics}`, `statistics` being `ResourceStatistics` in Mesos's
//! JSON). A default executor's figures are those of its group (its tasks
//! together); where the containerizer keeps no group (plain processes) they
//! are its tasks' figures added up.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use meseta_proto::{json, v1};
use serde_json::{json, Value};

use crate::inner::Inner;
use crate::state::ExecutorKind;
use crate::status_updates::is_terminal;

struct Live {
    framework_id: String,
    executor_id: String,
    name: String,
    source: String,
    container: v1::ContainerId,
    tasks: Vec<v1::ContainerId>,
    kind: ExecutorKind,
}

// Mesos serves ExecutorInfo's deprecated `source` here.
#[allow(deprecated)]
pub(crate) async fn statistics(State(inner): State<Arc<Inner>>) -> Json<Value> {
    let live: Vec<Live> = {
        let state = inner.lock();
        state
            .frameworks
            .values()
            .flat_map(|f| f.executors.values().map(move |e| (f, e)))
            .filter(|(_, e)| e.is_live())
            .map(|(f, e)| Live {
                framework_id: f.id.value.clone(),
                executor_id: e.id().value.clone(),
                name: e.info.name.clone().unwrap_or_default(),
                source: e.info.source.clone().unwrap_or_default(),
                container: e.container_id.clone(),
                tasks: e
                    .tasks
                    .values()
                    .filter(|t| !is_terminal(t.state))
                    .filter_map(|t| t.container_id.clone())
                    .collect(),
                kind: e.kind,
            })
            .collect()
    };
    let mut out = Vec::new();
    for executor in live {
        let usage = match inner.containerizer.usage(&executor.container).await {
            Ok(usage) => Some(usage),
            Err(_) if executor.kind == ExecutorKind::Default => {
                let mut parts = Vec::new();
                for task in &executor.tasks {
                    if let Ok(usage) = inner.containerizer.usage(task).await {
                        parts.push(usage);
                    }
                }
                (!parts.is_empty()).then(|| add_up(&parts))
            }
            Err(_) => None,
        };
        let Some(statistics) = usage else {
            continue;
        };
        out.push(json!({
            "framework_id": executor.framework_id,
            "executor_id": executor.executor_id,
            "executor_name": executor.name,
            "source": executor.source,
            "statistics": json::to_value(&statistics),
        }));
    }
    Json(Value::Array(out))
}

/// The sum of several containers' figures (the first one's timestamp).
fn add_up(parts: &[v1::ResourceStatistics]) -> v1::ResourceStatistics {
    fn sum<T: Copy + std::ops::Add<Output = T>>(
        parts: &[v1::ResourceStatistics],
        field: impl Fn(&v1::ResourceStatistics) -> Option<T>,
    ) -> Option<T> {
        parts.iter().filter_map(&field).reduce(|a, b| a + b)
    }
    v1::ResourceStatistics {
        timestamp: parts.first().map_or(0.0, |p| p.timestamp),
        cpus_user_time_secs: sum(parts, |p| p.cpus_user_time_secs),
        cpus_system_time_secs: sum(parts, |p| p.cpus_system_time_secs),
        cpus_limit: sum(parts, |p| p.cpus_limit),
        mem_rss_bytes: sum(parts, |p| p.mem_rss_bytes),
        mem_total_bytes: sum(parts, |p| p.mem_total_bytes),
        mem_limit_bytes: sum(parts, |p| p.mem_limit_bytes),
        processes: sum(parts, |p| p.processes),
        threads: sum(parts, |p| p.threads),
        disk_used_bytes: sum(parts, |p| p.disk_used_bytes),
        ..Default::default()
    }
}
