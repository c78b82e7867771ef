//! `POST /api/v1/scheduler`: decode the call (protobuf or JSON), hand it to
//! the driver loop, and answer as Mesos does: 200 with a RecordIO event
//! stream for SUBSCRIBE, 200 for UPDATE_FRAMEWORK (once the update is
//! applied and persisted), 202 for every other accepted call, 4xx with a
//! readable message otherwise.

// Parsing helpers return the finished error `Response` on a cold path; boxing
// it would only add noise to every handler.
#![allow(clippy::result_large_err)]

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use meseta_proto::media::{self, Encoding};
use meseta_proto::recordio;
use meseta_proto::scheduler::{call, Call, Event};
use tokio::sync::{mpsc, oneshot};

use crate::handle::{Command, MasterHandle};
use crate::state::{CallError, ConnId};

use super::{media_error, text_error as error};

fn call_error(err: CallError) -> Response {
    match err {
        CallError::BadRequest(m) => error(StatusCode::BAD_REQUEST, m),
        CallError::Forbidden(m) => error(StatusCode::FORBIDDEN, m),
        CallError::NotImplemented(m) => error(StatusCode::NOT_IMPLEMENTED, m),
        CallError::Unavailable(m) => error(StatusCode::SERVICE_UNAVAILABLE, m),
        CallError::Conflict(m) => error(StatusCode::CONFLICT, m),
    }
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn content_encoding(headers: &HeaderMap) -> Result<Encoding, Response> {
    media::content_type(header(headers, header::CONTENT_TYPE)).map_err(media_error)
}

/// The encoding the client accepts for the event stream.
fn accepted_encoding(headers: &HeaderMap, default: Encoding) -> Result<Encoding, Response> {
    media::accept(header(headers, header::ACCEPT), default).map_err(media_error)
}

pub(super) async fn handle(
    State(master): State<MasterHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/api/v1/scheduler") {
        return answer;
    }
    let encoding = match content_encoding(&headers) {
        Ok(e) => e,
        Err(response) => return response,
    };
    let call: Call = match media::decode(encoding, &body) {
        Ok(call) => call,
        Err(e) => return media_error(e),
    };
    let stream_id = headers
        .get("Mesos-Stream-Id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if call.r#type == Some(call::Type::Subscribe as i32) {
        if stream_id.is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                "Subscribe calls should not include the 'Mesos-Stream-Id' header",
            );
        }
        let accepted = match accepted_encoding(&headers, encoding) {
            Ok(e) => e,
            Err(response) => return response,
        };
        return subscribe(master, call, accepted).await;
    }
    let Some(stream_id) = stream_id else {
        return error(
            StatusCode::BAD_REQUEST,
            "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
        );
    };
    let accepted = accepted_status(&call);
    let (reply, result) = oneshot::channel();
    master
        .send(Command::Call {
            call: Box::new(call),
            stream_id,
            reply,
        })
        .await;
    match result.await {
        Ok(Ok(())) => accepted.into_response(),
        Ok(Err(err)) => call_error(err),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down"),
    }
}

/// The status of an accepted non-SUBSCRIBE call: Mesos answers
/// UPDATE_FRAMEWORK with `200 OK` (the update is applied, not only queued)
/// and everything else with `202 Accepted`.
fn accepted_status(call: &Call) -> StatusCode {
    if call.r#type == Some(call::Type::UpdateFramework as i32) {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    }
}

async fn subscribe(master: MasterHandle, call: Call, encoding: Encoding) -> Response {
    let conn = master.next_id();
    let (events, rx) = mpsc::channel(crate::outputs::FRAMEWORK_QUEUE);
    let (reply, result) = oneshot::channel();
    master
        .send(Command::Subscribe {
            call: Box::new(call),
            conn,
            events,
            reply,
        })
        .await;
    let (stream_id, framework_id) = match result.await {
        Ok(Ok(ids)) => ids,
        Ok(Err(err)) => return call_error(err),
        Err(_) => return error(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down"),
    };
    tracing::debug!(framework_id, conn, ?encoding, "subscription stream open");
    let stream = EventStream {
        events: rx,
        encoding,
        guard: DisconnectGuard { master, conn },
    };
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.media_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&stream_id) {
        headers.insert("Mesos-Stream-Id", value);
    }
    response
}

/// Tells the loop the stream is gone when the response body is dropped
/// (client disconnected, or the master closed the stream).
struct DisconnectGuard {
    master: MasterHandle,
    conn: ConnId,
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        self.master
            .send_soon(Command::FrameworkGone { conn: self.conn });
    }
}

/// Bytes of events written to a framework's stream in one chunk, at most
/// (one event may be larger).
const BATCH: usize = 64 * 1024;

struct EventStream {
    events: mpsc::Receiver<Box<Event>>,
    encoding: Encoding,
    #[allow(dead_code)]
    guard: DisconnectGuard,
}

impl Stream for EventStream {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Whatever is queued goes out in one chunk (up to `BATCH` bytes):
        // a burst of updates is not written one small chunk at a time.
        let mut next = match self.events.poll_recv(cx) {
            Poll::Ready(Some(event)) => Some(event),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        let mut chunk = Vec::new();
        while let Some(event) = next {
            recordio::append(&mut chunk, &self.encoding.encode(event.as_ref()));
            next = if chunk.len() < BATCH {
                self.events.try_recv().ok()
            } else {
                None
            };
        }
        Poll::Ready(Some(Ok(Bytes::from(chunk))))
    }
}
