//! The scheduler's I/O loop (runs on the driver's tokio runtime).
//!
//! ```text
//!            +-------------------- backoff <-------------------+
//!            v                                                 |
//! detect -> SUBSCRIBE --307--> follow Location (<= 5 times)    |
//!            | 200                                             |
//!            v                                                 |
//!         streaming: events -> Session -> callbacks            |
//!                    commands -> Session -> CallSender (POSTs) |
//!            | stream closed / broken / silent too long -------+
//!            | (disconnected callback if we were subscribed)
//!            v
//!         stop: TEARDOWN (unless failover), flush calls, exit
//! ```
//!
//! Commands are served in every phase. While not subscribed, requests are
//! dropped by the [`Session`] (launches become `TASK_LOST`/`TASK_DROPPED`).
//! After an abort, events are read but not dispatched, nothing is
//! reconnected, and only a `Stop` is still honoured.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderValue, LOCATION};
use http::{HeaderMap, StatusCode};
use meseta_proto::scheduler::{call, Call, Event};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::session::{Action, Session};
use super::shared::{Command, Dispatch, Shared};
use super::{Callback, Request, SchedulerConfig};
use crate::backoff::Backoff;
use crate::codec::ContentType;
use crate::detector::{parse_location, Endpoint, MasterDetector};
use crate::error::Error;
use crate::http::{self as client, HttpClient, RecordStream, CALL_TIMEOUT, STREAM_ID_HEADER};
use crate::sender::{CallSender, Target};

/// The scheduler API path on the master.
pub(crate) const SCHEDULER_PATH: &str = "/api/v1/scheduler";
const MAX_REDIRECTS: usize = 5;
/// How long a stop waits for queued calls (TEARDOWN, acknowledgements).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

enum Flow {
    Continue,
    Exit,
}

enum StreamEnd {
    Exit,
    Disconnected {
        subscribed: bool,
        endpoint: Endpoint,
    },
}

/// How soon to ask again a master that answered `503 Service Unavailable`
/// (an elected master still recovering), and how many times in a row
/// before the normal backoff applies.
const QUICK_RETRY: Duration = Duration::from_millis(200);
const QUICK_RETRIES: u32 = 25;

/// The wait before the next SUBSCRIBE after `error`. A leader reading its
/// registry answers 503 for a moment: it is asked again soon (up to
/// [`QUICK_RETRIES`] times in a row) rather than after a backoff that grows
/// just as it becomes ready; anything else backs off.
fn retry_delay(error: &Error, quick_retries: &mut u32, backoff: &mut Backoff) -> Duration {
    let recovering = matches!(error, Error::Status { status: 503, .. });
    if recovering && *quick_retries < QUICK_RETRIES {
        *quick_retries += 1;
        QUICK_RETRY.mul_f64(0.5 + rand::random::<f64>() / 2.0)
    } else {
        backoff.next_delay()
    }
}

/// An open subscription: the `200 OK` response being streamed.
pub(crate) struct Subscription {
    pub(crate) endpoint: Endpoint,
    pub(crate) stream_id: Option<HeaderValue>,
    pub(crate) records: RecordStream,
}

/// Why a subscription attempt failed.
enum SubscribeError {
    /// Retrying cannot help (bad request, bad credentials): abort.
    Fatal(Error),
    /// Try again after a backoff; `endpoint` is the one that failed.
    Retry {
        error: Error,
        endpoint: Option<Endpoint>,
    },
}

pub(crate) struct Connection {
    shared: Arc<Shared>,
    config: SchedulerConfig,
    http: HttpClient,
    session: Session,
    commands: UnboundedReceiver<Command>,
    dispatches: mpsc::Sender<Dispatch>,
    authorization: Option<HeaderValue>,
    aborted: bool,
}

impl Connection {
    /// Must be called inside the runtime (the HTTP client spawns tasks).
    pub(crate) fn new(
        shared: Arc<Shared>,
        config: SchedulerConfig,
        commands: UnboundedReceiver<Command>,
        dispatches: mpsc::Sender<Dispatch>,
    ) -> Self {
        let authorization = config
            .credential
            .as_ref()
            .and_then(|(principal, secret)| client::basic_auth(principal, secret));
        Self {
            session: Session::new(config.framework.clone())
                .with_suppressed_roles(config.suppressed_roles.clone()),
            shared,
            config,
            http: HttpClient::new(),
            commands,
            dispatches,
            authorization,
            aborted: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut detector = match MasterDetector::new(&self.config.master) {
            Ok(detector) => detector,
            Err(e) => {
                self.fatal(format!("cannot detect the master: {e}"));
                self.park().await;
                return;
            }
        };
        let mut backoff = Backoff::new(
            self.config.reconnect_backoff_initial,
            self.config.reconnect_backoff_max,
        );
        let mut delay = Duration::ZERO;
        let mut quick_retries = 0;
        loop {
            if self.aborted {
                self.park().await;
                return;
            }
            if !delay.is_zero() {
                tracing::info!("reconnecting to the master in {delay:?}");
                if let Flow::Exit = self.wait(delay).await {
                    return;
                }
                if self.aborted {
                    continue;
                }
            }
            let Some(result) = self.subscribe(&mut detector).await else {
                if self.aborted {
                    continue;
                }
                return;
            };
            match result {
                Ok(subscription) => match self.stream(subscription).await {
                    StreamEnd::Exit => return,
                    StreamEnd::Disconnected {
                        subscribed,
                        endpoint,
                    } => {
                        if subscribed {
                            backoff.reset();
                            quick_retries = 0;
                        }
                        detector.failed(&endpoint);
                        if let Some(callback) = self.session.disconnected() {
                            self.deliver(callback, false);
                        }
                        delay = backoff.next_delay();
                    }
                },
                Err(SubscribeError::Fatal(error)) => {
                    self.fatal(format!("subscription refused: {error}"));
                }
                Err(SubscribeError::Retry { error, endpoint }) => {
                    tracing::warn!("cannot subscribe: {error}");
                    if let Some(endpoint) = endpoint {
                        detector.failed(&endpoint);
                    }
                    delay = retry_delay(&error, &mut quick_retries, &mut backoff);
                }
            }
        }
    }

    /// One subscription attempt, serving commands meanwhile. `None` when a
    /// command ended the attempt (stop, or abort: see `self.aborted`).
    async fn subscribe(
        &mut self,
        detector: &mut MasterDetector,
    ) -> Option<Result<Subscription, SubscribeError>> {
        let content_type = self.config.content_type;
        let body = content_type.encode(&self.session.subscribe_call());
        let headers = client::call_headers(content_type, self.authorization.as_ref(), None);
        let attempt = subscribe_once(self.http.clone(), detector, headers, body);
        tokio::pin!(attempt);
        loop {
            tokio::select! {
                result = &mut attempt => return Some(result),
                command = self.commands.recv() => {
                    if let Flow::Exit = self.on_command_unsubscribed(command) {
                        return None;
                    }
                    if self.aborted {
                        return None;
                    }
                }
            }
        }
    }

    /// Reads events until the stream ends or a stop.
    async fn stream(&mut self, subscription: Subscription) -> StreamEnd {
        let Subscription {
            endpoint,
            stream_id,
            mut records,
        } = subscription;
        tracing::info!("subscription stream to {endpoint} open");
        self.session.connected(&endpoint);
        let content_type = self.config.content_type;
        let dispatches = self.dispatches.clone();
        let sender = stream_sender(
            &self.http,
            &endpoint,
            stream_id.as_ref(),
            self.authorization.as_ref(),
            content_type,
            move |message| {
                let _ = dispatches.send(Dispatch {
                    callback: Callback::Error(message),
                    force: false,
                });
            },
        );
        let mut deadline = Instant::now() + self.session.liveness_timeout();
        let mut subscribed = false;
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => {
                        sender.abort();
                        return StreamEnd::Exit;
                    }
                    Some(Command::Request(request)) => self.send(request, &sender),
                    Some(Command::Stop { failover }) => {
                        if !failover && self.session.is_subscribed() {
                            match self.session.prepare(Request::Teardown, crate::unix_seconds()) {
                                Ok(call) => {
                                    tracing::info!("tearing the framework down");
                                    sender.send(call);
                                }
                                Err(_) => tracing::warn!("not subscribed; cannot tear down"),
                            }
                        }
                        sender.drain(DRAIN_TIMEOUT).await;
                        return StreamEnd::Exit;
                    }
                    Some(Command::Abort) => self.aborted = true,
                },
                record = records.next() => match record {
                    Ok(Some(bytes)) => {
                        match content_type.decode::<Event>(&bytes, "mesos.v1.scheduler.Event") {
                            Ok(event) if !self.aborted => self.apply(event),
                            Ok(_) => {}
                            Err(e) => tracing::warn!("skipping an event: {e}"),
                        }
                        subscribed |= self.session.is_subscribed();
                        deadline = Instant::now() + self.session.liveness_timeout();
                    }
                    Ok(None) => {
                        tracing::warn!("{endpoint} closed the subscription stream");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("subscription stream broke: {e}");
                        break;
                    }
                },
                () = tokio::time::sleep_until(deadline) => {
                    let error = Error::HeartbeatTimeout(self.session.liveness_timeout());
                    tracing::warn!("{endpoint}: {error}; reconnecting");
                    break;
                }
            }
        }
        sender.abort();
        StreamEnd::Disconnected {
            subscribed,
            endpoint,
        }
    }

    fn apply(&mut self, event: Event) {
        for action in self.session.handle_event(event) {
            match action {
                Action::Deliver(callback) => {
                    if let Callback::Registered { framework_id, .. } = &callback {
                        tracing::info!("registered as framework {}", framework_id.value);
                        self.shared.set_framework_id(Some(framework_id));
                    }
                    self.deliver(callback, false);
                }
                Action::Abort { message } => self.fatal(message),
            }
        }
    }

    /// Serves a command while no subscription is live.
    fn on_command_unsubscribed(&mut self, command: Option<Command>) -> Flow {
        match command {
            None | Some(Command::Stop { .. }) => Flow::Exit,
            Some(Command::Abort) => {
                self.aborted = true;
                Flow::Continue
            }
            Some(Command::Request(request)) => {
                let name = request.name();
                if let Err(callbacks) = self.session.prepare(request, crate::unix_seconds()) {
                    log_dropped(name, "not subscribed to a master");
                    for callback in callbacks {
                        self.deliver(callback, false);
                    }
                }
                Flow::Continue
            }
        }
    }

    fn send(&mut self, request: Request, sender: &CallSender<Call>) {
        let name = request.name();
        match self.session.prepare(request, crate::unix_seconds()) {
            Ok(call) => sender.send(call),
            Err(callbacks) => {
                log_dropped(name, "not subscribed yet");
                for callback in callbacks {
                    self.deliver(callback, false);
                }
            }
        }
    }

    /// Sleeps `delay`, serving commands.
    async fn wait(&mut self, delay: Duration) -> Flow {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return Flow::Continue,
                command = self.commands.recv() => {
                    if let Flow::Exit = self.on_command_unsubscribed(command) {
                        return Flow::Exit;
                    }
                    if self.aborted {
                        return Flow::Continue;
                    }
                }
            }
        }
    }

    /// Aborted and not connected: wait for the stop.
    async fn park(&mut self) {
        while let Some(command) = self.commands.recv().await {
            if let Command::Stop { .. } = command {
                return;
            }
        }
    }

    /// Aborts the driver, then reports `message` through `error`.
    fn fatal(&mut self, message: String) {
        tracing::error!("aborting the scheduler driver: {message}");
        self.aborted = true;
        if self.shared.lifecycle.abort().changed {
            self.deliver(Callback::Error(message), true);
        }
    }

    fn deliver(&self, callback: Callback, force: bool) {
        // The callback thread outlives this loop; a send error means it
        // panicked past `catch_unwind`, and there is nobody left to tell.
        let _ = self.dispatches.send(Dispatch { callback, force });
    }
}

/// `SUBSCRIBE`, following redirects to the leader.
async fn subscribe_once(
    http: HttpClient,
    detector: &mut MasterDetector,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<Subscription, SubscribeError> {
    let endpoint = detector
        .detect()
        .await
        .map_err(|error| match Error::from(error) {
            error @ (Error::UnsupportedMaster(_) | Error::InvalidAddress { .. }) => {
                SubscribeError::Fatal(error)
            }
            error => SubscribeError::Retry {
                error,
                endpoint: None,
            },
        })?;
    open_subscription(&http, detector, endpoint, &headers, &body)
        .await
        .map_err(|(error, endpoint)| match error {
            Error::Status {
                status: 400 | 401 | 403,
                ..
            } => SubscribeError::Fatal(error),
            error => SubscribeError::Retry { error, endpoint },
        })
}

/// Sends the calls of the subscription to `endpoint` with its stream ID,
/// overlapping those that commute; `rejected` hears of each refused call.
pub(crate) fn stream_sender(
    http: &HttpClient,
    endpoint: &Endpoint,
    stream_id: Option<&HeaderValue>,
    authorization: Option<&HeaderValue>,
    content_type: ContentType,
    rejected: impl Fn(String) + Send + 'static,
) -> CallSender<Call> {
    let target = Target {
        http: http.clone(),
        endpoint: endpoint.clone(),
        path: SCHEDULER_PATH,
        headers: client::call_headers(content_type, authorization, stream_id),
        content_type,
    };
    CallSender::spawn(target, call_name, commutes, rejected)
}

/// POSTs SUBSCRIBE to `endpoint`, following redirects to the leading master
/// (at most [`MAX_REDIRECTS`]): the open stream, or the error with the
/// endpoint that gave it (`None` after too many redirects). The driver and
/// the v1 library ([`super::v1_mesos`]) both subscribe through it.
pub(crate) async fn open_subscription(
    http: &HttpClient,
    detector: &mut MasterDetector,
    mut endpoint: Endpoint,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Subscription, (Error, Option<Endpoint>)> {
    for _ in 0..=MAX_REDIRECTS {
        tracing::debug!("subscribing at {endpoint}");
        let response = match tokio::time::timeout(
            CALL_TIMEOUT,
            http.post(&endpoint, SCHEDULER_PATH, headers, body.to_vec()),
        )
        .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return Err((error, Some(endpoint))),
            Err(_) => {
                let error = Error::Http {
                    endpoint: endpoint.to_string(),
                    reason: "no response to SUBSCRIBE".into(),
                };
                return Err((error, Some(endpoint)));
            }
        };
        let status = response.status();
        if status == StatusCode::OK {
            let stream_id = response.headers().get(STREAM_ID_HEADER).cloned();
            if stream_id.is_none() {
                tracing::warn!("{endpoint} sent no Mesos-Stream-Id header");
            }
            return Ok(Subscription {
                records: RecordStream::new(&endpoint, response.into_body()),
                endpoint,
                stream_id,
            });
        }
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let leader = match parse_location(&location, &endpoint) {
                Ok(leader) => leader,
                Err(e) => return Err((e.into(), Some(endpoint))),
            };
            tracing::info!("{endpoint} is not the leading master; redirected to {leader}");
            detector.redirected(&leader);
            endpoint = leader;
            continue;
        }
        let error = Error::Status {
            endpoint: endpoint.to_string(),
            status: status.as_u16(),
            body: client::body_text(response).await,
        };
        return Err((error, Some(endpoint)));
    }
    Err((Error::TooManyRedirects(MAX_REDIRECTS), None))
}

/// Logs a request the session dropped because no subscription is live.
fn log_dropped(name: &str, why: &str) {
    if name == call::Type::UpdateFramework.as_str_name() {
        // Not lost: the session keeps the update for the next SUBSCRIBE.
        tracing::info!("{why}: the updated FrameworkInfo goes with the next SUBSCRIBE");
    } else {
        tracing::warn!("dropping a {name} call: {why}");
    }
}

/// The call type's Mesos name.
/// Calls that may overtake one another: launching into, declining or
/// acknowledging distinct things. Everything else keeps its place.
fn commutes(call: &Call) -> bool {
    matches!(
        call.r#type.and_then(|t| call::Type::try_from(t).ok()),
        Some(call::Type::Accept | call::Type::Decline | call::Type::Acknowledge)
    )
}

pub(crate) fn call_name(call: &Call) -> &'static str {
    call.r#type
        .and_then(|t| call::Type::try_from(t).ok())
        .unwrap_or(call::Type::Unknown)
        .as_str_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Error {
        Error::Status {
            endpoint: "master:5050".into(),
            status: code,
            body: String::new(),
        }
    }

    #[test]
    fn a_recovering_leader_is_asked_again_soon_then_with_backoff() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut quick = 0;
        for _ in 0..QUICK_RETRIES {
            assert!(retry_delay(&status(503), &mut quick, &mut backoff) <= QUICK_RETRY);
        }
        assert_eq!(backoff.attempts(), 0, "the backoff did not grow meanwhile");
        let later = retry_delay(&status(503), &mut quick, &mut backoff);
        assert!(later >= Duration::from_millis(500), "{later:?}");
        let mut quick = 0;
        let refused = retry_delay(&status(500), &mut quick, &mut backoff);
        assert!(refused >= Duration::from_millis(500), "{refused:?}");
        assert_eq!(quick, 0);
    }
}
