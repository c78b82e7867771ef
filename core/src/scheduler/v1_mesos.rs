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
//! Callbacks run one at a time on a thread of their own, in order; none
//! runs once the library is dropped (C++ frees the framework's callbacks
//! right after).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use http::header::HeaderValue;
use meseta_proto::scheduler::{call, event, Call, Event};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::backoff::Backoff;
use crate::codec::ContentType;
use crate::detector::{Endpoint, MasterDetector};
use crate::http::{self as client, HttpClient};

use super::connection::{
    call_name, open_subscription, stream_sender, Subscription, SCHEDULER_PATH,
};

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
    /// The library is being dropped: deliver nothing more.
    Stop,
}

enum Command {
    Send(Box<Call>),
    Reconnect,
}

/// A running v1 scheduler library. Dropping it closes the connection and
/// waits for a callback in progress to return (unless dropped from a
/// callback); queued deliveries are discarded.
pub struct V1Mesos {
    commands: UnboundedSender<Command>,
    runtime: Option<tokio::runtime::Runtime>,
    stopped: Arc<AtomicBool>,
    deliveries: std_mpsc::Sender<Delivery>,
    callback_thread: Option<JoinHandle<()>>,
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
        let stopped = Arc::new(AtomicBool::new(false));
        let stop_seen = stopped.clone();
        let callback_thread = std::thread::Builder::new()
            .name("meseta-v1-cb".into())
            .spawn(move || run_callbacks(callbacks, delivered, &stop_seen))
            .map_err(|e| crate::Error::Thread(e.to_string()))?;
        let (commands, received) = unbounded_channel();
        let authorization = credential
            .as_ref()
            .and_then(|(principal, secret)| client::basic_auth(principal, secret));
        let io = Io {
            http: HttpClient::new(),
            content_type,
            authorization,
            deliveries: deliveries.clone(),
            commands: received,
        };
        runtime.spawn(io.run(detector));
        Ok(Self {
            commands,
            runtime: Some(runtime),
            stopped,
            deliveries,
            callback_thread: Some(callback_thread),
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
        self.stopped.store(true, Ordering::SeqCst);
        let _ = self.deliveries.send(Delivery::Stop);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        if let Some(thread) = self.callback_thread.take() {
            // From a callback, the callback returns after this drop.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

fn run_callbacks(
    mut callbacks: Box<dyn V1Callbacks>,
    delivered: std_mpsc::Receiver<Delivery>,
    stopped: &AtomicBool,
) {
    while let Ok(delivery) = delivered.recv() {
        if stopped.load(Ordering::SeqCst) {
            return;
        }
        match delivery {
            Delivery::Connected => callbacks.connected(),
            Delivery::Disconnected => callbacks.disconnected(),
            Delivery::Received(events) => callbacks.received(events),
            Delivery::Stop => return,
        }
    }
}

/// Why a stream (or the wait for SUBSCRIBE) ended.
enum End {
    /// The library was dropped.
    Stopped,
    /// Lost, or asked to reconnect: find the master again.
    Lost,
    /// The same after the event stream was open: the backoff starts over.
    Streamed,
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
            if !self.drop_unconnected_calls() {
                return;
            }
            if self.deliveries.send(Delivery::Connected).is_err() {
                return;
            }
            match self.connected(&mut detector, endpoint.clone()).await {
                End::Stopped => return,
                end @ (End::Lost | End::Streamed) => {
                    if let End::Streamed = end {
                        backoff.reset();
                    }
                    detector.failed(&endpoint);
                    if self.deliveries.send(Delivery::Disconnected).is_err() {
                        return;
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    /// As Mesos's library does, calls (and reconnects) made while no
    /// master was connected are dropped, not sent to the next one: the
    /// framework subscribes afresh after `connected`. False when the
    /// library was dropped.
    fn drop_unconnected_calls(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Send(call)) => tracing::warn!(
                    call = call_name(&call),
                    "dropping a call sent while disconnected from the master"
                ),
                Ok(Command::Reconnect) => {}
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => return true,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return false,
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
                    Some(subscription) => self.stream(subscription).await,
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

    /// Sends SUBSCRIBE, following redirects to the leader; the open
    /// stream. A master that refuses it is reported as an ERROR event.
    async fn subscribe(
        &self,
        detector: &mut MasterDetector,
        endpoint: Endpoint,
        call: &Call,
    ) -> Option<Subscription> {
        let headers = client::call_headers(self.content_type, self.authorization.as_ref(), None);
        let body = self.content_type.encode(call);
        match open_subscription(&self.http, detector, endpoint, &headers, &body).await {
            Ok(subscription) => Some(subscription),
            Err((error, _)) => {
                tracing::warn!("cannot subscribe: {error}");
                if let crate::Error::Status { .. } = error {
                    // The framework learns why before it is disconnected
                    // (and asked to subscribe again).
                    let refused = Event {
                        r#type: Some(event::Type::Error as i32),
                        error: Some(event::Error {
                            message: format!("SUBSCRIBE refused: {error}"),
                        }),
                        ..Default::default()
                    };
                    let _ = self.deliveries.send(Delivery::Received(vec![refused]));
                }
                None
            }
        }
    }

    /// Delivers the stream's events and sends calls with its stream ID.
    async fn stream(&mut self, subscription: Subscription) -> End {
        let Subscription {
            endpoint,
            stream_id,
            mut records,
        } = subscription;
        let sender = stream_sender(
            &self.http,
            &endpoint,
            stream_id.as_ref(),
            self.authorization.as_ref(),
            self.content_type,
            |message| tracing::warn!("the master refused a call: {message}"),
        );
        let end = loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => break End::Stopped,
                    Some(Command::Reconnect) => break End::Streamed,
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
                        break End::Streamed;
                    }
                    Err(e) => {
                        tracing::warn!("subscription stream broke: {e}");
                        break End::Streamed;
                    }
                },
            }
        };
        sender.abort();
        end
    }
}
