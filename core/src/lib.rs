//! The client core of Meseta: scheduler and executor drivers speaking the
//! Mesos v1 HTTP APIs (`/api/v1/scheduler` on the master, `/api/v1/executor`
//! on the agent), so they work against Meseta and against Apache Mesos 1.x.
//! Every language binding (Python, Java, C++) wraps this crate.
//!
//! # Using it
//!
//! A framework implements [`Scheduler`] and runs a [`SchedulerDriver`]; an
//! executor implements [`Executor`] and runs an [`ExecutorDriver`]. The shape
//! is that of the Mesos `SchedulerDriver`/`ExecutorDriver` (start, stop,
//! abort, join, run; every method returns a [`Status`]), over the v1 wire
//! messages of [`meseta_proto`].
//!
//! # Threads
//!
//! Each driver, once started, owns two threads:
//!
//! * an **I/O thread** running a current-thread tokio runtime. It alone owns
//!   the sockets and the protocol state (a sans-I/O `Session`): it
//!   subscribes, reads the RecordIO event stream, sends calls, watches
//!   heartbeats, reconnects with backoff.
//! * a **callback thread**. It alone owns the user's `Scheduler`/`Executor`
//!   and invokes it one callback at a time, in the order events arrived.
//!
//! Public driver methods are synchronous, thread-safe and non-blocking
//! (except `join`/`run`): they check the status and put a command on the I/O
//! thread's queue. No lock is held while a callback runs, so callbacks may
//! call the driver (re-entrantly) without deadlock. No async type appears in
//! the public API, which keeps the bindings plain.
//!
//! ```text
//!  user threads --(commands)--> I/O thread --(callbacks)--> callback thread
//!        ^                        |     ^                       |
//!        |                      HTTP  events                 Scheduler
//!        +---------- Status <-----+-----+-------- driver <------+
//! ```
//!
//! # Modules
//!
//! * [`scheduler`], [`executor`]: the two drivers and their state machines.
//! * [`detector`], [`zookeeper`]: master addresses (`HOST:PORT`, `http://`,
//!   `file://`, `zk://`), leader detection and redirect handling; re-exported
//!   from `meseta-coordination`, which the master and the agent use too.
//! * [`backoff`]: capped, jittered exponential backoff.
//! * `http` (private): the hyper client.
#![warn(missing_docs, unreachable_pub)]

pub mod backoff;
mod codec;
mod error;
pub mod executor;
mod http;
pub mod logging;
pub mod operator;
pub mod scheduler;
mod sender;
mod status;
mod threads;

pub use codec::ContentType;
pub use error::{Error, Result};
pub use executor::{Executor, ExecutorConfig, ExecutorDriver};
pub use meseta_coordination::{detector, zookeeper};
pub use meseta_proto::v1;
pub use scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
pub use status::Status;

/// Seconds since the Unix epoch, as Mesos timestamps are.
pub(crate) fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}
