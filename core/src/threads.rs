//! The two threads every driver runs, started the same way for schedulers
//! and executors: a callback thread that invokes the user's code one
//! callback at a time, and an I/O thread with a current-thread tokio
//! runtime that owns the sockets and the session. The I/O side hands
//! callbacks over as [`Dispatch`]es.
//!
//! A thread that cannot be spawned aborts the driver at once; a runtime
//! that cannot be built aborts it with an `error` callback, delivered even
//! though the driver no longer runs.

use std::future::Future;
use std::sync::{mpsc, Arc};
use std::thread;

use crate::status::{Lifecycle, Status};

/// A callback on its way to the callback thread.
#[derive(Debug)]
pub(crate) struct Dispatch<C> {
    pub(crate) callback: C,
    /// Deliver even though the driver is no longer running (the `error`
    /// that follows an abort).
    pub(crate) force: bool,
}

/// What a driver's threads are called, and what it is in log lines.
pub(crate) struct Names {
    pub callbacks: &'static str,
    pub io: &'static str,
    /// "scheduler" or "executor".
    pub what: &'static str,
}

/// The driver-side pieces [`start`] wires together.
pub(crate) struct Threads<S, C, R, I> {
    pub names: Names,
    /// The driver's shared state, kept alive by the I/O thread.
    pub shared: Arc<S>,
    /// Where the lifecycle sits in the shared state.
    pub lifecycle: fn(&S) -> &Lifecycle,
    /// The callback thread's body, given the dispatches to invoke.
    pub run_callbacks: R,
    /// The I/O thread's body, given where to dispatch to.
    pub run_io: I,
    /// The callback that reports a fatal error.
    pub error: fn(String) -> C,
}

/// Spawns both threads; `Running`, or `Aborted` when one could not be
/// spawned.
pub(crate) fn start<S, C, R, I, F>(threads: Threads<S, C, R, I>) -> Status
where
    S: Send + Sync + 'static,
    C: Send + 'static,
    R: FnOnce(mpsc::Receiver<Dispatch<C>>) + Send + 'static,
    I: FnOnce(mpsc::Sender<Dispatch<C>>) -> F + Send + 'static,
    F: Future<Output = ()>,
{
    let Threads {
        names,
        shared,
        lifecycle,
        run_callbacks,
        run_io,
        error,
    } = threads;
    let give_up = |reason: String| {
        tracing::error!("{reason}");
        let lifecycle = lifecycle(&shared);
        lifecycle.abort();
        lifecycle.io_finished();
        Status::Aborted
    };
    let (dispatch_tx, dispatch_rx) = mpsc::channel::<Dispatch<C>>();
    let callbacks = thread::Builder::new()
        .name(names.callbacks.into())
        .spawn(move || run_callbacks(dispatch_rx));
    match callbacks {
        Ok(handle) => lifecycle(&shared).set_callback_thread(handle),
        Err(e) => {
            return give_up(format!(
                "cannot spawn the {} callback thread: {e}",
                names.what
            ))
        }
    }
    let io_shared = Arc::clone(&shared);
    let io = thread::Builder::new().name(names.io.into()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name(names.io)
            .build();
        match runtime {
            Ok(runtime) => runtime.block_on(run_io(dispatch_tx)),
            Err(e) => {
                let message = format!("cannot build the {} I/O runtime: {e}", names.what);
                tracing::error!("{message}");
                if lifecycle(&io_shared).abort().changed {
                    let _ = dispatch_tx.send(Dispatch {
                        callback: error(message),
                        force: true,
                    });
                }
            }
        }
        lifecycle(&io_shared).io_finished();
    });
    match io {
        Ok(_) => Status::Running,
        Err(e) => give_up(format!("cannot spawn the {} I/O thread: {e}", names.what)),
    }
}
