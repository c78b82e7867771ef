//! What the executor driver's handle, its I/O thread and its callback
//! thread share (see [`super::driver`]): the commands the handle queues,
//! the callbacks the I/O side dispatches, and the state behind both. Its
//! own module, so that the driver and the connection both use it without
//! using each other.

use std::sync::Mutex;

use meseta_proto::v1;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::{Callback, Executor, ExecutorConfig};
use crate::status::Lifecycle;

/// A callback for the callback thread.
pub(crate) type Dispatch = crate::threads::Dispatch<Callback>;

/// What the handle asks of the I/O thread.
#[allow(
    clippy::large_enum_variant,
    reason = "built once and moved through a channel; boxing would only add an allocation"
)]
#[derive(Debug)]
pub(crate) enum Command {
    Update(v1::TaskStatus),
    Message(Vec<u8>),
    /// Flush queued calls, then exit.
    Stop,
    /// Exit at once.
    Abort,
}

/// Things created by `new` and moved into the threads by `start`.
pub(crate) struct Pending {
    pub(super) executor: Box<dyn Executor>,
    pub(super) config: Option<ExecutorConfig>,
    pub(super) commands: UnboundedReceiver<Command>,
}

pub(crate) struct Shared {
    pub(crate) lifecycle: Lifecycle,
    pub(super) commands: UnboundedSender<Command>,
    pub(super) pending: Mutex<Option<Pending>>,
}
