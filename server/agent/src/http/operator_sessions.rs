//! The operator API's streaming calls on the agent:
//! LAUNCH_NESTED_CONTAINER_SESSION and ATTACH_CONTAINER_OUTPUT answer a
//! RecordIO stream of `ProcessIO` records (`Accept: application/recordio`,
//! each record encoded as `Message-Accept` asks); ATTACH_CONTAINER_INPUT
//! sends one (`Content-Type: application/recordio`, records encoded as
//! `Message-Content-Type` says): first the container's ID, then its input.
//! The decisions live in [`crate::sessions`].

// Parsing helpers return the finished error `Response` on a cold path.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use meseta_proto::agent::{call, process_io, Call, ProcessIo};
use meseta_proto::media::{self, Encoding};
use meseta_proto::{recordio, v1};
use tokio::sync::mpsc;

use super::{media_error, text_error as error};
use crate::inner::Inner;
use crate::sessions::{Chunk, Input, KillOnDrop, SessionError, Source};

/// `application/recordio`.
pub(crate) const RECORDIO: &str = "application/recordio";
const MESSAGE_ACCEPT: HeaderName = HeaderName::from_static("message-accept");
const MESSAGE_CONTENT_TYPE: HeaderName = HeaderName::from_static("message-content-type");
/// Largest input record accepted.
const MAX_INPUT_RECORD: usize = 16 * 1024 * 1024;

fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// True when a request's `Content-Type` is RecordIO (a streaming call).
pub(crate) fn is_streaming(headers: &HeaderMap) -> bool {
    header(headers, &header::CONTENT_TYPE)
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(RECORDIO))
}

fn session_error(e: SessionError) -> Response {
    let status = match &e {
        SessionError::NotFound(_) => StatusCode::NOT_FOUND,
        SessionError::Conflict(_) => StatusCode::CONFLICT,
        SessionError::Bad(_) => StatusCode::BAD_REQUEST,
        SessionError::Launch(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

/// The encoding of a streaming answer's records: `Accept` must allow
/// RecordIO, `Message-Accept` picks JSON or protobuf (`default` when it
/// does not say).
fn streaming_accept(headers: &HeaderMap, default: Encoding) -> Result<Encoding, Response> {
    let accept = header(headers, &header::ACCEPT).unwrap_or("*/*");
    let allows = accept.split(',').any(|media| {
        let media = media.split(';').next().unwrap_or("").trim();
        media.eq_ignore_ascii_case(RECORDIO) || media == "*/*" || media == "application/*"
    });
    if !allows {
        return Err(error(
            StatusCode::NOT_ACCEPTABLE,
            format!("Expecting 'Accept' to allow '{RECORDIO}' (this call answers a stream)"),
        ));
    }
    media::accept(header(headers, &MESSAGE_ACCEPT), default).map_err(media_error)
}

/// A `200` streaming `chunks` as `ProcessIO` records; `guard` (a session's
/// own answer) kills the session if the client goes away before the output
/// ends.
fn stream_answer(
    encoding: Encoding,
    chunks: mpsc::Receiver<Chunk>,
    guard: Option<KillOnDrop>,
) -> Response {
    let records =
        futures::stream::unfold((chunks, guard), move |(mut chunks, mut guard)| async move {
            let Some(chunk) = chunks.recv().await else {
                if let Some(guard) = guard.as_mut() {
                    guard.disarm();
                }
                return None;
            };
            let record = ProcessIo {
                r#type: Some(process_io::Type::Data as i32),
                data: Some(process_io::Data {
                    r#type: Some(match chunk.source {
                        Source::Stdout => process_io::data::Type::Stdout,
                        Source::Stderr => process_io::data::Type::Stderr,
                    } as i32),
                    data: Some(chunk.data.to_vec()),
                }),
                control: None,
            };
            let framed = Bytes::from(recordio::encode(&encoding.encode(&record)));
            Some((Ok::<_, Infallible>(framed), (chunks, guard)))
        });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, RECORDIO)
        .header(MESSAGE_CONTENT_TYPE, encoding.media_type())
        .body(Body::from_stream(records))
        .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// LAUNCH_NESTED_CONTAINER_SESSION.
pub(crate) fn launch(
    inner: &Arc<Inner>,
    headers: &HeaderMap,
    encoding: Encoding,
    call: Call,
) -> Response {
    let encoding = match streaming_accept(headers, encoding) {
        Ok(encoding) => encoding,
        Err(answer) => return answer,
    };
    let Some(launch) = call.launch_nested_container_session else {
        return error(
            StatusCode::BAD_REQUEST,
            "Expecting 'launch_nested_container_session' to be present",
        );
    };
    let Some(command) = launch.command else {
        return error(
            StatusCode::BAD_REQUEST,
            "Expecting 'launch_nested_container_session.command' to be present",
        );
    };
    if !inner.begin_launch() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent is shutting down",
        );
    }
    let launched = inner.sessions.launch(
        &inner.containerizer,
        &launch.container_id,
        command,
        launch.container.as_ref(),
    );
    inner.end_launch();
    match launched {
        Ok(output) => {
            tracing::debug!(container = %output.key(), "streaming the session's output");
            stream_answer(encoding, output.chunks, Some(output.guard))
        }
        Err(e) => session_error(e),
    }
}

/// ATTACH_CONTAINER_OUTPUT.
pub(crate) fn attach_output(
    inner: &Arc<Inner>,
    headers: &HeaderMap,
    encoding: Encoding,
    call: Call,
) -> Response {
    let encoding = match streaming_accept(headers, encoding) {
        Ok(encoding) => encoding,
        Err(answer) => return answer,
    };
    let Some(attach) = call.attach_container_output else {
        return error(
            StatusCode::BAD_REQUEST,
            "Expecting 'attach_container_output' to be present",
        );
    };
    match inner.sessions.attach_output(&attach.container_id) {
        Ok(chunks) => stream_answer(encoding, chunks, None),
        Err(e) => session_error(e),
    }
}

/// The records of a streaming request body.
struct Records {
    body: Body,
    decoder: recordio::Decoder,
    encoding: Encoding,
}

impl Records {
    /// The next call; `Ok(None)` at the end of the body.
    async fn next(&mut self) -> Result<Option<Call>, Response> {
        loop {
            match self.decoder.next_record() {
                Ok(Some(record)) if record.len() > MAX_INPUT_RECORD => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        format!("a record of {} bytes is too large", record.len()),
                    ))
                }
                Ok(Some(record)) => {
                    return media::decode::<Call>(self.encoding, &record)
                        .map(Some)
                        .map_err(media_error)
                }
                Ok(None) => {}
                Err(e) => return Err(error(StatusCode::BAD_REQUEST, e.to_string())),
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        format!("cannot read the request: {e}"),
                    ))
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.decoder.feed(&data);
                    }
                }
            }
        }
    }
}

/// The `AttachContainerInput` of a call, or the `400` it deserves.
fn input_of(call: Call) -> Result<call::AttachContainerInput, Response> {
    let kind = call.r#type.and_then(|t| call::Type::try_from(t).ok());
    if kind != Some(call::Type::AttachContainerInput) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Expecting every record of the stream to be an ATTACH_CONTAINER_INPUT call",
        ));
    }
    call.attach_container_input.ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "Expecting 'attach_container_input' to be present",
        )
    })
}

/// ATTACH_CONTAINER_INPUT: answers when the client's stream ends.
pub(crate) async fn attach_input(inner: Arc<Inner>, headers: HeaderMap, body: Body) -> Response {
    let encoding = match header(&headers, &MESSAGE_CONTENT_TYPE) {
        Some(value) => match media::content_type(Some(value)) {
            Ok(encoding) => encoding,
            Err(e) => return media_error(e),
        },
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "Expecting 'Message-Content-Type' to be present",
            )
        }
    };
    let mut records = Records {
        body,
        decoder: recordio::Decoder::new(),
        encoding,
    };
    let first = match records.next().await {
        Ok(Some(call)) => call,
        Ok(None) => return error(StatusCode::BAD_REQUEST, "Expecting at least one record"),
        Err(answer) => return answer,
    };
    let first = match input_of(first) {
        Ok(first) => first,
        Err(answer) => return answer,
    };
    use call::attach_container_input::Type;
    let container_id = match (first.r#type(), first.container_id) {
        (Type::ContainerId, Some(id)) => id,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "Expecting the first record to be of type CONTAINER_ID with 'container_id'",
            )
        }
    };
    let mut input = match inner.sessions.attach_input(&container_id) {
        Ok(input) => input,
        Err(e) => return session_error(e),
    };
    let answer = forward(&inner, &container_id, &mut records, &mut input).await;
    match answer {
        Forwarded::Closed => {}
        Forwarded::Open | Forwarded::Refused(_) => {
            inner.sessions.release_input(&container_id, input)
        }
    }
    match answer {
        Forwarded::Refused(response) => response,
        _ => StatusCode::OK.into_response(),
    }
}

enum Forwarded {
    /// The stream ended; input stays open for a later attach.
    Open,
    /// The end of input was sent.
    Closed,
    Refused(Response),
}

/// Writes each record's input until the stream ends.
async fn forward(
    inner: &Inner,
    container_id: &v1::ContainerId,
    records: &mut Records,
    input: &mut Input,
) -> Forwarded {
    loop {
        let call = match records.next().await {
            Ok(Some(call)) => call,
            Ok(None) => return Forwarded::Open,
            Err(answer) => return Forwarded::Refused(answer),
        };
        let io = match input_of(call).map(|i| i.process_io) {
            Ok(Some(io)) => io,
            Ok(None) => {
                return Forwarded::Refused(error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'attach_container_input.process_io' after the first record",
                ))
            }
            Err(answer) => return Forwarded::Refused(answer),
        };
        if let Some(data) = io.data {
            if data.r#type() != process_io::data::Type::Stdin {
                return Forwarded::Refused(error(
                    StatusCode::BAD_REQUEST,
                    "Expecting input data of type STDIN",
                ));
            }
            match input.write(data.data()).await {
                Ok(true) => {}
                Ok(false) => return Forwarded::Closed,
                Err(e) => {
                    tracing::debug!(container = %container_id.value, error = %e, "the session's input is gone");
                    return Forwarded::Closed;
                }
            }
        } else if let Some(control) = io.control {
            let size = control.tty_info.and_then(|t| t.window_size);
            if let Some(size) = size {
                inner.sessions.resize(container_id, size.rows, size.columns);
            }
        }
    }
}
