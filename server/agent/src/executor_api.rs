//! `/api/v1/executor`: the v1 executor HTTP API, for custom executors.
//!
//! Calls arrive as `POST` bodies in JSON (Mesos's mapping) or protobuf, as
//! `Content-Type` says. `SUBSCRIBE` answers `200` with a RecordIO stream of
//! events encoded as `Accept` asks: `SUBSCRIBED` first, then the launches
//! queued while the executor started, then whatever comes (`LAUNCH`,
//! `KILL`, `MESSAGE`, `ACKNOWLEDGED`, `SHUTDOWN`, periodic `HEARTBEAT`).
//! Other calls answer `202 Accepted`. Bad input answers `4xx` with a
//! readable message, as Mesos does: 400 for a malformed or unknown call,
//! 403 when the executor must subscribe first, 406/415 for media types.
//!
//! An `UPDATE` is acknowledged to the executor (`ACKNOWLEDGED`) as soon as
//! the agent's status update manager has accepted it — from then on the agent
//! is responsible for delivering it to the framework — as in Mesos.
//!
//! After an agent restart, an executor of a checkpointing framework
//! subscribes again with the updates and tasks it has no acknowledgement
//! for. Its updates go through the manager like new ones (an update the
//! agent journaled before the restart is a duplicate by UUID, and only
//! acknowledged again); a task still staging that it does not list never
//! reached it and is reported gone.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use meseta_proto::cluster::{self, agent_message::Kind};
use meseta_proto::executor::{call, Call, Event};
use meseta_proto::media::{self, Encoding};
use meseta_proto::recordio;
use meseta_proto::v1::{task_status, TaskState};
use tokio::sync::mpsc;

use crate::inner::Inner;
use crate::state::{ExecutorKind, ExecutorPhase};
use crate::status_updates::state_name;

/// How often a subscribed executor gets a `HEARTBEAT` event.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Events buffered for one executor before it is considered stuck.
const EVENT_QUEUE: usize = 1024;

/// Builders of executor events.
pub(crate) mod events {
    use meseta_proto::executor::{event, Event};
    use meseta_proto::v1;

    fn of(kind: event::Type) -> Event {
        Event {
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    pub fn subscribed(
        executor_info: v1::ExecutorInfo,
        framework_info: v1::FrameworkInfo,
        agent_info: v1::AgentInfo,
        container_id: v1::ContainerId,
    ) -> Event {
        Event {
            subscribed: Some(event::Subscribed {
                executor_info,
                framework_info,
                agent_info,
                container_id: Some(container_id),
            }),
            ..of(event::Type::Subscribed)
        }
    }

    /// One `LAUNCH_GROUP`, or one `LAUNCH` per task.
    pub fn launches(group: bool, tasks: Vec<v1::TaskInfo>) -> Vec<Event> {
        if group {
            return vec![Event {
                launch_group: Some(event::LaunchGroup {
                    task_group: v1::TaskGroupInfo { tasks },
                }),
                ..of(event::Type::LaunchGroup)
            }];
        }
        tasks
            .into_iter()
            .map(|task| Event {
                launch: Some(event::Launch { task }),
                ..of(event::Type::Launch)
            })
            .collect()
    }

    pub fn kill(task_id: &v1::TaskId, kill_policy: Option<v1::KillPolicy>) -> Event {
        Event {
            kill: Some(event::Kill {
                task_id: task_id.clone(),
                kill_policy,
            }),
            ..of(event::Type::Kill)
        }
    }

    pub fn message(data: Vec<u8>) -> Event {
        Event {
            message: Some(event::Message { data }),
            ..of(event::Type::Message)
        }
    }

    pub fn acknowledged(task_id: v1::TaskId, uuid: Vec<u8>) -> Event {
        Event {
            acknowledged: Some(event::Acknowledged { task_id, uuid }),
            ..of(event::Type::Acknowledged)
        }
    }

    pub fn shutdown() -> Event {
        of(event::Type::Shutdown)
    }

    pub fn heartbeat() -> Event {
        of(event::Type::Heartbeat)
    }
}

use crate::http::{media_error, text_error as reject};

/// `POST /api/v1/executor`.
pub(crate) async fn handle(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let encoding = match media::content_type(content_type) {
        Ok(encoding) => encoding,
        Err(e) => return media_error(e),
    };
    let call: Call = match media::decode(encoding, &body) {
        Ok(call) => call,
        Err(e) => return media_error(e),
    };
    if inner.is_stopping() {
        return reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "The agent is shutting down",
        );
    }
    match call::Type::try_from(call.r#type.unwrap_or(0)).unwrap_or(call::Type::Unknown) {
        call::Type::Subscribe => {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
            let encoding = match media::accept(accept, encoding) {
                Ok(encoding) => encoding,
                Err(e) => return media_error(e),
            };
            subscribe(inner, call, encoding)
        }
        call::Type::Update => update(&inner, call),
        call::Type::Message => message(&inner, call),
        call::Type::Heartbeat => StatusCode::ACCEPTED.into_response(),
        call::Type::Unknown => reject(
            StatusCode::BAD_REQUEST,
            "Expecting 'type' to be present and known",
        ),
    }
}

fn subscribe(inner: Arc<Inner>, call: Call, encoding: Encoding) -> Response {
    let fid = call.framework_id.value.clone();
    let eid = call.executor_id.value.clone();
    let Some(subscribe) = call.subscribe else {
        return reject(
            StatusCode::BAD_REQUEST,
            "Expecting 'subscribe' to be present",
        );
    };
    let agent_info = inner.agent_info();
    let (tx, rx) = mpsc::channel::<Event>(EVENT_QUEUE);
    let mut never_received = Vec::new();
    let initial = {
        let mut state = inner.lock();
        let Some(framework) = state.frameworks.get_mut(&fid) else {
            return reject(
                StatusCode::BAD_REQUEST,
                format!("Framework {fid} is not known to this agent"),
            );
        };
        let framework_info = framework.info.clone();
        let Some(executor) = framework.executors.get_mut(&eid) else {
            return reject(
                StatusCode::BAD_REQUEST,
                format!("Executor {eid} of framework {fid} is not known to this agent"),
            );
        };
        if executor.kind != ExecutorKind::Custom {
            return reject(
                StatusCode::BAD_REQUEST,
                format!("Executor {eid} is run by the agent itself"),
            );
        }
        if !executor.is_live() {
            return reject(
                StatusCode::FORBIDDEN,
                format!("Executor {eid} is terminating"),
            );
        }
        executor.events = Some(tx.clone());
        executor.phase = ExecutorPhase::Running;
        if std::mem::take(&mut executor.recovered) {
            never_received = executor.never_received(&subscribe.unacknowledged_tasks);
        }
        let mut initial = vec![events::subscribed(
            executor.info.clone(),
            framework_info,
            agent_info,
            executor.container_id.clone(),
        )];
        for (group, ids) in std::mem::take(&mut executor.pending_launches) {
            let mut tasks = Vec::new();
            for id in ids {
                if let Some(task) = executor.tasks.get_mut(&id) {
                    task.queued = false;
                    tasks.push(task.info.clone());
                }
            }
            if !tasks.is_empty() {
                initial.extend(events::launches(group, tasks));
            }
        }
        initial
    };
    tracing::info!(framework_id = %fid, executor_id = %eid, launches = initial.len() - 1, "executor subscribed");
    inner.never_received(&call.framework_id, &eid, never_received);
    for pending in subscribe.unacknowledged_updates {
        accept_update(
            &inner,
            &call.framework_id,
            &call.executor_id,
            pending.status,
        );
    }
    spawn_heartbeats(tx.downgrade());
    let guard = DisconnectGuard {
        inner: Arc::clone(&inner),
        fid,
        eid,
        events: tx.downgrade(),
    };
    drop(tx);
    let stream = futures::stream::iter(initial)
        .chain(tokio_stream::wrappers::ReceiverStream::new(rx))
        .map(move |event| {
            let _alive = &guard;
            Ok::<_, Infallible>(Bytes::from(recordio::encode(&encoding.encode(&event))))
        });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, encoding.media_type())
        .body(Body::from_stream(stream))
        .unwrap_or_else(|e| reject(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn spawn_heartbeats(events: mpsc::WeakSender<Event>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT_INTERVAL).await;
            let Some(events) = events.upgrade() else {
                return;
            };
            if events.send(events::heartbeat()).await.is_err() {
                return;
            }
        }
    });
}

/// Lives as long as the response body: when the executor's connection
/// closes, the executor's stream is forgotten (unless it subscribed again
/// meanwhile).
struct DisconnectGuard {
    inner: Arc<Inner>,
    fid: String,
    eid: String,
    events: mpsc::WeakSender<Event>,
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        let Some(events) = self.events.upgrade() else {
            return;
        };
        let mut state = self.inner.lock();
        if let Some(executor) = state.executor_mut(&self.fid, &self.eid) {
            if executor
                .events
                .as_ref()
                .is_some_and(|e| e.same_channel(&events))
            {
                tracing::info!(framework_id = %self.fid, executor_id = %self.eid, "executor disconnected");
                executor.events = None;
            }
        }
    }
}

/// The rejection of a call whose executor is not a subscribed custom
/// executor, if it is not.
fn unless_subscribed(inner: &Inner, call: &Call) -> Option<Response> {
    let state = inner.lock();
    let Some(executor) = state.executor(&call.framework_id.value, &call.executor_id.value) else {
        return Some(reject(
            StatusCode::BAD_REQUEST,
            format!(
                "Executor {} of framework {} is not known to this agent",
                call.executor_id.value, call.framework_id.value
            ),
        ));
    };
    if executor.kind != ExecutorKind::Custom || executor.events.is_none() {
        return Some(reject(StatusCode::FORBIDDEN, "Executor is not subscribed"));
    }
    None
}

fn update(inner: &Inner, call: Call) -> Response {
    if let Some(response) = unless_subscribed(inner, &call) {
        return response;
    }
    let Some(update) = call.update else {
        return reject(StatusCode::BAD_REQUEST, "Expecting 'update' to be present");
    };
    let status = update.status;
    if status.uuid.as_ref().is_none_or(|u| u.len() != 16) {
        return reject(
            StatusCode::BAD_REQUEST,
            "Status update must have a 16-byte 'uuid'",
        );
    }
    if status.state == TaskState::TaskStaging as i32 {
        return reject(
            StatusCode::BAD_REQUEST,
            "Executors may not send TASK_STAGING",
        );
    }
    accept_update(inner, &call.framework_id, &call.executor_id, status);
    StatusCode::ACCEPTED.into_response()
}

/// Hands an executor's update to the status update manager and, once it is
/// accepted, acknowledges it to the executor.
fn accept_update(
    inner: &Inner,
    framework_id: &meseta_proto::v1::FrameworkId,
    executor_id: &meseta_proto::v1::ExecutorId,
    mut status: meseta_proto::v1::TaskStatus,
) {
    status.source = Some(task_status::Source::Executor as i32);
    status.executor_id = Some(executor_id.clone());
    let task_id = status.task_id.clone();
    let uuid = status.uuid.clone().unwrap_or_default();
    let state = state_name(status.state);
    let (known, container) = {
        let state = inner.lock();
        let executor = state.executor(&framework_id.value, &executor_id.value);
        (
            executor.is_some_and(|e| e.tasks.contains_key(&task_id.value)),
            executor.map(|e| e.container_id.clone()),
        )
    };
    // As Mesos's agent does: the update says which container runs the
    // executor, and its first process.
    if let (None, Some(container)) = (&status.container_status, container) {
        status.container_status = Some(meseta_proto::v1::ContainerStatus {
            executor_pid: inner.containerizer.pid(&container),
            container_id: Some(container),
            ..Default::default()
        });
    }
    if !known {
        tracing::warn!(framework_id = %framework_id.value, executor_id = %executor_id.value, task_id = %task_id.value, %state, "update for a task this executor was not given");
    }
    match inner.report(framework_id, status) {
        Ok(_) => {
            let state = inner.lock();
            if let Some(events) = state
                .executor(&framework_id.value, &executor_id.value)
                .and_then(|e| e.events.as_ref())
            {
                let _ = events.try_send(events::acknowledged(task_id, uuid));
            }
        }
        Err(e) => {
            tracing::warn!(framework_id = %framework_id.value, executor_id = %executor_id.value, error = %e, "executor update not accepted")
        }
    }
}

fn message(inner: &Inner, call: Call) -> Response {
    if let Some(response) = unless_subscribed(inner, &call) {
        return response;
    }
    let Some(message) = call.message else {
        return reject(StatusCode::BAD_REQUEST, "Expecting 'message' to be present");
    };
    inner
        .master
        .send(Kind::ExecutorMessage(cluster::ExecutorMessage {
            framework_id: call.framework_id,
            executor_id: call.executor_id,
            data: message.data,
        }));
    StatusCode::ACCEPTED.into_response()
}
