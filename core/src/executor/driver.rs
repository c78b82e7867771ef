//! [`ExecutorDriver`]: the public handle, and the callback thread. Same
//! three-party shape as the scheduler driver (handle, I/O thread
//! `meseta-exec-io`, callback thread `meseta-exec-cb`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use meseta_proto::v1;
use tokio::sync::mpsc::unbounded_channel;

use super::connection::Connection;
use super::shared::{Command, Dispatch, Pending, Shared};
use super::{Callback, Executor, ExecutorConfig};
use crate::error::Result;
use crate::status::{Lifecycle, Status};

/// Drives an [`Executor`] against its agent.
///
/// Cheap to clone; every method is synchronous, thread-safe and returns at
/// once with the driver's [`Status`]. Dropping the handles does not stop a
/// started driver; call [`stop`](Self::stop) or [`abort`](Self::abort).
#[derive(Clone)]
pub struct ExecutorDriver {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ExecutorDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorDriver")
            .field("status", &self.shared.lifecycle.status())
            .finish()
    }
}

impl ExecutorDriver {
    /// A driver configured from the environment when it starts (a missing
    /// variable aborts it and is reported through `error`).
    pub fn new(executor: impl Executor) -> Self {
        Self::build(Box::new(executor), None)
    }

    /// [`new`](Self::new) for an already boxed executor (bindings).
    pub fn new_boxed(executor: Box<dyn Executor>) -> Self {
        Self::build(executor, None)
    }

    /// A driver with an explicit configuration.
    pub fn with_config(executor: impl Executor, config: ExecutorConfig) -> Self {
        Self::build(Box::new(executor), Some(config))
    }

    /// [`with_config`](Self::with_config) for a boxed executor.
    pub fn with_config_boxed(executor: Box<dyn Executor>, config: ExecutorConfig) -> Self {
        Self::build(executor, Some(config))
    }

    fn build(executor: Box<dyn Executor>, config: Option<ExecutorConfig>) -> Self {
        let (commands, receiver) = unbounded_channel();
        Self {
            shared: Arc::new(Shared {
                lifecycle: Lifecycle::new(),
                commands,
                pending: Mutex::new(Some(Pending {
                    executor,
                    config,
                    commands: receiver,
                })),
            }),
        }
    }

    /// Starts the threads and subscribes to the agent.
    pub fn start(&self) -> Status {
        if let Err(status) = self.shared.lifecycle.start() {
            return status;
        }
        let pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(Pending {
            executor,
            config,
            commands,
        }) = pending
        else {
            self.shared.lifecycle.io_finished();
            return self.shared.lifecycle.status();
        };
        let config: Result<ExecutorConfig> = match config {
            Some(config) => Ok(config),
            None => ExecutorConfig::from_env(),
        };
        let driver = self.clone();
        let shared = Arc::clone(&self.shared);
        crate::threads::start(crate::threads::Threads {
            names: crate::threads::Names {
                callbacks: "meseta-exec-cb",
                io: "meseta-exec-io",
                what: "executor",
            },
            shared: Arc::clone(&self.shared),
            lifecycle: |shared: &Shared| &shared.lifecycle,
            run_callbacks: move |dispatches| driver.run_callbacks(executor, dispatches),
            run_io: move |dispatches| async move {
                Connection::new(shared, commands, dispatches)
                    .run(config)
                    .await;
            },
            error: Callback::Error,
        })
    }

    /// Stops the driver after flushing queued updates (bounded).
    pub fn stop(&self) -> Status {
        let transition = self.shared.lifecycle.stop();
        if transition.changed {
            let _ = self.shared.commands.send(Command::Stop);
        }
        transition.returned
    }

    /// Aborts: no more callbacks, nothing more sent.
    pub fn abort(&self) -> Status {
        let transition = self.shared.lifecycle.abort();
        if transition.changed {
            let _ = self.shared.commands.send(Command::Abort);
        }
        transition.returned
    }

    /// Blocks until the driver is stopped (and flushed) or aborted. From a
    /// callback it logs an error and returns the current status instead.
    pub fn join(&self) -> Status {
        self.shared
            .lifecycle
            .join_outside_callbacks("ExecutorDriver")
    }

    /// [`join`](Self::join) for at most `timeout`: `None` while the driver
    /// is still running. Bindings wait in slices so they can notice Ctrl-C.
    pub fn join_timeout(&self, timeout: std::time::Duration) -> Option<Status> {
        self.shared
            .lifecycle
            .join_timeout("ExecutorDriver", timeout)
    }

    /// Blocks until every callback queued before the driver ended has been
    /// delivered (including the `error` that follows a fatal abort) and the
    /// callback thread has exited; for bindings about to free the executor.
    /// Stop the driver first. Does not wait when called from a callback.
    pub fn wait_for_callbacks(&self) {
        self.shared.lifecycle.wait_for_callbacks();
    }

    /// [`start`](Self::start) then [`join`](Self::join).
    pub fn run(&self) -> Status {
        match self.start() {
            Status::Running => self.join(),
            other => other,
        }
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.shared.lifecycle.status()
    }

    /// Sends a status update reliably (kept and resent until the agent
    /// acknowledges it). The driver sets `uuid`, `source`, `timestamp` and
    /// `executor_id`.
    pub fn send_status_update(&self, status: v1::TaskStatus) -> Status {
        self.enqueue(Command::Update(status))
    }

    /// Sends `data` to the scheduler (best effort).
    pub fn send_framework_message(&self, data: Vec<u8>) -> Status {
        self.enqueue(Command::Message(data))
    }

    fn enqueue(&self, command: Command) -> Status {
        let status = self.shared.lifecycle.status();
        if status != Status::Running {
            return status;
        }
        if self.shared.commands.send(command).is_err() {
            return self.shared.lifecycle.status();
        }
        Status::Running
    }

    fn run_callbacks(self, mut executor: Box<dyn Executor>, dispatches: mpsc::Receiver<Dispatch>) {
        for Dispatch { callback, force } in dispatches {
            if !force && !self.shared.lifecycle.is_running() {
                tracing::debug!("driver not running; dropping {callback:?}");
                continue;
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                callback.invoke(executor.as_mut(), &self);
            }));
            if outcome.is_err() {
                tracing::error!("an executor callback panicked; aborting the driver");
                self.abort();
                continue;
            }
            if callback == Callback::Shutdown && self.shared.lifecycle.is_running() {
                tracing::info!("shutdown handled; stopping the executor driver");
                self.stop();
            }
        }
    }
}
