//! `POST /api/v1`: the master's operator API, in JSON or protobuf like the
//! scheduler API. Calls about this process (GET_HEALTH, GET_FLAGS,
//! GET_VERSION, GET_METRICS) are answered by any master; the others by the
//! leader (a follower redirects with `307`, as Mesos does). Reads answer
//! `200` with a `Response`; calls that change the cluster answer `200` once
//! the change is persisted; malformed calls `400`, unknown IDs `400` with
//! nothing changed.

// Parsing helpers return the finished error `Response` on a cold path.
#![allow(clippy::result_large_err)]

mod subscribe;

pub(crate) use subscribe::{fan_out, MAX_SUBSCRIBERS};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use meseta_proto::master::{call, response, Call, Response as Answer};
use meseta_proto::media;
use meseta_proto::v1;
use tokio::sync::oneshot;

use super::endpoints::metrics_of;
use crate::handle::{Command, MasterHandle};
use crate::leadership::Leadership;
use crate::state::operator::views;
use crate::state::CallError;

use super::{media_error, text_error as error};

/// Whether any master answers the call, leading or not.
fn answered_anywhere(kind: call::Type) -> bool {
    matches!(
        kind,
        call::Type::GetHealth
            | call::Type::GetFlags
            | call::Type::GetVersion
            | call::Type::GetMetrics
            | call::Type::GetLoggingLevel
            | call::Type::SetLoggingLevel
            | call::Type::ListFiles
            | call::Type::ReadFile
    )
}

pub(super) async fn handle(
    State(master): State<MasterHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    let encoding = match media::content_type(header(header::CONTENT_TYPE)) {
        Ok(encoding) => encoding,
        Err(e) => return media_error(e),
    };
    let accept = match media::accept(header(header::ACCEPT), encoding) {
        Ok(accept) => accept,
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
    if kind == call::Type::Unknown {
        return error(StatusCode::BAD_REQUEST, "Expecting 'type' to be present");
    }
    if !answered_anywhere(kind) {
        if let Some(answer) = super::unless_leading(&master, "/api/v1") {
            return answer;
        }
    }
    if kind == call::Type::Subscribe {
        return subscribe::subscribe(master, accept).await;
    }
    if matches!(kind, call::Type::ListFiles | call::Type::ReadFile) {
        let answered = tokio::task::spawn_blocking(move || files(&master, kind, call)).await;
        return match answered {
            Ok(Ok(response)) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, accept.media_type())],
                accept.encode(&response),
            )
                .into_response(),
            Ok(Err(e)) => e.into_response(),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    }
    let answered = if lists_the_cluster(kind) {
        list(&master, kind, accept).await
    } else {
        answer(&master, kind, call)
            .await
            .map(|answer| answer.map(|response| accept.encode(&response)))
    };
    match answered {
        Ok(Some(encoded)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, accept.media_type())],
            encoded,
        )
            .into_response(),
        Ok(None) => StatusCode::OK.into_response(),
        Err(refused) => refusal(refused),
    }
}

/// The HTTP answer to a refused call.
pub(super) fn refusal(refused: CallError) -> Response {
    match refused {
        CallError::BadRequest(m) => error(StatusCode::BAD_REQUEST, m),
        CallError::Forbidden(m) => error(StatusCode::FORBIDDEN, m),
        CallError::NotImplemented(m) => error(StatusCode::NOT_IMPLEMENTED, m),
        CallError::Unavailable(m) => error(StatusCode::SERVICE_UNAVAILABLE, m),
        CallError::Conflict(m) => error(StatusCode::CONFLICT, m),
    }
}

/// Performs a call that changes the cluster; `Ok` once it is persisted.
pub(super) async fn change(master: &MasterHandle, call: Call) -> Result<(), CallError> {
    let (reply, done) = oneshot::channel();
    master
        .send(Command::Operator {
            call: Box::new(call),
            reply,
        })
        .await;
    done.await.map_err(|_| shutting_down())?
}

/// A REST-like endpoint's answer to a change: `200` once it is persisted,
/// the refusal's status and reason otherwise.
pub(super) async fn performed(master: &MasterHandle, call: Call) -> Response {
    match change(master, call).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refused) => refusal(refused),
    }
}

/// LIST_FILES and READ_FILE (the master's own files).
fn files(
    master: &MasterHandle,
    kind: call::Type,
    call: Call,
) -> Result<Answer, meseta_files::PathError> {
    use meseta_files::PathError;
    let missing = |what: &str| PathError::Bad(format!("Expecting '{what}' to be present"));
    if kind == call::Type::ListFiles {
        let list = call.list_files.ok_or_else(|| missing("list_files"))?;
        return Ok(Answer {
            list_files: Some(super::files::list_files(master, &list.path)?),
            ..of(response::Type::ListFiles)
        });
    }
    let read = call.read_file.ok_or_else(|| missing("read_file"))?;
    Ok(Answer {
        read_file: Some(super::files::read_file(
            master,
            &read.path,
            read.offset,
            read.length,
        )?),
        ..of(response::Type::ReadFile)
    })
}

/// An empty response of type `kind`.
fn of(kind: response::Type) -> Answer {
    Answer {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

fn shutting_down() -> CallError {
    CallError::Unavailable("Master is shutting down".into())
}

/// Calls whose answer grows with the cluster: answered from a batch's
/// snapshot (see [`super::batches`]), built and encoded on the rendering
/// thread (GET_STATE of 100,000 tasks: 0.2 s to build inside the loop, 1.8 s
/// to encode in JSON), not on the loop or the threads that serve the agents
/// and the frameworks.
fn lists_the_cluster(kind: call::Type) -> bool {
    matches!(
        kind,
        call::Type::GetState
            | call::Type::GetTasks
            | call::Type::GetAgents
            | call::Type::GetFrameworks
            | call::Type::GetExecutors
    )
}

/// The encoded answer to one of the calls that [list the
/// cluster](lists_the_cluster).
async fn list(
    master: &MasterHandle,
    kind: call::Type,
    accept: media::Encoding,
) -> Result<Option<Vec<u8>>, CallError> {
    let batch = master.snapshots.next().await.ok_or_else(shutting_down)?;
    let encode = move || {
        let s = &batch.snapshot;
        let response = match kind {
            call::Type::GetState => Answer {
                get_state: Some(views::state(s)),
                ..of(response::Type::GetState)
            },
            call::Type::GetAgents => Answer {
                get_agents: Some(views::agents(s)),
                ..of(response::Type::GetAgents)
            },
            call::Type::GetFrameworks => Answer {
                get_frameworks: Some(views::frameworks(s)),
                ..of(response::Type::GetFrameworks)
            },
            call::Type::GetExecutors => Answer {
                get_executors: Some(views::executors(s)),
                ..of(response::Type::GetExecutors)
            },
            _ => Answer {
                get_tasks: Some(views::tasks(s)),
                ..of(response::Type::GetTasks)
            },
        };
        accept.encode(&response)
    };
    let encoded = master.snapshots.render(encode).await.ok_or_else(|| {
        CallError::Unavailable("the answer could not be built; see the master's log".into())
    })?;
    Ok(Some(encoded))
}

/// The answer to a call: a `Response` for reads, none for changes.
async fn answer(
    master: &MasterHandle,
    kind: call::Type,
    call: Call,
) -> Result<Option<Answer>, CallError> {
    let inspect = |f: fn(&crate::state::Master) -> Answer| async move {
        master.inspect(f).await.ok_or_else(shutting_down)
    };
    let response = match kind {
        call::Type::GetHealth => Answer {
            get_health: Some(response::GetHealth { healthy: true }),
            ..of(response::Type::GetHealth)
        },
        call::Type::GetFlags => Answer {
            get_flags: Some(response::GetFlags {
                flags: master
                    .flags()
                    .iter()
                    .map(|(name, value)| v1::Flag {
                        name: name.clone(),
                        value: Some(value.clone()),
                    })
                    .collect(),
            }),
            ..of(response::Type::GetFlags)
        },
        call::Type::GetVersion => Answer {
            get_version: Some(response::GetVersion {
                version_info: meseta_proto::version_info(),
            }),
            ..of(response::Type::GetVersion)
        },
        call::Type::GetMetrics => {
            let elected = master.leadership() == Leadership::Leading;
            let snapshot = master
                .inspect(move |m| metrics_of(m, elected))
                .await
                .ok_or_else(shutting_down)?;
            Answer {
                get_metrics: Some(response::GetMetrics {
                    metrics: meseta_proto::endpoint_json::metrics(&snapshot),
                }),
                ..of(response::Type::GetMetrics)
            }
        }
        call::Type::GetRoles => {
            inspect(|m| Answer {
                get_roles: Some(views::roles(m)),
                ..of(response::Type::GetRoles)
            })
            .await?
        }
        call::Type::GetWeights => {
            inspect(|m| Answer {
                get_weights: Some(views::weights(m)),
                ..of(response::Type::GetWeights)
            })
            .await?
        }
        call::Type::GetMaintenanceSchedule => {
            inspect(|m| Answer {
                get_maintenance_schedule: Some(response::GetMaintenanceSchedule {
                    schedule: m.maintenance_schedule(),
                }),
                ..of(response::Type::GetMaintenanceSchedule)
            })
            .await?
        }
        call::Type::GetMaintenanceStatus => {
            inspect(|m| Answer {
                get_maintenance_status: Some(response::GetMaintenanceStatus {
                    status: m.maintenance_status(),
                }),
                ..of(response::Type::GetMaintenanceStatus)
            })
            .await?
        }
        call::Type::GetQuota => {
            inspect(|m| Answer {
                get_quota: Some(response::GetQuota {
                    status: m.quota_status(),
                }),
                ..of(response::Type::GetQuota)
            })
            .await?
        }
        call::Type::GetMaster => {
            inspect(|m| Answer {
                get_master: Some(views::master(m)),
                ..of(response::Type::GetMaster)
            })
            .await?
        }
        call::Type::GetLoggingLevel => Answer {
            get_logging_level: Some(response::GetLoggingLevel {
                level: master.verbosity.as_ref().map_or(0, |v| v.level()),
            }),
            ..of(response::Type::GetLoggingLevel)
        },
        call::Type::SetLoggingLevel => {
            let set = call.set_logging_level.ok_or_else(|| {
                CallError::BadRequest("Expecting 'set_logging_level' to be present".into())
            })?;
            let verbosity = master.verbosity.as_ref().ok_or_else(|| {
                CallError::NotImplemented("this master cannot change its logging level".into())
            })?;
            verbosity
                .set_for(set.level, &set.duration)
                .map_err(CallError::BadRequest)?;
            return Ok(None);
        }
        call::Type::GetOperations => Answer {
            get_operations: Some(response::GetOperations::default()),
            ..of(response::Type::GetOperations)
        },
        _ => {
            change(master, call).await?;
            return Ok(None);
        }
    };
    Ok(Some(response))
}
