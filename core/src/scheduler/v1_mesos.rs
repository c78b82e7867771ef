//! Mesos's v1 scheduler library: the framework speaks the v1 scheduler API
//! itself (it sends `Call`s and receives every `Event`), the library only
//! finds the leading master, keeps the connection and says when it is
//! made or lost. This is what Java's `V1Mesos` and C++'s
//! `mesos::v1::scheduler::Mesos` offer; unlike the driver
//! ([`super::SchedulerDriver`]) it keeps no framework state: a framework
//! subscribes again (with its ID) after each `connected`, and sees
//! INVERSE_OFFERS, UPDATE_OPERATION_STATUS and every other event as they
//! come.
//!
//! ```text
//! detect -> connected -> (SUBSCRIBE sent) -> stream: received(events)
//!    ^                                           | broken / reconnect()
//!    +------------ backoff <-- disconnected <----+
//! ```
//!
//! Callbacks run one at a time on a thread of their own, in order.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use http::header::{HeaderValue, LOCATION};
use http::StatusCode;
use meseta_proto::scheduler::{call, event, Call, Event};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::backoff::Backoff;
use crate::codec::ContentType;
use crate::detector::{parse_location, Endpoint, MasterDetector};
use crate::http::{self as client, HttpClient, RecordStream, CALL_TIMEOUT, STREAM_ID_HEADER};
use crate::sender::{CallSender, Target};

use super::connection::SCHEDULER_PATH;

const MAX_REDIRECTS: usize = 5;

/// What the library tells the framework.
pub trait V1Callbacks: Send + 'static {
    /// A leading master was found: send SUBSCRIBE now.
    fn connected(&mut self);
    /// The connection (or the subscription) was lost; `connected` follows
    /// once a master is found again.
    fn disconnected(&mut self);
    /// Events from the master, in the order it sent them.
    fn received(&mut self, events: Vec<Event>);
}

enum Delivery {
    Connected,
    Disconnected,
    Received(Vec<Event>),
}

enum Command {
    Send(Box<Call>),
    Reconnect,
}

/// A running v1 scheduler library; dropping it closes the connection.
pub struct V1Mesos {
    commands: UnboundedSender<Command>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl V1Mesos {
    /// Starts finding the master at `master` (`host:port`, `http://...`,
    /// `zk://...`), calling `callbacks` on a thread of their own.
    /// `credential` is `(principal, secret)` for HTTP basic authentication.
    pub fn start(
        master: &str,
        content_type: ContentType,
        credential: Option<(String, String)>,
        callbacks: Box<dyn V1Callbacks>,
    ) -> crate::Result<Self> {
        let detector = MasterDetector::new(master)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("meseta-v1-io")
            .enable_all()
            .build()
            .map_err(|e| crate::Error::Thread(e.to_string()))?;
        let (deliveries, delivered) = std_mpsc::channel::<Delivery>();
        std::thread::Builder::new()
            .name("meseta-v1-cb".into())
            .spawn(move || run_callbacks(callbacks, delivered))
            .map_err(|e| crate::Error::Thread(e.to_string()))?;
        let (commands, received) = unbounded_channel();
        let authorization = credential
            .as_ref()
            .and_then(|(principal, secret)| client::basic_auth(principal, secret));
        let io = Io {
            http: HttpClient::new(),
            content_type,
            authorization,
            deliveries,
            commands: received,
        };
        runtime.spawn(io.run(detector));
        Ok(Self {
            commands,
            runtime: Some(runtime),
        })
    }

    /// Sends a call to the master (SUBSCRIBE opens the event stream).
    pub fn send(&self, call: Call) {
        let _ = self.commands.send(Command::Send(Box::new(call)));
    }

    /// Drops the connection and finds the master again (`disconnected`,
    /// then `connected`).
    pub fn reconnect(&self) {
        let _ = self.commands.send(Command::Reconnect);
    }
}

impl Drop for V1Mesos {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn run_callbacks(mut callbacks: Box<dyn V1Callbacks>, delivered: std_mpsc::Receiver<Delivery>) {
    while let Ok(delivery) = delivered.recv() {
        match delivery {
            Delivery::Connected => callbacks.connected(),
            Delivery::Disconnected => callbacks.disconnected(),
            Delivery::Received(events) => callbacks.received(events),
        }
    }
}

/// Why a stream (or the wait for SUBSCRIBE) ended.
enum End {
    /// The library was dropped.
    Stopped,
    /// Lost, or asked to reconnect: find the master again.
    Lost,
}

struct Io {
    http: HttpClient,
    content_type: ContentType,
    authorization: Option<HeaderValue>,
    deliveries: std_mpsc::Sender<Delivery>,
    commands: UnboundedReceiver<Command>,
}

impl Io {
    async fn run(mut self, mut detector: MasterDetector) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        loop {
            let endpoint = match detector.detect().await {
                Ok(endpoint) => endpoint,
                Err(e) => {
                    tracing::warn!("cannot find the leading master: {e}");
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            };
            if self.deliveries.send(Delivery::Connected).is_err() {
                return;
            }
            match self.connected(&mut detector, endpoint.clone()).await {
                End::Stopped => return,
                End::Lost => {
                    detector.failed(&endpoint);
                    if self.deliveries.send(Delivery::Disconnected).is_err() {
                        return;
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    /// Connected to `endpoint`: calls wait for SUBSCRIBE, which opens the
    /// stream; others before it are sent as they are (the master answers
    /// them as it does any unsubscribed call).
    async fn connected(&mut self, detector: &mut MasterDetector, endpoint: Endpoint) -> End {
        loop {
            let call = match self.commands.recv().await {
                None => return End::Stopped,
                Some(Command::Reconnect) => return End::Lost,
                Some(Command::Send(call)) => call,
            };
            if call.r#type == Some(call::Type::Subscribe as i32) {
                return match self.subscribe(detector, endpoint.clone(), &call).await {
                    Some((endpoint, stream_id, records)) => {
                        self.stream(endpoint, stream_id, records).await
                    }
                    None => End::Lost,
                };
            }
            let headers =
                client::call_headers(self.content_type, self.authorization.as_ref(), None);
            let body = self.content_type.encode(call.as_ref());
            let http = self.http.clone();
            let at = endpoint.clone();
            tokio::spawn(async move {
                match http.post(&at, SCHEDULER_PATH, &headers, body).await {
                    Ok(response) if !response.status().is_success() => tracing::warn!(
                        "{at} refused a call sent before SUBSCRIBE: {}",
                        response.status()
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("cannot send a call to {at}: {e}"),
                }
            });
        }
    }

    /// Sends SUBSCRIBE, following redirects to the leader; the open stream.
    async fn subscribe(
        &self,
        detector: &mut MasterDetector,
        mut endpoint: Endpoint,
        call: &Call,
    ) -> Option<(Endpoint, Option<HeaderValue>, RecordStream)> {
        let headers = client::call_headers(self.content_type, self.authorization.as_ref(), None);
        let body = self.content_type.encode(call);
        for _ in 0..=MAX_REDIRECTS {
            let response = tokio::time::timeout(
                CALL_TIMEOUT,
                self.http
                    .post(&endpoint, SCHEDULER_PATH, &headers, body.clone()),
            )
            .await;
            let response = match response {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => {
                    tracing::warn!("SUBSCRIBE to {endpoint} failed: {e}");
                    return None;
                }
                Err(_) => {
                    tracing::warn!("{endpoint} did not answer SUBSCRIBE");
                    return None;
                }
            };
            let status = response.status();
            if status == StatusCode::OK {
                let stream_id = response.headers().get(STREAM_ID_HEADER).cloned();
                return Some((
                    endpoint.clone(),
                    stream_id,
                    RecordStream::new(&endpoint, response.into_body()),
                ));
            }
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                match parse_location(&location, &endpoint) {
                    Ok(leader) => {
                        detector.redirected(&leader);
                        endpoint = leader;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!("{endpoint} redirected SUBSCRIBE to {location:?}: {e}");
                        return None;
                    }
                }
            }
            let body = client::body_text(response).await;
            tracing::warn!("{endpoint} refused SUBSCRIBE: {status} {body}");
            // The framework learns why, as an ERROR event, before it is
            // disconnected (and asked to subscribe again).
            let error = Event {
                r#type: Some(event::Type::Error as i32),
                error: Some(event::Error {
                    message: format!("SUBSCRIBE refused by {endpoint}: {status} {body}"),
                }),
                ..Default::default()
            };
            let _ = self.deliveries.send(Delivery::Received(vec![error]));
            return None;
        }
        tracing::warn!("too many redirects subscribing");
        None
    }

    /// Delivers the stream's events and sends calls with its stream ID.
    async fn stream(
        &mut self,
        endpoint: Endpoint,
        stream_id: Option<HeaderValue>,
        mut records: RecordStream,
    ) -> End {
        let headers = client::call_headers(
            self.content_type,
            self.authorization.as_ref(),
            stream_id.as_ref(),
        );
        let sender = CallSender::spawn(
            Target {
                http: self.http.clone(),
                endpoint: endpoint.clone(),
                path: SCHEDULER_PATH,
                headers,
                content_type: self.content_type,
            },
            super::connection::call_name,
            super::connection::commutes,
            |message| tracing::warn!("the master refused a call: {message}"),
        );
        let end = loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => break End::Stopped,
                    Some(Command::Reconnect) => break End::Lost,
                    Some(Command::Send(call)) => sender.send(*call),
                },
                record = records.next() => match record {
                    Ok(Some(bytes)) => {
                        match self.content_type.decode::<Event>(&bytes, "mesos.v1.scheduler.Event") {
                            Ok(event) => {
                                if self.deliveries.send(Delivery::Received(vec![event])).is_err() {
                                    break End::Stopped;
                                }
                            }
                            Err(e) => tracing::warn!("skipping an event: {e}"),
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("{endpoint} closed the subscription stream");
                        break End::Lost;
                    }
                    Err(e) => {
                        tracing::warn!("subscription stream broke: {e}");
                        break End::Lost;
                    }
                },
            }
        };
        sender.abort();
        end
    }
}
