//! Sending the calls of one subscription, each its own `POST` (on pooled
//! connections other than the subscription's), each expected to be
//! answered with a 2xx (`202 Accepted`, or the `200 OK` of
//! UPDATE_FRAMEWORK).
//!
//! Calls leave in the order they were made. Calls that commute with each
//! other (the sender's `independent` says which: a scheduler's ACCEPT,
//! DECLINE and ACKNOWLEDGE) may be in flight together, up to
//! [`MAX_IN_FLIGHT`]: a framework acknowledging 100,000 updates or
//! declining 10,000 offers is not held to one round trip per call. Any
//! other call waits until everything before it was answered, and nothing
//! after it leaves before it is answered, so a KILL never overtakes the
//! ACCEPT that launched its task, nor a REVIVE the DECLINE it revives.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
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

/// Calls that commute, in flight at once at most.
pub(crate) const MAX_IN_FLIGHT: usize = 32;

/// A queue of calls and the task that sends them.
pub(crate) struct CallSender<M> {
    queue: Option<UnboundedSender<M>>,
    task: JoinHandle<()>,
}

impl<M> CallSender<M>
where
    M: Message + prost::Name + Send + 'static,
{
    /// Starts the sending task. `name` names a call in logs; `independent`
    /// says whether a call commutes with the other independent ones (see
    /// the module docs); `rejected` is told (with a readable message) when
    /// the peer refuses a call.
    pub(crate) fn spawn(
        target: Target,
        name: fn(&M) -> &'static str,
        independent: fn(&M) -> bool,
        rejected: impl Fn(String) + Send + 'static,
    ) -> Self {
        let (queue, mut calls) = unbounded_channel::<M>();
        let target = Arc::new(target);
        let task = tokio::spawn(async move {
            let mut in_flight = FuturesUnordered::new();
            let send = |call: M| {
                let target = Arc::clone(&target);
                async move { send_call(&target, name(&call), &call).await }
            };
            loop {
                let call = tokio::select! {
                    call = calls.recv() => match call {
                        Some(call) => call,
                        None => break,
                    },
                    Some(answer) = in_flight.next(), if !in_flight.is_empty() => {
                        if let Some(message) = answer {
                            rejected(message);
                        }
                        continue;
                    }
                };
                let alone = !independent(&call);
                while !in_flight.is_empty() && (alone || in_flight.len() >= MAX_IN_FLIGHT) {
                    if let Some(Some(message)) = in_flight.next().await {
                        rejected(message);
                    }
                }
                if alone {
                    if let Some(message) = send(call).await {
                        rejected(message);
                    }
                } else {
                    in_flight.push(send(call));
                }
            }
            while let Some(answer) = in_flight.next().await {
                if let Some(message) = answer {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use meseta_proto::scheduler::{call, Call};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    use super::*;

    /// A scheduler call of `kind`, told apart by its framework ID.
    fn call(kind: call::Type, tag: &str) -> Call {
        Call {
            r#type: Some(kind as i32),
            framework_id: Some(meseta_proto::v1::FrameworkId { value: tag.into() }),
            ..Default::default()
        }
    }

    #[derive(Default)]
    struct Seen {
        order: Mutex<Vec<String>>,
        now: AtomicUsize,
        most: AtomicUsize,
    }

    /// An HTTP/1.1 peer that records each call's tag as it arrives and
    /// answers 202 after a pause, so that calls in flight together overlap.
    async fn serve(listener: tokio::net::TcpListener, seen: Arc<Seen>) {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut reader = BufReader::new(socket);
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(value) = lower.strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let call = Call::decode(body.as_slice()).unwrap_or_default();
                    let tag = call.framework_id.map(|id| id.value).unwrap_or_default();
                    seen.order
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(tag);
                    let now = seen.now.fetch_add(1, Ordering::SeqCst) + 1;
                    seen.most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    seen.now.fetch_sub(1, Ordering::SeqCst);
                    let answer = b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n";
                    if reader.get_mut().write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commuting_calls_overlap_and_no_other_call_overtakes_or_is_overtaken() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let seen = Arc::new(Seen::default());
        tokio::spawn(serve(listener, Arc::clone(&seen)));
        let target = Target {
            http: HttpClient::new(),
            endpoint: Endpoint::new("127.0.0.1", port),
            path: "/api/v1/scheduler",
            headers: HeaderMap::new(),
            content_type: ContentType::Protobuf,
        };
        let commutes = |c: &Call| c.r#type == Some(call::Type::Acknowledge as i32);
        let sender = CallSender::spawn(target, |_| "call", commutes, |_| {});
        for n in 0..8 {
            sender.send(call(call::Type::Acknowledge, &format!("a{n}")));
        }
        sender.send(call(call::Type::Kill, "kill"));
        for n in 0..8 {
            sender.send(call(call::Type::Acknowledge, &format!("b{n}")));
        }
        sender.drain(Duration::from_secs(20)).await;

        let order = seen.order.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(order.len(), 17, "{order:?}");
        let kill = order
            .iter()
            .position(|t| t == "kill")
            .expect("the KILL arrived");
        assert!(
            order[..kill].iter().all(|t| t.starts_with('a')),
            "{order:?}"
        );
        assert!(
            order[kill + 1..].iter().all(|t| t.starts_with('b')),
            "{order:?}"
        );
        assert!(
            seen.most.load(Ordering::SeqCst) > 1,
            "acknowledgements were never in flight together"
        );
    }
}
