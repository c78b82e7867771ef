//! [`ExecutorDriver`]: the public handle, and the callback thread. Same
//! three-party shape as the scheduler driver (handle, I/O thread
//! `meseta-exec-io`, callback thread `meseta-exec-cb`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;

use meseta_proto::v1;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::connection::Connection;
use super::{Callback, Executor, ExecutorConfig};
use crate::error::Result;
use crate::status::{Lifecycle, Status};

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

/// A callback for the callback thread.
#[derive(Debug)]
pub(crate) struct Dispatch {
    pub(crate) callback: Callback,
    /// Deliver even though the driver is no longer running.
    pub(crate) force: bool,
}

struct Pending {
    executor: Box<dyn Executor>,
    config: Option<ExecutorConfig>,
    commands: UnboundedReceiver<Command>,
}

pub(crate) struct Shared {
    pub(crate) lifecycle: Lifecycle,
    commands: UnboundedSender<Command>,
    pending: Mutex<Option<Pending>>,
}

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
        let (dispatch_tx, dispatch_rx) = mpsc::channel::<Dispatch>();

        let driver = self.clone();
        let callbacks = thread::Builder::new()
            .name("meseta-exec-cb".into())
            .spawn(move || driver.run_callbacks(executor, dispatch_rx));
        match callbacks {
            Ok(handle) => {
                self.shared.lifecycle.set_callback_thread(handle);
            }
            Err(e) => {
                tracing::error!("cannot spawn the executor callback thread: {e}");
                self.shared.lifecycle.abort();
                self.shared.lifecycle.io_finished();
                return Status::Aborted;
            }
        }

        let shared = Arc::clone(&self.shared);
        let io = thread::Builder::new()
            .name("meseta-exec-io".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_name("meseta-exec-io")
                    .build();
                match runtime {
                    Ok(runtime) => {
                        runtime.block_on(async {
                            let connection =
                                Connection::new(Arc::clone(&shared), commands, dispatch_tx);
                            connection.run(config).await;
                        });
                    }
                    Err(e) => {
                        let message = format!("cannot build the executor I/O runtime: {e}");
                        tracing::error!("{message}");
                        if shared.lifecycle.abort().changed {
                            let _ = dispatch_tx.send(Dispatch {
                                callback: Callback::Error(message),
                                force: true,
                            });
                        }
                    }
                }
                shared.lifecycle.io_finished();
            });
        if let Err(e) = io {
            tracing::error!("cannot spawn the executor I/O thread: {e}");
            self.shared.lifecycle.abort();
            self.shared.lifecycle.io_finished();
            return Status::Aborted;
        }
        Status::Running
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
