//! What the scheduler driver's handle, its I/O thread and its callback
//! thread share (see [`super::driver`]): the commands the handle queues,
//! the callbacks the I/O side dispatches, and the state behind both. Its
//! own module, so that the driver and the connection both use it without
//! using each other.

use std::sync::{Mutex, PoisonError};

use meseta_proto::v1;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::calls::Request;
use super::{Callback, Scheduler, SchedulerConfig};
use crate::status::Lifecycle;

/// A callback for the callback thread.
pub(crate) type Dispatch = crate::threads::Dispatch<Callback>;

/// What the handle asks of the I/O thread.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send a call (when subscribed).
    Request(Request),
    /// Stop: `TEARDOWN` first unless `failover`, flush, exit.
    Stop { failover: bool },
    /// Stop dispatching events; keep the subscription for a later `stop`.
    Abort,
}

/// Things created by `new` and moved into the threads by `start`.
pub(crate) struct Pending {
    pub(super) scheduler: Box<dyn Scheduler>,
    pub(super) config: SchedulerConfig,
    pub(super) commands: UnboundedReceiver<Command>,
}

pub(crate) struct Shared {
    pub(crate) lifecycle: Lifecycle,
    pub(super) commands: UnboundedSender<Command>,
    pub(super) framework_id: Mutex<Option<v1::FrameworkId>>,
    /// The credential's principal, for infos that leave `principal` unset.
    pub(super) principal: Option<String>,
    pub(super) implicit_acknowledgements: bool,
    pub(super) pending: Mutex<Option<Pending>>,
}

impl Shared {
    pub(crate) fn set_framework_id(&self, id: Option<&v1::FrameworkId>) {
        *self
            .framework_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = id.cloned();
    }
}
