//! Read-only endpoints: `/master/state`, `/master/state-summary`,
//! `/master/frameworks`, `/master/slaves`, `/master/tasks`,
//! `/metrics/snapshot`, `/master/redirect`, `/health`, `/version`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use meseta_proto::v1;
use serde_json::{json, Value};

use super::batches::Batch;
use super::json_view;
use super::MESOS_VERSION;
use crate::handle::{wall_clock, MasterHandle};
use crate::leadership::{self, Leadership};
use crate::state::snapshot::{FrameworkView, Snapshot};
use crate::state::Master;
use axum::body::Bytes;

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down").into_response()
}

/// The JSON `f` makes of the master's state, or 503 when it is stopping.
pub(super) async fn view(
    master: &MasterHandle,
    f: impl FnOnce(&Master) -> Value + Send + 'static,
) -> Response {
    match master.inspect(f).await {
        Some(value) => Json(value).into_response(),
        None => unavailable(),
    }
}

/// The message `f` makes of the master's state, in Mesos's JSON mapping,
/// or 503 when it is stopping.
pub(super) async fn proto_view<M>(
    master: &MasterHandle,
    f: impl FnOnce(&Master) -> M + Send + 'static,
) -> Response
where
    M: prost::Message + prost::Name + Send + 'static,
{
    match master.inspect(f).await {
        Some(message) => (
            [(header::CONTENT_TYPE, "application/json")],
            meseta_proto::json::to_vec(&message),
        )
            .into_response(),
        None => unavailable(),
    }
}

fn pid(info: &v1::MasterInfo) -> String {
    info.pid.clone().unwrap_or_default()
}

/// The leading master's info, if one is known.
fn leader_info(master: &MasterHandle) -> Option<v1::MasterInfo> {
    match master.leadership() {
        Leadership::Leading => Some(master.info().clone()),
        Leadership::Following(leader) => leader,
        Leadership::Recovering => None,
    }
}

/// Renders a batch's [`Snapshot`] with `render` on the rendering thread:
/// the loop only pays for the snapshot (once per batch).
async fn rendered(
    master: &MasterHandle,
    render: impl FnOnce(&Batch) -> Bytes + Send + 'static,
) -> Response {
    let Some(batch) = master.snapshots.next().await else {
        return unavailable();
    };
    match master.snapshots.render(move || render(&batch)).await {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the document could not be rendered; see the master's log",
        )
            .into_response(),
    }
}

/// A rendered document's bytes.
fn json_bytes(document: &impl serde::Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(document).unwrap_or_default())
}

pub(super) async fn state(State(master): State<MasterHandle>) -> Response {
    let info = master.info().clone();
    let leader = leader_info(&master);
    let flags = master.flags().clone();
    rendered(&master, move |batch| {
        batch.state(|s| json_bytes(&state_document(s, &info, leader.as_ref(), &flags)))
    })
    .await
}

/// `/master/state`'s document: its small fields, then the agents and
/// frameworks written straight from the snapshot.
#[derive(serde::Serialize)]
pub(crate) struct StateDocument<'a> {
    #[serde(flatten)]
    head: Value,
    slaves: Vec<json_view::AgentJson<'a>>,
    recovered_slaves: Vec<Value>,
    frameworks: Vec<json_view::FrameworkJson<'a>>,
    completed_frameworks: Vec<json_view::FrameworkJson<'a>>,
    orphan_tasks: [(); 0],
    unregistered_frameworks: [(); 0],
}

pub(crate) fn state_document<'a>(
    s: &'a Snapshot,
    info: &v1::MasterInfo,
    leader: Option<&v1::MasterInfo>,
    flags: &std::collections::BTreeMap<String, String>,
) -> StateDocument<'a> {
    let head = json!({
        "version": MESOS_VERSION,
        "build_date": "",
        "build_time": 0,
        "build_user": "meseta",
        "start_time": s.start_time.as_secs_f64(),
        "elected_time": s.elected_time.as_secs_f64(),
        "id": info.id,
        "pid": pid(info),
        "hostname": info.hostname,
        "activated_slaves": s.agents.iter().filter(|a| a.active).count(),
        "deactivated_slaves": s.agents.iter().filter(|a| !a.active).count(),
        "unreachable_slaves": s.unreachable_agents,
        "leader": leader.map(pid).unwrap_or_default(),
        "leader_info": leader.map(meseta_proto::json::to_value).unwrap_or_default(),
        "flags": flags,
        "capabilities": info
            .capabilities
            .iter()
            .filter_map(|c| c.r#type)
            .filter_map(|t| v1::master_info::capability::Type::try_from(t).ok())
            .map(|t| t.as_str_name())
            .collect::<Vec<_>>(),
    });
    StateDocument {
        head,
        slaves: s.agents.iter().map(json_view::AgentJson::new).collect(),
        recovered_slaves: s.recovered.iter().map(json_view::recovered_agent).collect(),
        frameworks: s
            .frameworks
            .iter()
            .map(json_view::FrameworkJson::new)
            .collect(),
        completed_frameworks: s
            .completed_frameworks
            .iter()
            .map(json_view::FrameworkJson::new)
            .collect(),
        orphan_tasks: [],
        unregistered_frameworks: [],
    }
}

pub(super) async fn state_summary(State(master): State<MasterHandle>) -> Response {
    let info = master.info().clone();
    rendered(&master, move |batch| {
        let s = &batch.snapshot;
        // Each agent's active tasks by state, and the frameworks with tasks there.
        let mut on_agent: HashMap<&str, (HashMap<i32, usize>, std::collections::BTreeSet<&str>)> =
            HashMap::new();
        for f in &s.frameworks {
            for task in &f.tasks {
                let entry = on_agent.entry(task.agent_id.value.as_str()).or_default();
                *entry.0.entry(task.state).or_default() += 1;
                entry.1.insert(f.id.as_str());
            }
        }
        let agents: Vec<Value> = s
            .agents
            .iter()
            .map(|a| {
                let mut value = json_view::agent(a);
                let here = on_agent.get(a.id.as_str());
                let tasks = |state: v1::TaskState| {
                    here.and_then(|h| h.0.get(&(state as i32)).copied())
                        .unwrap_or(0)
                };
                value["TASK_RUNNING"] = json!(tasks(v1::TaskState::TaskRunning));
                value["TASK_STAGING"] = json!(tasks(v1::TaskState::TaskStaging));
                value["TASK_STARTING"] = json!(tasks(v1::TaskState::TaskStarting));
                value["framework_ids"] = json!(here.map(|h| h.1.clone()).unwrap_or_default());
                value
            })
            .collect();
        let frameworks: Vec<Value> = s
            .frameworks
            .iter()
            .map(json_view::framework_summary)
            .collect();
        json_bytes(&json!({
            "hostname": info.hostname,
            "cluster": "",
            "slaves": agents,
            "frameworks": frameworks,
        }))
    })
    .await
}

/// `/master/frameworks[?framework_id=ID]` (an exact match; an unknown ID
/// gives empty lists, as in Mesos).
pub(super) async fn frameworks(
    State(master): State<MasterHandle>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let wanted = query.get("framework_id").cloned();
    rendered(&master, move |batch| {
        let s = &batch.snapshot;
        let keep = |f: &&FrameworkView| wanted.as_ref().is_none_or(|id| *id == f.id);
        #[derive(serde::Serialize)]
        struct Frameworks<'a> {
            frameworks: Vec<json_view::FrameworkJson<'a>>,
            completed_frameworks: Vec<json_view::FrameworkJson<'a>>,
            unregistered_frameworks: [(); 0],
        }
        json_bytes(&Frameworks {
            frameworks: s
                .frameworks
                .iter()
                .filter(keep)
                .map(json_view::FrameworkJson::new)
                .collect(),
            completed_frameworks: s
                .completed_frameworks
                .iter()
                .filter(keep)
                .map(json_view::FrameworkJson::new)
                .collect(),
            unregistered_frameworks: [],
        })
    })
    .await
}

/// `/master/slaves[?slave_id=ID]` (an exact match; an unknown ID gives
/// empty lists, as in Mesos).
pub(super) async fn slaves(
    State(master): State<MasterHandle>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let wanted = query.get("slave_id").cloned();
    rendered(&master, move |batch| {
        let s = &batch.snapshot;
        let keep = |id: &str| wanted.as_ref().is_none_or(|w| w == id);
        let recovered: Vec<Value> = s
            .recovered
            .iter()
            .filter(|info| keep(info.id.as_ref().map_or("", |i| i.value.as_str())))
            .map(json_view::recovered_agent)
            .collect();
        #[derive(serde::Serialize)]
        struct Agents<'a> {
            slaves: Vec<json_view::AgentJson<'a>>,
            recovered_slaves: Vec<Value>,
        }
        json_bytes(&Agents {
            slaves: s
                .agents
                .iter()
                .filter(|a| keep(&a.id))
                .map(json_view::AgentJson::new)
                .collect(),
            recovered_slaves: recovered,
        })
    })
    .await
}

/// `/master/tasks?limit=&offset=&order=asc|desc&framework_id=&task_id=`,
/// the parameters read as Mesos reads them: a `limit` or `offset` that is
/// not a 32-bit integer is ignored (the default: 100 and 0), a negative one
/// wraps around to a huge count (so `limit=-1` is no limit and a negative
/// offset skips everything), and any `order` but `asc` is descending.
pub(super) async fn tasks(
    State(master): State<MasterHandle>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let count = |name: &str, default: usize| {
        query
            .get(name)
            .and_then(|v| v.trim().parse::<i32>().ok())
            .map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
    };
    let limit = count("limit", 100);
    let offset = count("offset", 0);
    let descending = query.get("order").map(String::as_str) != Some("asc");
    let framework_filter = query.get("framework_id").cloned();
    let task_filter = query.get("task_id").cloned();
    rendered(&master, move |batch| {
        let s = &batch.snapshot;
        let mut tasks: Vec<&v1::Task> = Vec::new();
        for framework in s.frameworks.iter().chain(&s.completed_frameworks) {
            if framework_filter
                .as_ref()
                .is_some_and(|f| f != &framework.id)
            {
                continue;
            }
            tasks.extend(framework.tasks.iter().map(|t| t.as_ref()));
            tasks.extend(framework.completed_tasks.iter().map(|t| t.as_ref()));
        }
        tasks.retain(|t| task_filter.as_ref().is_none_or(|id| id == &t.task_id.value));
        let started = |t: &v1::Task| t.statuses.first().and_then(|s| s.timestamp).unwrap_or(0.0);
        tasks.sort_by(|a, b| {
            started(a)
                .total_cmp(&started(b))
                .then_with(|| a.task_id.value.cmp(&b.task_id.value))
        });
        if descending {
            tasks.reverse();
        }
        #[derive(serde::Serialize)]
        struct Page<'a> {
            tasks: Vec<json_view::TaskJson<'a>>,
        }
        json_bytes(&Page {
            tasks: tasks
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(json_view::TaskJson::new)
                .collect(),
        })
    })
    .await
}

pub(super) async fn metrics(State(master): State<MasterHandle>) -> Response {
    let elected = master.leadership() == Leadership::Leading;
    view(&master, move |m| metrics_of(m, elected)).await
}

/// The `/metrics/snapshot` keys, Mesos names.
/// (`elected`: whether this master leads, which only the shell knows.)
pub(crate) fn metrics_of(m: &Master, elected: bool) -> Value {
    use v1::TaskState::*;
    let mut out = serde_json::Map::new();
    let mut put = |k: &str, v: f64| {
        out.insert(k.to_string(), json!(v));
    };
    // One walk over every task, for the counts by state and the resources
    // in use (this runs inside the loop; 400,000 tasks take milliseconds).
    let mut by_state = [0u64; TaskUnknown as usize + 1];
    let mut used = meseta_allocator::Resources::default();
    for record in m.frameworks().values().flat_map(|f| f.tasks.values()) {
        if let Some(count) = usize::try_from(record.task.state)
            .ok()
            .and_then(|state| by_state.get_mut(state))
        {
            *count += 1;
        }
        if !record.resources_recovered {
            used.add(&record.resources);
        }
    }
    let active_tasks = |state: v1::TaskState| by_state[state as usize] as f64;
    put(
        "master/uptime_secs",
        (wall_clock().saturating_sub(m.start_time())).as_secs_f64(),
    );
    for (key, state) in [
        ("master/tasks_staging", TaskStaging),
        ("master/tasks_starting", TaskStarting),
        ("master/tasks_running", TaskRunning),
        ("master/tasks_killing", TaskKilling),
        ("master/tasks_unreachable", TaskUnreachable),
    ] {
        put(key, active_tasks(state));
    }
    for (key, state) in [
        ("master/tasks_finished", "TASK_FINISHED"),
        ("master/tasks_failed", "TASK_FAILED"),
        ("master/tasks_killed", "TASK_KILLED"),
        ("master/tasks_lost", "TASK_LOST"),
        ("master/tasks_error", "TASK_ERROR"),
        ("master/tasks_dropped", "TASK_DROPPED"),
        ("master/tasks_gone", "TASK_GONE"),
    ] {
        put(
            key,
            m.counters().terminal.get(state).copied().unwrap_or(0) as f64,
        );
    }
    let agents = m.agents();
    put(
        "master/slaves_active",
        agents.values().filter(|a| a.active).count() as f64,
    );
    put(
        "master/slaves_inactive",
        agents.values().filter(|a| !a.active).count() as f64,
    );
    put(
        "master/slaves_connected",
        agents.values().filter(|a| a.link.is_some()).count() as f64,
    );
    put(
        "master/slaves_disconnected",
        agents.values().filter(|a| a.link.is_none()).count() as f64,
    );
    put(
        "master/slaves_unreachable",
        m.unreachable_agents().len() as f64,
    );
    put(
        "master/slave_unreachable_completed",
        m.counters().agents_unreachable as f64,
    );
    let frameworks = m.frameworks();
    put(
        "master/frameworks_active",
        frameworks.values().filter(|f| f.active).count() as f64,
    );
    put(
        "master/frameworks_inactive",
        frameworks.values().filter(|f| !f.active).count() as f64,
    );
    put(
        "master/frameworks_connected",
        frameworks.values().filter(|f| f.conn.is_some()).count() as f64,
    );
    put(
        "master/frameworks_disconnected",
        frameworks.values().filter(|f| f.conn.is_none()).count() as f64,
    );
    put("master/outstanding_offers", m.offers().len() as f64);
    for name in crate::state::MESSAGE_METRICS {
        let count = m.counters().messages.get(name).copied().unwrap_or(0);
        put(&format!("master/{name}"), count as f64);
    }
    put(
        "master/valid_status_updates",
        m.counters().status_updates as f64,
    );
    put("master/invalid_framework_to_executor_messages", 0.0);
    put("master/invalid_calls", m.counters().invalid_calls as f64);
    put(
        "allocator/mesos/allocation_runs",
        m.counters().allocation_runs as f64,
    );
    let mut total = meseta_allocator::Resources::default();
    for agent in agents.values() {
        total.add(&agent.total);
    }
    for name in ["cpus", "mem", "disk", "gpus"] {
        let t = total.scalar(name);
        let u = used.scalar(name);
        put(&format!("master/{name}_total"), t);
        put(&format!("master/{name}_used"), u);
        put(
            &format!("master/{name}_percent"),
            if t > 0.0 { u / t } else { 0.0 },
        );
    }
    put("master/elected", if elected { 1.0 } else { 0.0 });
    Value::Object(out)
}

/// 307 to the leading master (`//host:port`), or 503 when none is known.
pub(super) async fn redirect(State(master): State<MasterHandle>) -> Response {
    let leader = match master.leadership() {
        Leadership::Leading => master.info().clone(),
        Leadership::Following(Some(leader)) => leader,
        Leadership::Following(None) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "No master is currently leading",
            )
                .into_response()
        }
        Leadership::Recovering => {
            return (StatusCode::SERVICE_UNAVAILABLE, leadership::RECOVERING).into_response()
        }
    };
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, leadership::location(&leader))],
    )
        .into_response()
}

pub(super) async fn health() -> Response {
    StatusCode::OK.into_response()
}

pub(super) async fn version() -> Response {
    Json(json!({
        "version": MESOS_VERSION,
        "meseta_version": env!("CARGO_PKG_VERSION"),
        "build_user": "meseta",
        "git_sha": "",
    }))
    .into_response()
}
