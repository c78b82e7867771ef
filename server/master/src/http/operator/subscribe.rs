//! SUBSCRIBE on the operator API: a RecordIO stream that starts with
//! SUBSCRIBED (the whole state) and goes on with every change, plus a
//! HEARTBEAT every [`HEARTBEAT_INTERVAL`]. The loop queues events for each
//! subscriber in a bounded queue ([`QUEUE`]); a reader that falls that far
//! behind is disconnected (it may subscribe again), so a slow reader never
//! grows the master's memory without bound.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use meseta_proto::master::Event;
use meseta_proto::media::Encoding;
use meseta_proto::recordio;
use tokio::sync::mpsc;

use crate::handle::{Command, MasterHandle};
use crate::state::operator::events;

/// How often an idle stream carries a HEARTBEAT.
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// Events queued for one subscriber before it counts as too slow.
pub(crate) const QUEUE: usize = 4096;

/// Subscribers kept at once (as in Mesos); a new one past it closes the oldest.
pub(crate) const MAX_SUBSCRIBERS: usize = 1000;

pub(super) async fn subscribe(master: MasterHandle, encoding: Encoding) -> Response {
    let (events, mut rx) = mpsc::channel::<Arc<Event>>(QUEUE);
    master.send(Command::OperatorSubscribe {
        events,
        heartbeat: HEARTBEAT_INTERVAL,
    });
    // SUBSCRIBED first; then, as Mesos does, a HEARTBEAT at once and one
    // every interval among the events.
    let Some(subscribed) = rx.recv().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down").into_response();
    };
    let heartbeats =
        tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(HEARTBEAT_INTERVAL))
            .map(|_| Some(Arc::new(events::heartbeat())));
    // The stream ends when the loop drops the queue (too slow, or stopping).
    let changes = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(Some)
        .chain(futures::stream::once(async { None }));
    let stream = futures::stream::once(async move { Some(subscribed) })
        .chain(futures::stream::select(changes, heartbeats))
        .take_while(|event| std::future::ready(event.is_some()))
        .filter_map(std::future::ready)
        .map(move |event| {
            Ok::<_, std::convert::Infallible>(Bytes::from(recordio::encode(
                &encoding.encode(event.as_ref()),
            )))
        });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.media_type()),
    );
    response
}
