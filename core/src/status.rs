//! Driver status (the `mesos::Status` of the C++, Java and Python APIs) and
//! the lifecycle bookkeeping both drivers share.
//!
//! Transitions, as in Mesos:
//!
//! ```text
//! NotStarted --start--> Running --stop--> Stopped
//!                          |                 ^
//!                          +--abort--> Aborted --stop
//! ```
//!
//! `join` blocks while the status is `Running`. After a stop it also waits
//! until the I/O thread has flushed its queue (bounded by a short timeout),
//! so that a final TEARDOWN or status update is not lost when `main` returns.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

/// The state of a driver, returned by every driver method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Created, `start` not called yet (`DRIVER_NOT_STARTED`).
    NotStarted,
    /// Started and not stopped (`DRIVER_RUNNING`).
    Running,
    /// Aborted by the user, by a fatal error, or by a panicking callback;
    /// callbacks are no longer invoked (`DRIVER_ABORTED`).
    Aborted,
    /// Stopped (`DRIVER_STOPPED`); a stopped driver cannot be restarted.
    Stopped,
}

impl Status {
    /// The numeric value of `mesos::Status` (`DRIVER_NOT_STARTED = 1` ...
    /// `DRIVER_STOPPED = 4`), for bindings.
    pub fn as_mesos_code(self) -> i32 {
        match self {
            Self::NotStarted => 1,
            Self::Running => 2,
            Self::Aborted => 3,
            Self::Stopped => 4,
        }
    }

    /// The inverse of [`Status::as_mesos_code`].
    pub fn from_mesos_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Self::NotStarted),
            2 => Some(Self::Running),
            3 => Some(Self::Aborted),
            4 => Some(Self::Stopped),
            _ => None,
        }
    }

    /// The Mesos name (`DRIVER_RUNNING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "DRIVER_NOT_STARTED",
            Self::Running => "DRIVER_RUNNING",
            Self::Aborted => "DRIVER_ABORTED",
            Self::Stopped => "DRIVER_STOPPED",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a `stop` or `abort` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    /// What the public method returns.
    pub(crate) returned: Status,
    /// Whether the status changed (so the I/O thread must be told).
    pub(crate) changed: bool,
}

#[derive(Debug)]
struct State {
    status: Status,
    io_finished: bool,
}

/// Status plus a condition variable, shared by a driver's handle, its I/O
/// thread and its callback thread.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    state: Mutex<State>,
    changed: Condvar,
    /// The callback thread, which must never block in `join`.
    callback_thread: Mutex<Option<ThreadId>>,
    /// Its handle, for [`Lifecycle::wait_for_callbacks`].
    callback_handle: Mutex<Option<JoinHandle<()>>>,
}

impl Lifecycle {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                status: Status::NotStarted,
                io_finished: false,
            }),
            changed: Condvar::new(),
            callback_thread: Mutex::new(None),
            callback_handle: Mutex::new(None),
        }
    }

    /// Records the driver's callback thread.
    pub(crate) fn set_callback_thread(&self, handle: JoinHandle<()>) {
        *self
            .callback_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(handle.thread().id());
        *self
            .callback_handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(handle);
    }

    /// Waits until the callback thread has delivered what was queued for it
    /// and exited. It exits once the I/O thread has ended, which a stop
    /// brings about; after an abort the I/O thread lives on until a stop.
    /// Does not wait on the callback thread itself.
    pub(crate) fn wait_for_callbacks(&self) {
        if self.on_callback_thread() {
            return;
        }
        let handle = self
            .callback_handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            if handle.join().is_err() {
                tracing::error!("the driver's callback thread panicked");
            }
        }
    }

    /// [`Lifecycle::join`], except on the callback thread, where waiting would
    /// deadlock: there it logs an error and returns the current status.
    pub(crate) fn join_outside_callbacks(&self, driver: &str) -> Status {
        if self.on_callback_thread() {
            tracing::error!("{driver}::join called from a callback; not waiting");
            return self.status();
        }
        self.join()
    }

    /// Like [`Lifecycle::join_outside_callbacks`], but gives up after
    /// `timeout`, returning `None` if the driver is still running then (so a
    /// binding can check for Ctrl-C between waits).
    pub(crate) fn join_timeout(&self, driver: &str, timeout: Duration) -> Option<Status> {
        if self.on_callback_thread() {
            tracing::error!("{driver}::join called from a callback; not waiting");
            return Some(self.status());
        }
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.status == Status::Running
            || (state.status == Status::Stopped && !state.io_finished)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Some(state.status)
    }

    fn on_callback_thread(&self) -> bool {
        *self
            .callback_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            == Some(thread::current().id())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave `State` half-updated
        // (every update is a single assignment), so poisoning is ignored.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> Status {
        self.lock().status
    }

    pub(crate) fn is_running(&self) -> bool {
        self.status() == Status::Running
    }

    /// `NotStarted` -> `Running`; otherwise the current status.
    pub(crate) fn start(&self) -> Result<(), Status> {
        let mut state = self.lock();
        if state.status != Status::NotStarted {
            return Err(state.status);
        }
        state.status = Status::Running;
        Ok(())
    }

    pub(crate) fn stop(&self) -> Transition {
        let mut state = self.lock();
        match state.status {
            Status::Running | Status::Aborted => {
                let was_aborted = state.status == Status::Aborted;
                state.status = Status::Stopped;
                self.changed.notify_all();
                Transition {
                    returned: if was_aborted {
                        Status::Aborted
                    } else {
                        Status::Stopped
                    },
                    changed: true,
                }
            }
            other => Transition {
                returned: other,
                changed: false,
            },
        }
    }

    pub(crate) fn abort(&self) -> Transition {
        let mut state = self.lock();
        if state.status != Status::Running {
            return Transition {
                returned: state.status,
                changed: false,
            };
        }
        state.status = Status::Aborted;
        self.changed.notify_all();
        Transition {
            returned: Status::Aborted,
            changed: true,
        }
    }

    /// Blocks while `Running`; after a stop, also until the I/O thread ends.
    pub(crate) fn join(&self) -> Status {
        let mut state = self.lock();
        while state.status == Status::Running
            || (state.status == Status::Stopped && !state.io_finished)
        {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.status
    }

    /// Called by the I/O thread as it exits.
    pub(crate) fn io_finished(&self) {
        let mut state = self.lock();
        state.io_finished = true;
        self.changed.notify_all();
    }
}
