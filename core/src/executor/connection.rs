//! The executor's I/O loop (runs on the driver's tokio runtime).
//!
//! ```text
//! SUBSCRIBE (with unacknowledged updates and tasks)
//!    | 200                         | refused / unreachable
//!    v                             v
//! streaming --closed/broken--> Reconnect::after_failure --> retry after backoff
//!    |                                                  \-> give up: shutdown + abort
//!    +--stop--> flush queued calls, exit
//! ```

use std::sync::{mpsc, Arc};
use std::time::Duration;

use http::header::HeaderValue;
use http::{HeaderMap, StatusCode};
use meseta_proto::executor::{call, Call, Event};
use tokio::sync::mpsc::UnboundedReceiver;

use super::session::{Action, Decision, Reconnect, Session};
use super::shared::{Command, Dispatch, Shared};
use super::{Callback, ExecutorConfig};
use crate::error::{Error, Result};
use crate::http::{self as client, HttpClient, RecordStream, CALL_TIMEOUT};
use crate::sender::{CallSender, Target};

/// The executor API path on the agent.
pub(crate) const EXECUTOR_PATH: &str = "/api/v1/executor";
/// How long a stop waits for queued calls (final status updates).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

enum Flow {
    Continue,
    Exit,
}

enum SubscribeError {
    Fatal(Error),
    Retry(Error),
}

pub(crate) struct Connection {
    shared: Arc<Shared>,
    commands: UnboundedReceiver<Command>,
    dispatches: mpsc::Sender<Dispatch>,
}

impl Connection {
    pub(crate) fn new(
        shared: Arc<Shared>,
        commands: UnboundedReceiver<Command>,
        dispatches: mpsc::Sender<Dispatch>,
    ) -> Self {
        Self {
            shared,
            commands,
            dispatches,
        }
    }

    /// Must run inside the runtime.
    pub(crate) async fn run(self, config: Result<ExecutorConfig>) {
        match config {
            Ok(config) => Link::new(self, config).run().await,
            Err(e) => {
                let message = format!("cannot start the executor driver: {e}");
                tracing::error!("{message}");
                if self.shared.lifecycle.abort().changed {
                    let _ = self.dispatches.send(Dispatch {
                        callback: Callback::Error(message),
                        force: true,
                    });
                }
            }
        }
    }
}

/// The loop once configured.
struct Link {
    shared: Arc<Shared>,
    commands: UnboundedReceiver<Command>,
    dispatches: mpsc::Sender<Dispatch>,
    config: ExecutorConfig,
    http: HttpClient,
    session: Session,
    reconnect: Reconnect,
    authorization: Option<HeaderValue>,
}

impl Link {
    fn new(connection: Connection, config: ExecutorConfig) -> Self {
        let authorization = config
            .authentication_token
            .as_deref()
            .and_then(client::bearer_auth);
        Self {
            shared: connection.shared,
            commands: connection.commands,
            dispatches: connection.dispatches,
            http: HttpClient::new(),
            session: Session::new(config.framework_id.clone(), config.executor_id.clone()),
            reconnect: Reconnect::new(
                config.checkpoint,
                config.recovery_timeout,
                config.subscription_backoff_max,
            ),
            authorization,
            config,
        }
    }

    async fn run(mut self) {
        loop {
            let Some(result) = self.subscribe().await else {
                return;
            };
            match result {
                Ok(records) => match self.stream(records).await {
                    Flow::Exit => return,
                    Flow::Continue => {
                        if let Some(callback) = self.session.disconnected() {
                            self.deliver(callback, false);
                        }
                    }
                },
                Err(SubscribeError::Fatal(error)) => {
                    self.fatal(format!("subscription refused: {error}"));
                    return;
                }
                Err(SubscribeError::Retry(error)) => {
                    tracing::warn!("cannot subscribe: {error}");
                }
            }
            let decision = self
                .reconnect
                .after_failure(std::time::Instant::now(), rand::random::<f64>());
            match decision {
                Decision::RetryAfter(delay) => {
                    tracing::info!("resubscribing to the agent in {delay:?}");
                    if let Flow::Exit = self.wait(delay).await {
                        return;
                    }
                }
                Decision::GiveUp => {
                    let why = if self.config.checkpoint {
                        "the agent did not come back within the recovery timeout"
                    } else {
                        "lost the agent and the framework does not checkpoint"
                    };
                    tracing::error!("{why}; shutting the executor down");
                    if self.shared.lifecycle.abort().changed {
                        self.deliver(Callback::Shutdown, true);
                    }
                    return;
                }
            }
        }
    }

    /// One attempt, serving commands meanwhile; `None` on stop or abort.
    async fn subscribe(&mut self) -> Option<Result<RecordStream, SubscribeError>> {
        let content_type = self.config.content_type;
        let body = content_type.encode(&self.session.subscribe_call());
        let headers = client::call_headers(content_type, self.authorization.as_ref(), None);
        let attempt = subscribe_once(
            self.http.clone(),
            self.config.agent_endpoint.clone(),
            headers,
            body,
        );
        tokio::pin!(attempt);
        loop {
            tokio::select! {
                result = &mut attempt => return Some(result),
                command = self.commands.recv() => {
                    if let Flow::Exit = self.on_command(command, None) {
                        return None;
                    }
                }
            }
        }
    }

    async fn stream(&mut self, mut records: RecordStream) -> Flow {
        let endpoint = self.config.agent_endpoint.clone();
        tracing::info!("subscription stream to agent {endpoint} open");
        self.session.connected();
        let content_type = self.config.content_type;
        let dispatches = self.dispatches.clone();
        let target = Target {
            http: self.http.clone(),
            endpoint: endpoint.clone(),
            path: EXECUTOR_PATH,
            headers: client::call_headers(content_type, self.authorization.as_ref(), None),
            content_type,
        };
        // An executor's updates of one task must arrive in order: no call
        // overtakes another.
        let sender = CallSender::spawn(
            target,
            call_name,
            |_| false,
            move |message| {
                let _ = dispatches.send(Dispatch {
                    callback: Callback::Error(message),
                    force: false,
                });
            },
        );
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Stop) => {
                        sender.drain(DRAIN_TIMEOUT).await;
                        return Flow::Exit;
                    }
                    command => {
                        if let Flow::Exit = self.on_command(command, Some(&sender)) {
                            sender.abort();
                            return Flow::Exit;
                        }
                    }
                },
                record = records.next() => match record {
                    Ok(Some(bytes)) => {
                        match content_type.decode::<Event>(&bytes, "mesos.v1.executor.Event") {
                            Ok(event) => {
                                if let Flow::Exit = self.apply(event, &sender) {
                                    sender.abort();
                                    return Flow::Exit;
                                }
                            }
                            Err(e) => tracing::warn!("skipping an event: {e}"),
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("agent {endpoint} closed the subscription stream");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("subscription stream broke: {e}");
                        break;
                    }
                },
            }
        }
        sender.abort();
        Flow::Continue
    }

    fn apply(&mut self, event: Event, sender: &CallSender<Call>) -> Flow {
        for action in self.session.handle_event(event) {
            match action {
                Action::Deliver(callback) => {
                    if matches!(
                        callback,
                        Callback::Registered { .. } | Callback::Reregistered { .. }
                    ) {
                        tracing::info!("subscribed to agent {}", self.config.agent_endpoint);
                        self.reconnect.subscribed();
                    }
                    self.deliver(callback, false);
                }
                Action::Send(call) => sender.send(call),
                Action::Shutdown => {
                    tracing::info!("the agent asked the executor to shut down");
                    self.deliver(Callback::Shutdown, false);
                }
                Action::Abort { message } => {
                    self.fatal(message);
                    return Flow::Exit;
                }
            }
        }
        Flow::Continue
    }

    /// Serves a command; `sender` is `Some` while a stream is open.
    fn on_command(&mut self, command: Option<Command>, sender: Option<&CallSender<Call>>) -> Flow {
        match command {
            None | Some(Command::Stop) | Some(Command::Abort) => Flow::Exit,
            Some(Command::Update(status)) => {
                let uuid = *uuid::Uuid::new_v4().as_bytes();
                match self.session.update(status, uuid, crate::unix_seconds()) {
                    Ok(Some(call)) => match sender {
                        Some(sender) => sender.send(call),
                        None => tracing::debug!("update kept for the next subscription"),
                    },
                    Ok(None) => tracing::debug!("update kept until subscribed"),
                    Err(message) => {
                        self.fatal(message);
                        return Flow::Exit;
                    }
                }
                Flow::Continue
            }
            Some(Command::Message(data)) => {
                match sender {
                    Some(sender) if self.session.is_subscribed() => {
                        sender.send(self.session.message_call(data))
                    }
                    _ => tracing::warn!("dropping a framework message: not subscribed"),
                }
                Flow::Continue
            }
        }
    }

    async fn wait(&mut self, delay: Duration) -> Flow {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return Flow::Continue,
                command = self.commands.recv() => {
                    if let Flow::Exit = self.on_command(command, None) {
                        return Flow::Exit;
                    }
                }
            }
        }
    }

    fn fatal(&self, message: String) {
        tracing::error!("aborting the executor driver: {message}");
        if self.shared.lifecycle.abort().changed {
            self.deliver(Callback::Error(message), true);
        }
    }

    fn deliver(&self, callback: Callback, force: bool) {
        let _ = self.dispatches.send(Dispatch { callback, force });
    }
}

fn call_name(call: &Call) -> &'static str {
    call.r#type
        .and_then(|t| call::Type::try_from(t).ok())
        .unwrap_or(call::Type::Unknown)
        .as_str_name()
}

async fn subscribe_once(
    http: HttpClient,
    endpoint: crate::detector::Endpoint,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<RecordStream, SubscribeError> {
    let response = tokio::time::timeout(
        CALL_TIMEOUT,
        http.post(&endpoint, EXECUTOR_PATH, &headers, body),
    )
    .await
    .map_err(|_| {
        SubscribeError::Retry(Error::Http {
            endpoint: endpoint.to_string(),
            reason: "no response to SUBSCRIBE".into(),
        })
    })?
    .map_err(SubscribeError::Retry)?;
    let status = response.status();
    if status == StatusCode::OK {
        return Ok(RecordStream::new(&endpoint, response.into_body()));
    }
    let error = Error::Status {
        endpoint: endpoint.to_string(),
        status: status.as_u16(),
        body: client::body_text(response).await,
    };
    Err(match status {
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            SubscribeError::Fatal(error)
        }
        _ => SubscribeError::Retry(error),
    })
}
