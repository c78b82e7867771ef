//! `POST /api/v1` on the agent: the operator API's agent calls, in JSON or
//! protobuf. Reads (GET_HEALTH, GET_FLAGS, GET_VERSION, GET_METRICS,
//! GET_STATE, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS, GET_AGENT,
//! GET_CONTAINERS, LIST_FILES, READ_FILE, GET_LOGGING_LEVEL) answer `200`
//! with a `mesos.v1.agent.Response`;
//! KILL_CONTAINER stops a container as a kill of its tasks would (its
//! tasks end `TASK_KILLED`; SIGKILL at once unless another `signal` asks
//! for the graceful way) and WAIT_CONTAINER answers when it has ended.
//! A container the agent does not run is `404`; malformed calls `400`.

// Parsing helpers return the finished error `Response` on a cold path.
#![allow(clippy::result_large_err)]
// WAIT_NESTED_CONTAINER and KILL_NESTED_CONTAINER are deprecated in Mesos
// but still sent by older tools.
#![allow(deprecated)]

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use meseta_proto::agent::{call, response, Call, Response as Answer};
use meseta_proto::media;
use meseta_proto::v1;
use serde_json::Value;

use super::files::PathError;
use crate::inner::Inner;
use crate::state::{task_view, Control, ExecutorKind};

use super::{media_error, text_error as error};

fn of(kind: response::Type) -> Answer {
    Answer {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

/// Largest (non-streaming) call accepted.
const MAX_CALL_BYTES: usize = 4 * 1024 * 1024;

pub(crate) async fn handle(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if super::operator_sessions::is_streaming(&headers) {
        return super::operator_sessions::attach_input(inner, headers, body).await;
    }
    let body = match axum::body::to_bytes(body, MAX_CALL_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the call (at most {MAX_CALL_BYTES} bytes): {e}"),
            )
        }
    };
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    let encoding = match media::content_type(header(header::CONTENT_TYPE)) {
        Ok(encoding) => encoding,
        Err(e) => return media_error(e),
    };
    let call: Call = match media::decode(encoding, &body) {
        Ok(call) => call,
        Err(e) => return media_error(e),
    };
    let kind = call
        .r#type
        .and_then(|t| call::Type::try_from(t).ok())
        .unwrap_or(call::Type::Unknown);
    // The streaming calls answer RecordIO and check `Accept` themselves.
    match kind {
        call::Type::LaunchNestedContainerSession => {
            return super::operator_sessions::launch(&inner, &headers, encoding, call)
        }
        call::Type::AttachContainerOutput => {
            return super::operator_sessions::attach_output(&inner, &headers, encoding, call)
        }
        _ => {}
    }
    let accept = match media::accept(header(header::ACCEPT), encoding) {
        Ok(accept) => accept,
        Err(e) => return media_error(e),
    };
    let answer = match kind {
        call::Type::Unknown => {
            return error(StatusCode::BAD_REQUEST, "Expecting 'type' to be present")
        }
        call::Type::AttachContainerInput => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                "Expecting 'Content-Type' of {} for ATTACH_CONTAINER_INPUT (a stream of records)",
                super::operator_sessions::RECORDIO
            ),
            )
        }
        call::Type::KillContainer | call::Type::KillNestedContainer => {
            let kill = match (call.kill_container, call.kill_nested_container) {
                (Some(kill), _) => kill,
                (None, Some(nested)) => call::KillContainer {
                    container_id: nested.container_id,
                    signal: nested.signal,
                },
                (None, None) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "Expecting 'kill_container' to be present",
                    )
                }
            };
            if inner.sessions.knows(&kill.container_id) {
                inner
                    .sessions
                    .kill(&kill.container_id, kill.signal.unwrap_or(libc::SIGKILL));
                return StatusCode::OK.into_response();
            }
            // SIGKILL (the default) at once; SIGTERM first and SIGKILL
            // after the default grace period otherwise.
            let grace = match kill.signal {
                None | Some(libc::SIGKILL) => std::time::Duration::ZERO,
                Some(_) => crate::launch::DEFAULT_KILL_GRACE,
            };
            return match kill_container(&inner, &kill.container_id, grace) {
                true => StatusCode::OK.into_response(),
                false => not_found(&kill.container_id),
            };
        }
        call::Type::SetLoggingLevel => {
            let Some(set) = call.set_logging_level else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'set_logging_level' to be present",
                );
            };
            let Some(verbosity) = inner.settings.config.verbosity.as_ref() else {
                return error(
                    StatusCode::NOT_IMPLEMENTED,
                    "this agent cannot change its logging level",
                );
            };
            return match verbosity.set_for(set.level, &set.duration) {
                Ok(()) => StatusCode::OK.into_response(),
                Err(message) => error(StatusCode::BAD_REQUEST, message),
            };
        }
        call::Type::ListFiles | call::Type::ReadFile => {
            let inner = Arc::clone(&inner);
            let answer = tokio::task::spawn_blocking(move || files(&inner, kind, call)).await;
            match answer {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => return e.into_response(),
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        call::Type::GetContainers => {
            let show_nested = call
                .get_containers
                .as_ref()
                .and_then(|g| g.show_nested)
                .unwrap_or(false);
            let mut containers = containers(&inner, show_nested);
            add_usage(&inner, &mut containers).await;
            Answer {
                get_containers: Some(containers),
                ..of(response::Type::GetContainers)
            }
        }
        call::Type::WaitContainer | call::Type::WaitNestedContainer => {
            let nested = kind == call::Type::WaitNestedContainer;
            let id = match (call.wait_container, call.wait_nested_container) {
                (Some(wait), _) => wait.container_id,
                (None, Some(wait)) => wait.container_id,
                (None, None) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "Expecting 'wait_container' to be present",
                    )
                }
            };
            match wait_container(&inner, &id, nested).await {
                Some(answer) => answer,
                None => return not_found(&id),
            }
        }
        other => match read(&inner, other) {
            Some(answer) => answer,
            None => {
                return error(
                    StatusCode::NOT_IMPLEMENTED,
                    format!(
                        "call {} is not supported by this agent yet",
                        other.as_str_name()
                    ),
                )
            }
        },
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, accept.media_type())],
        accept.encode(&answer),
    )
        .into_response()
}

/// LIST_FILES and READ_FILE.
fn files(inner: &Inner, kind: call::Type, call: Call) -> Result<Answer, PathError> {
    let missing = |what: &str| PathError::Bad(format!("Expecting '{what}' to be present"));
    if kind == call::Type::ListFiles {
        let list = call.list_files.ok_or_else(|| missing("list_files"))?;
        return Ok(Answer {
            list_files: Some(super::operator_files::list_files(inner, &list.path)?),
            ..of(response::Type::ListFiles)
        });
    }
    let read = call.read_file.ok_or_else(|| missing("read_file"))?;
    Ok(Answer {
        read_file: Some(super::operator_files::read_file(
            inner,
            &read.path,
            read.offset,
            read.length,
        )?),
        ..of(response::Type::ReadFile)
    })
}

fn not_found(id: &v1::ContainerId) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("Container {} cannot be found", id.value),
    )
}

/// Name/value pairs of a flat JSON document (the flags, the metrics).
fn pairs(document: &Value) -> impl Iterator<Item = (String, &Value)> {
    document
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), value))
}

/// The answers that only read.
fn read(inner: &Inner, kind: call::Type) -> Option<Answer> {
    Some(match kind {
        call::Type::GetHealth => Answer {
            get_health: Some(response::GetHealth { healthy: true }),
            ..of(response::Type::GetHealth)
        },
        call::Type::GetVersion => Answer {
            get_version: Some(response::GetVersion {
                version_info: meseta_proto::version_info(),
            }),
            ..of(response::Type::GetVersion)
        },
        call::Type::GetFlags => {
            let flags = pairs(&super::state::flags_document(inner))
                .map(|(name, value)| v1::Flag {
                    name,
                    value: Some(
                        value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_string),
                    ),
                })
                .collect();
            Answer {
                get_flags: Some(response::GetFlags { flags }),
                ..of(response::Type::GetFlags)
            }
        }
        call::Type::GetMetrics => {
            let snapshot = super::state::metrics_document(inner);
            let metrics = meseta_proto::endpoint_json::metrics(&snapshot);
            Answer {
                get_metrics: Some(response::GetMetrics { metrics }),
                ..of(response::Type::GetMetrics)
            }
        }
        call::Type::GetLoggingLevel => Answer {
            get_logging_level: Some(response::GetLoggingLevel {
                level: inner
                    .settings
                    .config
                    .verbosity
                    .as_ref()
                    .map_or(0, |v| v.level()),
            }),
            ..of(response::Type::GetLoggingLevel)
        },
        call::Type::GetAgent => Answer {
            get_agent: Some(response::GetAgent {
                agent_info: Some(inner.agent_info()),
                ..Default::default()
            }),
            ..of(response::Type::GetAgent)
        },
        call::Type::GetState => Answer {
            get_state: Some(response::GetState {
                get_tasks: Some(tasks(inner)),
                get_executors: Some(executors(inner)),
                get_frameworks: Some(frameworks(inner)),
            }),
            ..of(response::Type::GetState)
        },
        call::Type::GetTasks => Answer {
            get_tasks: Some(tasks(inner)),
            ..of(response::Type::GetTasks)
        },
        call::Type::GetExecutors => Answer {
            get_executors: Some(executors(inner)),
            ..of(response::Type::GetExecutors)
        },
        call::Type::GetFrameworks => Answer {
            get_frameworks: Some(frameworks(inner)),
            ..of(response::Type::GetFrameworks)
        },
        _ => return None,
    })
}

fn tasks(inner: &Inner) -> response::GetTasks {
    let state = inner.lock();
    let agent_id = state.agent_id.clone().unwrap_or_default();
    let mut out = response::GetTasks::default();
    for framework in state.frameworks.values() {
        let executors = framework
            .executors
            .values()
            .chain(&framework.completed_executors);
        for executor in executors {
            for task in executor.tasks.values() {
                let view = task_view(framework, executor, task, &agent_id);
                let terminal = v1::TaskState::try_from(task.state).is_ok_and(|s| s.is_terminal());
                if terminal {
                    out.terminated_tasks.push(view);
                } else if task.queued {
                    out.queued_tasks.push(view);
                } else {
                    out.launched_tasks.push(view);
                }
            }
            for task in &executor.completed_tasks {
                out.completed_tasks
                    .push(task_view(framework, executor, task, &agent_id));
            }
        }
    }
    for list in [
        &mut out.queued_tasks,
        &mut out.launched_tasks,
        &mut out.terminated_tasks,
    ] {
        list.sort_by(|a, b| a.task_id.value.cmp(&b.task_id.value));
    }
    out
}

fn executors(inner: &Inner) -> response::GetExecutors {
    let state = inner.lock();
    let executor = |e: &crate::state::Executor| response::get_executors::Executor {
        executor_info: e.info.clone(),
    };
    let mut out = response::GetExecutors::default();
    for framework in state.frameworks.values() {
        out.executors
            .extend(framework.executors.values().map(executor));
        out.completed_executors
            .extend(framework.completed_executors.iter().map(executor));
    }
    out.executors.sort_by(|a, b| {
        a.executor_info
            .executor_id
            .value
            .cmp(&b.executor_info.executor_id.value)
    });
    out
}

fn frameworks(inner: &Inner) -> response::GetFrameworks {
    let state = inner.lock();
    let framework = |info: &v1::FrameworkInfo| response::get_frameworks::Framework {
        framework_info: info.clone(),
    };
    let mut frameworks: Vec<_> = state
        .frameworks
        .values()
        .map(|f| framework(&f.info))
        .collect();
    frameworks.sort_by_key(|f| f.framework_info.id.as_ref().map(|id| id.value.clone()));
    response::GetFrameworks {
        frameworks,
        completed_frameworks: state
            .completed_frameworks
            .iter()
            .map(|f| framework(&f.info))
            .collect(),
    }
}

/// The running containers: each executor's (a default executor's tasks
/// each have their own), and with `show_nested` the running sessions.
fn containers(inner: &Inner, show_nested: bool) -> response::GetContainers {
    let state = inner.lock();
    let mut out = Vec::new();
    for framework in state.frameworks.values() {
        for executor in framework.executors.values().filter(|e| e.is_live()) {
            let container = |container_id: v1::ContainerId| response::get_containers::Container {
                framework_id: Some(framework.id.clone()),
                executor_id: Some(executor.id().clone()),
                executor_name: executor.info.name.clone(),
                container_id,
                ..Default::default()
            };
            match executor.kind {
                ExecutorKind::Default => out.extend(
                    executor
                        .tasks
                        .values()
                        .filter_map(|t| t.container_id.clone())
                        .map(container),
                ),
                _ => out.push(container(executor.container_id.clone())),
            }
        }
    }
    drop(state);
    if show_nested {
        out.extend(inner.sessions.running().into_iter().map(|id| {
            response::get_containers::Container {
                container_id: id,
                ..Default::default()
            }
        }));
    }
    out.sort_by(|a, b| a.container_id.value.cmp(&b.container_id.value));
    response::GetContainers { containers: out }
}

/// Each container's status (its PID, its addresses) and usage, as the
/// containerizer measures it (sessions share their parent's cgroups and
/// have none of their own).
async fn add_usage(inner: &Inner, containers: &mut response::GetContainers) {
    let measured = containers.containers.iter().map(|container| {
        let id = container.container_id.clone();
        async move { inner.containerizer.usage(&id).await.ok() }
    });
    let usage = futures::future::join_all(measured).await;
    for (container, usage) in containers.containers.iter_mut().zip(usage) {
        let id = &container.container_id;
        let running = inner.containerizer.running_status(id).unwrap_or_default();
        container.container_status = Some(v1::ContainerStatus {
            container_id: Some(id.clone()),
            executor_pid: inner.containerizer.pid(id),
            network_infos: running.network_infos,
            ..Default::default()
        });
        container.resource_statistics = usage;
    }
}

/// Stops the container `id` as a kill of its tasks would: the built-in
/// executors' tasks are killed (TASK_KILLED), a custom executor is shut
/// down. False when the agent runs no such container.
fn kill_container(inner: &Arc<Inner>, id: &v1::ContainerId, grace: std::time::Duration) -> bool {
    let mut custom = None;
    {
        let state = inner.lock();
        let mut found = false;
        for framework in state.frameworks.values() {
            for executor in framework.executors.values().filter(|e| e.is_live()) {
                let whole = executor.container_id == *id;
                if whole && executor.kind == ExecutorKind::Custom {
                    custom = Some((framework.id.value.clone(), executor.id().value.clone()));
                    found = true;
                    continue;
                }
                for task in executor.tasks.values() {
                    if whole || task.container_id.as_ref() == Some(id) {
                        found = true;
                        if let Some(control) = &task.control {
                            let _ = control.send(Control::Kill { grace });
                        }
                    }
                }
                found |= whole;
            }
        }
        if !found {
            return false;
        }
    }
    tracing::info!(container_id = %id.value, "operator kills the container");
    if let Some((framework_id, executor_id)) = custom {
        inner.shutdown_custom_executor(&framework_id, &executor_id);
    }
    true
}

/// Waits for the container (or session) to end; how it ended, in
/// WAIT_NESTED_CONTAINER's answer when `nested`.
async fn wait_container(inner: &Arc<Inner>, id: &v1::ContainerId, nested: bool) -> Option<Answer> {
    let termination = match inner.sessions.knows(id) {
        true => inner.sessions.wait(id).await?,
        false => inner.containerizer.wait(id).await.ok()?,
    };
    let exit_status = termination.wait_status;
    Some(match nested {
        true => Answer {
            wait_nested_container: Some(response::WaitNestedContainer {
                exit_status,
                ..Default::default()
            }),
            ..of(response::Type::WaitNestedContainer)
        },
        false => Answer {
            wait_container: Some(response::WaitContainer {
                exit_status,
                ..Default::default()
            }),
            ..of(response::Type::WaitContainer)
        },
    })
}
