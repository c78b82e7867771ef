//! The scheduler driver: a framework's connection to the master over the v1
//! scheduler HTTP API (`/api/v1/scheduler`).
//!
//! A framework implements [`Scheduler`] and hands it to a
//! [`SchedulerDriver`]. The driver subscribes, keeps the event stream open,
//! turns events into callbacks, and turns driver method calls into HTTP
//! calls carrying the `Mesos-Stream-Id` of the subscription.
//!
//! Pieces, from the wire inwards:
//!
//! * `connection` (private): the I/O thread's loop. Detect the master,
//!   `SUBSCRIBE` (following `307` redirects to the leader), read RecordIO
//!   events, send calls one after another on a second connection, notice a
//!   dead stream (no event for two heartbeat intervals plus slack), report
//!   `disconnected`, back off (capped, jittered) and subscribe again with the
//!   framework ID.
//! * [`Session`]: the protocol state machine, free of I/O and unit-tested:
//!   what an event means (which callback), what a request becomes (which
//!   call), what a dropped call stands for.
//! * [`calls`]: building `Call` messages.
//! * `driver`: the public handle, status transitions, the callback thread.
//!
//! Calls are not queued across disconnections: a call made while no
//! subscription is live is dropped (tasks it would have launched come back
//! as `TASK_LOST`, or `TASK_DROPPED` for partition-aware frameworks), as in
//! Mesos. The exception is [`SchedulerDriver::update_framework`]: the new
//! `FrameworkInfo` and suppressed roles replace the session's at once, so
//! the next SUBSCRIBE carries them even if the `UPDATE_FRAMEWORK` call
//! itself could not be sent. Status updates are acknowledged after
//! `status_update` returns when
//! [`SchedulerConfig::implicit_acknowledgements`] is on (the default).

pub mod calls;
mod connection;
mod driver;
mod session;
mod shared;
pub mod v1_mesos;

use std::fmt;
use std::time::Duration;

use meseta_proto::v1;

pub use calls::Request;
pub use driver::SchedulerDriver;
pub use session::{is_terminal, Action, Session, DEFAULT_HEARTBEAT_INTERVAL, LIVENESS_SLACK};

use crate::codec::ContentType;

/// A framework's scheduler: the callbacks a [`SchedulerDriver`] invokes.
///
/// Callbacks run one at a time, in event order, on the driver's callback
/// thread. They may call any driver method (those only enqueue) except
/// [`SchedulerDriver::join`]/[`SchedulerDriver::run`]. A callback that
/// panics aborts the driver. Every method has an empty default body.
#[allow(unused_variables)]
pub trait Scheduler: Send + 'static {
    /// Subscribed for the first time; `framework_id` is the framework's ID.
    fn registered(
        &mut self,
        driver: &SchedulerDriver,
        framework_id: &v1::FrameworkId,
        master: &v1::MasterInfo,
    ) {
    }

    /// Subscribed again after a disconnection (same framework ID).
    fn reregistered(&mut self, driver: &SchedulerDriver, master: &v1::MasterInfo) {}

    /// The subscription broke; the driver is reconnecting.
    fn disconnected(&mut self, driver: &SchedulerDriver) {}

    /// New offers.
    fn resource_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::Offer]) {}

    /// An offer is no longer valid (agent lost, another framework used it,
    /// offer timeout, ...).
    fn offer_rescinded(&mut self, driver: &SchedulerDriver, offer_id: &v1::OfferId) {}

    /// The master asks for agents back (maintenance is scheduled on their
    /// machines): answer with
    /// [`SchedulerDriver::accept_inverse_offers`] or
    /// [`SchedulerDriver::decline_inverse_offers`].
    fn inverse_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::InverseOffer]) {}

    /// An inverse offer is withdrawn (its machine left the schedule or went
    /// down).
    fn inverse_offer_rescinded(&mut self, driver: &SchedulerDriver, offer_id: &v1::OfferId) {}

    /// A task changed state. With implicit acknowledgements the driver
    /// acknowledges it once this returns.
    fn status_update(&mut self, driver: &SchedulerDriver, status: &v1::TaskStatus) {}

    /// An executor sent a message.
    fn framework_message(
        &mut self,
        driver: &SchedulerDriver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        data: &[u8],
    ) {
    }

    /// An agent was lost (Mesos's name, kept for the bindings).
    fn slave_lost(&mut self, driver: &SchedulerDriver, agent_id: &v1::AgentId) {}

    /// An executor ended; `status` is its wait status (`-1` when unknown).
    fn executor_lost(
        &mut self,
        driver: &SchedulerDriver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        status: i32,
    ) {
    }

    /// A call was rejected (driver still running), or an unrecoverable error
    /// happened (the driver is aborted before this is called).
    fn error(&mut self, driver: &SchedulerDriver, message: &str) {}
}

/// One callback invocation, as produced by a [`Session`] (one variant per
/// [`Scheduler`] method).
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// [`Scheduler::registered`].
    Registered {
        /// Assigned (or confirmed) framework ID.
        framework_id: v1::FrameworkId,
        /// The leading master.
        master: v1::MasterInfo,
    },
    /// [`Scheduler::reregistered`].
    Reregistered {
        /// The leading master.
        master: v1::MasterInfo,
    },
    /// [`Scheduler::disconnected`].
    Disconnected,
    /// [`Scheduler::resource_offers`].
    ResourceOffers(Vec<v1::Offer>),
    /// [`Scheduler::offer_rescinded`].
    OfferRescinded(v1::OfferId),
    /// [`Scheduler::inverse_offers`].
    InverseOffers(Vec<v1::InverseOffer>),
    /// [`Scheduler::inverse_offer_rescinded`].
    InverseOfferRescinded(v1::OfferId),
    /// [`Scheduler::status_update`].
    StatusUpdate(v1::TaskStatus),
    /// [`Scheduler::framework_message`].
    FrameworkMessage {
        /// Sender.
        executor_id: v1::ExecutorId,
        /// Its agent.
        agent_id: v1::AgentId,
        /// Payload.
        data: Vec<u8>,
    },
    /// [`Scheduler::slave_lost`].
    AgentLost(v1::AgentId),
    /// [`Scheduler::executor_lost`].
    ExecutorLost {
        /// The executor.
        executor_id: v1::ExecutorId,
        /// Its agent (empty when the master did not say).
        agent_id: v1::AgentId,
        /// Wait status, `-1` when unknown.
        status: i32,
    },
    /// [`Scheduler::error`].
    Error(String),
}

impl Callback {
    /// Calls the matching [`Scheduler`] method.
    pub fn invoke(&self, scheduler: &mut dyn Scheduler, driver: &SchedulerDriver) {
        match self {
            Self::Registered {
                framework_id,
                master,
            } => scheduler.registered(driver, framework_id, master),
            Self::Reregistered { master } => scheduler.reregistered(driver, master),
            Self::Disconnected => scheduler.disconnected(driver),
            Self::ResourceOffers(offers) => scheduler.resource_offers(driver, offers),
            Self::OfferRescinded(offer_id) => scheduler.offer_rescinded(driver, offer_id),
            Self::InverseOffers(offers) => scheduler.inverse_offers(driver, offers),
            Self::InverseOfferRescinded(offer_id) => {
                scheduler.inverse_offer_rescinded(driver, offer_id)
            }
            Self::StatusUpdate(status) => scheduler.status_update(driver, status),
            Self::FrameworkMessage {
                executor_id,
                agent_id,
                data,
            } => scheduler.framework_message(driver, executor_id, agent_id, data),
            Self::AgentLost(agent_id) => scheduler.slave_lost(driver, agent_id),
            Self::ExecutorLost {
                executor_id,
                agent_id,
                status,
            } => scheduler.executor_lost(driver, executor_id, agent_id, *status),
            Self::Error(message) => scheduler.error(driver, message),
        }
    }
}

/// How a [`SchedulerDriver`] connects.
#[derive(Clone)]
pub struct SchedulerConfig {
    /// Master address: `HOST:PORT`, `http://HOST:PORT`, `file:///path`
    /// (see [`crate::detector`]).
    pub master: String,
    /// The framework. Set `id` to fail over from an earlier instance.
    pub framework: v1::FrameworkInfo,
    /// Roles (of `framework`'s roles) that start suppressed: SUBSCRIBE's
    /// `suppressed_roles` (default none). Replaced by
    /// [`SchedulerDriver::update_framework`].
    pub suppressed_roles: Vec<String>,
    /// Acknowledge each status update after `status_update` returns
    /// (default `true`). When `false`, call
    /// [`SchedulerDriver::acknowledge_status_update`].
    pub implicit_acknowledgements: bool,
    /// Encoding of calls and events (default protobuf).
    pub content_type: ContentType,
    /// `(principal, secret)` for HTTP basic authentication. The principal
    /// also fills `framework.principal` when that is unset.
    pub credential: Option<(String, String)>,
    /// First reconnection delay (default 1 s); doubles per failed attempt.
    pub reconnect_backoff_initial: Duration,
    /// Longest reconnection delay (default 30 s).
    pub reconnect_backoff_max: Duration,
}

impl SchedulerConfig {
    /// Defaults for everything but the master and the framework.
    pub fn new(master: impl Into<String>, framework: v1::FrameworkInfo) -> Self {
        Self {
            master: master.into(),
            framework,
            suppressed_roles: Vec::new(),
            implicit_acknowledgements: true,
            content_type: ContentType::Protobuf,
            credential: None,
            reconnect_backoff_initial: Duration::from_secs(1),
            reconnect_backoff_max: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for SchedulerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerConfig")
            .field("master", &self.master)
            .field("framework", &self.framework)
            .field("suppressed_roles", &self.suppressed_roles)
            .field("implicit_acknowledgements", &self.implicit_acknowledgements)
            .field("content_type", &self.content_type)
            .field(
                "credential",
                &self
                    .credential
                    .as_ref()
                    .map(|(principal, _)| (principal, "<secret>")),
            )
            .field("reconnect_backoff_initial", &self.reconnect_backoff_initial)
            .field("reconnect_backoff_max", &self.reconnect_backoff_max)
            .finish()
    }
}
