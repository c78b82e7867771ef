//! Sending the calls of one subscription: in order, one at a time, each its
//! own `POST` (on a pooled connection other than the subscription's), each
//! expected to be answered with a 2xx (`202 Accepted`, or the `200 OK` of
//! UPDATE_FRAMEWORK).

use std::time::Duration;

use http::HeaderMap;
use meseta_proto::Message;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinHandle;

use crate::codec::ContentType;
use crate::detector::Endpoint;
use crate::http::{self as client, HttpClient, CALL_TIMEOUT};

/// Where and how calls go.
pub(crate) struct Target {
    pub(crate) http: HttpClient,
    pub(crate) endpoint: Endpoint,
    pub(crate) path: &'static str,
    pub(crate) headers: HeaderMap,
    pub(crate) content_type: ContentType,
}

/// A queue of calls and the task that sends them.
pub(crate) struct CallSender<M> {
    queue: Option<UnboundedSender<M>>,
    task: JoinHandle<()>,
}

impl<M> CallSender<M>
where
    M: Message + prost::Name + Send + 'static,
{
    /// Starts the sending task. `name` names a call in logs; `rejected` is
    /// told (with a readable message) when the peer refuses a call.
    pub(crate) fn spawn(
        target: Target,
        name: fn(&M) -> &'static str,
        rejected: impl Fn(String) + Send + 'static,
    ) -> Self {
        let (queue, mut calls) = unbounded_channel::<M>();
        let task = tokio::spawn(async move {
            while let Some(call) = calls.recv().await {
                if let Some(message) = send_call(&target, name(&call), &call).await {
                    rejected(message);
                }
            }
        });
        Self {
            queue: Some(queue),
            task,
        }
    }

    pub(crate) fn send(&self, call: M) {
        if let Some(queue) = &self.queue {
            let _ = queue.send(call);
        }
    }

    /// Sends what is queued (bounded by `timeout`), then ends.
    pub(crate) async fn drain(mut self, timeout: Duration) {
        self.queue = None;
        if tokio::time::timeout(timeout, &mut self.task).await.is_err() {
            tracing::warn!("gave up flushing calls after {timeout:?}");
            self.task.abort();
        }
    }

    /// Drops whatever is queued or in flight.
    pub(crate) fn abort(self) {
        self.task.abort();
    }
}

/// POSTs one call; returns a message for the `error` callback when the peer
/// rejects it. Transport errors are only logged: the subscription stream
/// notices a dead peer by itself.
async fn send_call<M: Message + prost::Name>(
    target: &Target,
    name: &str,
    call: &M,
) -> Option<String> {
    let endpoint = &target.endpoint;
    tracing::debug!("sending {name} to {endpoint}");
    let body = target.content_type.encode(call);
    let sent = tokio::time::timeout(
        CALL_TIMEOUT,
        target
            .http
            .post(endpoint, target.path, &target.headers, body),
    )
    .await;
    match sent {
        Err(_) => {
            tracing::warn!("{name} call to {endpoint} timed out");
            None
        }
        Ok(Err(e)) => {
            tracing::warn!("{name} call failed: {e}");
            None
        }
        Ok(Ok(response)) if response.status().is_success() => {
            // Read the (empty) body so the connection goes back to the pool.
            let _ = client::body_text(response).await;
            None
        }
        Ok(Ok(response)) => {
            let status = response.status();
            let body = client::body_text(response).await;
            let message = format!("{endpoint} rejected the {name} call: {status}: {body}");
            tracing::warn!("{message}");
            Some(message)
        }
    }
}
