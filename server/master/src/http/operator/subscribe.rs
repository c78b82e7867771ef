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
use tokio::sync::{mpsc, oneshot};

use crate::handle::{Command, MasterHandle};
use crate::state::operator::events;

/// How often an idle stream carries a HEARTBEAT.
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// Events queued for one subscriber before it counts as too slow.
pub(crate) const QUEUE: usize = 4096;

/// Subscribers kept at once (as in Mesos); a new one past it closes the oldest.
pub(crate) const MAX_SUBSCRIBERS: usize = 1000;

pub(super) async fn subscribe(master: MasterHandle, encoding: Encoding) -> Response {
    let (events, rx) = mpsc::channel::<Arc<Event>>(QUEUE);
    let (state, snapshot) = oneshot::channel();
    master
        .send(Command::OperatorSubscribe { state, events })
        .await;
    let Ok(mut snapshot) = snapshot.await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down").into_response();
    };
    // SUBSCRIBED (built and encoded on the rendering thread, while the
    // changes after it queue); then, as Mesos does, a HEARTBEAT at once and
    // one every interval among the events.
    let subscribed = master
        .snapshots
        .render(move || {
            snapshot.sort();
            recordio::encode(&encoding.encode(&events::subscribed(&snapshot, HEARTBEAT_INTERVAL)))
        })
        .await;
    let Some(subscribed) = subscribed else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the state could not be rendered; see the master's log",
        )
            .into_response();
    };
    let heartbeats =
        tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(HEARTBEAT_INTERVAL))
            .map(|_| Some(Arc::new(events::heartbeat())));
    // The stream ends when the loop drops the queue (too slow, or stopping).
    let changes = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(Some)
        .chain(futures::stream::once(async { None }));
    let first = futures::stream::once(async move { Ok(Bytes::from(subscribed)) });
    let stream = first.chain(
        futures::stream::select(changes, heartbeats)
            .take_while(|event| std::future::ready(event.is_some()))
            .filter_map(std::future::ready)
            .map(move |event| {
                Ok::<_, std::convert::Infallible>(Bytes::from(recordio::encode(
                    &encoding.encode(event.as_ref()),
                )))
            }),
    );
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.media_type()),
    );
    response
}

/// Queues `event` for every subscriber; one whose queue is full (a reader
/// [`QUEUE`] events behind) or gone is dropped, which ends its stream.
pub(crate) fn fan_out(subscribers: &mut Vec<mpsc::Sender<Arc<Event>>>, event: Arc<Event>) {
    subscribers.retain(|tx| match tx.try_send(Arc::clone(&event)) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(
                queued = QUEUE,
                "an operator API subscriber reads too slowly; disconnected"
            );
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_too_far_behind_is_dropped_and_the_others_kept() {
        let (slow, _slow_reader) = mpsc::channel(QUEUE);
        let (quick, mut quick_reader) = mpsc::channel(QUEUE);
        let (gone, gone_reader) = mpsc::channel(QUEUE);
        drop(gone_reader);
        let mut subscribers = vec![slow, quick, gone];
        let event = Arc::new(events::heartbeat());
        for _ in 0..QUEUE {
            fan_out(&mut subscribers, Arc::clone(&event));
            // The quick one reads as events come.
            assert!(quick_reader.try_recv().is_ok());
        }
        assert_eq!(subscribers.len(), 2, "the closed one went at once");
        // The slow one has QUEUE events waiting: one more and it is dropped.
        fan_out(&mut subscribers, Arc::clone(&event));
        assert_eq!(subscribers.len(), 1);
        assert!(quick_reader.try_recv().is_ok(), "the quick one still hears");
    }
}
