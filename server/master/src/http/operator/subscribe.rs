//! SUBSCRIBE on the operator API: a RecordIO stream that starts with
//! SUBSCRIBED (the whole state) and goes on with every change, plus a
//! HEARTBEAT every [`HEARTBEAT_INTERVAL`]. The loop queues events for each
//! subscriber in a bounded queue ([`QUEUE`]); a reader that falls that far
//! behind is disconnected (it may subscribe again), so a slow reader never
//! grows the master's memory without bound.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
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

pub(super) async fn subscribe(master: MasterHandle, encoding: Encoding) -> Response {
    let (events, rx) = mpsc::channel::<Arc<Event>>(QUEUE);
    master.send(Command::OperatorSubscribe {
        events,
        heartbeat: HEARTBEAT_INTERVAL,
    });
    let events = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut ticks = tokio::time::interval(HEARTBEAT_INTERVAL);
    ticks.reset();
    let heartbeats =
        tokio_stream::wrappers::IntervalStream::new(ticks).map(|_| Arc::new(events::heartbeat()));
    // The stream ends when the loop drops the queue (too slow, or stopping).
    let stream = futures::stream::select(
        events
            .map(Some)
            .chain(futures::stream::once(async { None })),
        heartbeats.map(Some),
    )
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
