//! [`SchedulerDriver`]: the public handle, and the callback thread.
//!
//! Three parties share one `Shared`:
//!
//! * the handle (any thread): checks the status, pushes a `Command` onto the
//!   I/O thread's queue, returns;
//! * the I/O thread (`meseta-sched-io`, a current-thread tokio runtime): owns
//!   the [`Session`](super::Session) and the sockets, pushes `Dispatch`es to
//!   the callback thread;
//! * the callback thread (`meseta-sched-cb`): owns the [`Scheduler`] and
//!   invokes it, one callback at a time, while the driver is running.
//!
//! No lock is held while a callback runs, so callbacks can call the driver.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use meseta_proto::v1;
use tokio::sync::mpsc::unbounded_channel;

use super::calls::Request;
use super::connection::Connection;
use super::shared::{Command, Dispatch, Pending, Shared};
use super::{Callback, Scheduler, SchedulerConfig};
use crate::status::{Lifecycle, Status};

/// Drives one framework's [`Scheduler`] against a Mesos (or Meseta) master.
///
/// Cheap to clone (clones share the driver); every method is synchronous,
/// thread-safe and returns at once with the driver's [`Status`]: methods
/// that send something return `Running` when it was queued, or the current
/// status (and do nothing) when the driver is not running.
///
/// Dropping the handles does not stop a started driver (its threads hold
/// their own); call [`stop`](Self::stop) or [`abort`](Self::abort).
#[derive(Clone)]
pub struct SchedulerDriver {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SchedulerDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerDriver")
            .field("status", &self.shared.lifecycle.status())
            .field("framework_id", &self.framework_id())
            .finish()
    }
}

impl SchedulerDriver {
    /// A driver for `scheduler`; nothing happens until [`start`](Self::start).
    pub fn new(scheduler: impl Scheduler, config: SchedulerConfig) -> Self {
        Self::new_boxed(Box::new(scheduler), config)
    }

    /// [`new`](Self::new) for an already boxed scheduler (bindings).
    pub fn new_boxed(scheduler: Box<dyn Scheduler>, mut config: SchedulerConfig) -> Self {
        if let Some((principal, _)) = &config.credential {
            if config.framework.principal.is_none() {
                config.framework.principal = Some(principal.clone());
            }
        }
        let (commands, receiver) = unbounded_channel();
        let shared = Shared {
            lifecycle: Lifecycle::new(),
            commands,
            framework_id: Mutex::new(config.framework.id.clone()),
            principal: config.credential.as_ref().map(|(p, _)| p.clone()),
            implicit_acknowledgements: config.implicit_acknowledgements,
            pending: Mutex::new(Some(Pending {
                scheduler,
                config,
                commands: receiver,
            })),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Starts the I/O and callback threads and subscribes. Returns `Running`,
    /// or the current status if already started.
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
            scheduler,
            config,
            commands,
        }) = pending
        else {
            // `start` succeeds once, and only it takes `pending`.
            self.shared.lifecycle.io_finished();
            return self.shared.lifecycle.status();
        };
        let driver = self.clone();
        let shared = Arc::clone(&self.shared);
        crate::threads::start(crate::threads::Threads {
            names: crate::threads::Names {
                callbacks: "meseta-sched-cb",
                io: "meseta-sched-io",
                what: "scheduler",
            },
            shared: Arc::clone(&self.shared),
            lifecycle: |shared: &Shared| &shared.lifecycle,
            run_callbacks: move |dispatches| driver.run_callbacks(scheduler, dispatches),
            run_io: move |dispatches| Connection::new(shared, config, commands, dispatches).run(),
            error: Callback::Error,
        })
    }

    /// Stops the driver. `failover == false` tears the framework down (the
    /// master kills its tasks); `failover == true` only disconnects, so that
    /// another scheduler instance can subscribe with the same framework ID
    /// within the framework's `failover_timeout`.
    pub fn stop(&self, failover: bool) -> Status {
        let transition = self.shared.lifecycle.stop();
        if transition.changed {
            let _ = self.shared.commands.send(Command::Stop { failover });
        }
        transition.returned
    }

    /// Aborts: no more callbacks, nothing more sent; the subscription stays
    /// open so that a later [`stop`](Self::stop) can still tear down.
    pub fn abort(&self) -> Status {
        let transition = self.shared.lifecycle.abort();
        if transition.changed {
            let _ = self.shared.commands.send(Command::Abort);
        }
        transition.returned
    }

    /// Blocks until the driver is stopped or aborted (after a stop, until the
    /// last calls are flushed). Must not be called from a callback: there it
    /// logs an error and returns the current status instead of deadlocking.
    pub fn join(&self) -> Status {
        self.shared
            .lifecycle
            .join_outside_callbacks("SchedulerDriver")
    }

    /// [`join`](Self::join) for at most `timeout`: `None` while the driver
    /// is still running. Bindings wait in slices so they can notice Ctrl-C.
    pub fn join_timeout(&self, timeout: std::time::Duration) -> Option<Status> {
        self.shared
            .lifecycle
            .join_timeout("SchedulerDriver", timeout)
    }

    /// Blocks until every callback queued before the driver ended has been
    /// delivered (including the `error` that follows a fatal abort) and the
    /// callback thread has exited; for bindings about to free the scheduler.
    /// Stop the driver first: after an abort the callback thread lives on
    /// until a stop. Does not wait when called from a callback.
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

    /// Launches `tasks` on the resources of `offer_ids` (an `ACCEPT` with
    /// one `LAUNCH` operation; with no tasks, the offers are declined).
    pub fn launch_tasks(
        &self,
        offer_ids: &[v1::OfferId],
        tasks: Vec<v1::TaskInfo>,
        filters: Option<v1::Filters>,
    ) -> Status {
        self.enqueue(Request::launch(offer_ids, tasks, filters))
    }

    /// Runs offer operations (`LAUNCH`, `LAUNCH_GROUP`, `RESERVE`, ...).
    pub fn accept_offers(
        &self,
        offer_ids: &[v1::OfferId],
        operations: Vec<v1::offer::Operation>,
        filters: Option<v1::Filters>,
    ) -> Status {
        self.enqueue(Request::Accept {
            offer_ids: offer_ids.to_vec(),
            operations,
            filters,
        })
    }

    /// Declines an offer.
    pub fn decline_offer(&self, offer_id: &v1::OfferId, filters: Option<v1::Filters>) -> Status {
        self.enqueue(Request::Decline {
            offer_ids: vec![offer_id.clone()],
            filters,
        })
    }

    /// Accepts inverse offers: the framework can free those agents before
    /// their maintenance.
    pub fn accept_inverse_offers(
        &self,
        inverse_offer_ids: &[v1::OfferId],
        filters: Option<v1::Filters>,
    ) -> Status {
        self.answer_inverse_offers(inverse_offer_ids, true, filters)
    }

    /// Declines inverse offers: the framework cannot free those agents in
    /// time.
    pub fn decline_inverse_offers(
        &self,
        inverse_offer_ids: &[v1::OfferId],
        filters: Option<v1::Filters>,
    ) -> Status {
        self.answer_inverse_offers(inverse_offer_ids, false, filters)
    }

    fn answer_inverse_offers(
        &self,
        inverse_offer_ids: &[v1::OfferId],
        accept: bool,
        filters: Option<v1::Filters>,
    ) -> Status {
        self.enqueue(Request::AnswerInverseOffers {
            inverse_offer_ids: inverse_offer_ids.to_vec(),
            accept,
            filters,
        })
    }

    /// Clears offer filters and resumes offers, for every role.
    pub fn revive_offers(&self) -> Status {
        self.revive_offers_for(Vec::new())
    }

    /// Clears offer filters and resumes offers for `roles` only (empty:
    /// every role of the framework).
    pub fn revive_offers_for(&self, roles: Vec<String>) -> Status {
        self.enqueue(Request::Revive { roles })
    }

    /// Stops offers, for every role, until
    /// [`revive_offers`](Self::revive_offers).
    pub fn suppress_offers(&self) -> Status {
        self.suppress_offers_for(Vec::new())
    }

    /// Stops offers for `roles` only (empty: every role of the framework).
    pub fn suppress_offers_for(&self, roles: Vec<String>) -> Status {
        self.enqueue(Request::Suppress { roles })
    }

    /// Replaces the framework's `FrameworkInfo` and its set of suppressed
    /// roles (`UPDATE_FRAMEWORK`): roles in `suppressed_roles` get no offers,
    /// the framework's other roles do. The framework ID stays the assigned
    /// one whatever `framework.id` says, and an unset `principal` is the
    /// credential's, as at `new`.
    ///
    /// The driver keeps the new info for every later re-subscription, and
    /// sends `UPDATE_FRAMEWORK` when subscribed. The master refuses changes
    /// of `principal`, `user` or `checkpoint` (reported through
    /// [`Scheduler::error`](super::Scheduler::error)).
    pub fn update_framework(
        &self,
        mut framework: v1::FrameworkInfo,
        suppressed_roles: Vec<String>,
    ) -> Status {
        if framework.principal.is_none() {
            framework.principal = self.shared.principal.clone();
        }
        self.enqueue(Request::UpdateFramework {
            framework: Box::new(framework),
            suppressed_roles,
        })
    }

    /// Kills a task. The agent is filled in when the driver has seen the task
    /// launched or updated; otherwise the master looks it up.
    pub fn kill_task(&self, task_id: &v1::TaskId) -> Status {
        self.enqueue(Request::Kill {
            task_id: task_id.clone(),
        })
    }

    /// Acknowledges a status update (when implicit acknowledgements are
    /// off). Updates without a `uuid` need no acknowledgement and are
    /// ignored.
    pub fn acknowledge_status_update(&self, status: &v1::TaskStatus) -> Status {
        if self.shared.implicit_acknowledgements {
            tracing::warn!(
                "ignoring an explicit acknowledgement: implicit acknowledgements are enabled"
            );
            return self.shared.lifecycle.status();
        }
        match Request::acknowledge(status) {
            Some(request) => self.enqueue(request),
            None => self.shared.lifecycle.status(),
        }
    }

    /// Sends `data` to an executor (best effort, as in Mesos).
    pub fn send_framework_message(
        &self,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        data: Vec<u8>,
    ) -> Status {
        self.enqueue(Request::Message {
            agent_id: agent_id.clone(),
            executor_id: executor_id.clone(),
            data,
        })
    }

    /// Asks for the latest status of these tasks; an empty list asks for all
    /// of the framework's tasks (implicit reconciliation).
    pub fn reconcile_tasks(&self, statuses: &[v1::TaskStatus]) -> Status {
        self.enqueue(Request::reconcile(statuses))
    }

    /// Asks the allocator for resources (ignored by the default allocator).
    pub fn request_resources(&self, requests: Vec<v1::Request>) -> Status {
        self.enqueue(Request::ResourceRequest { requests })
    }

    /// The framework ID, once subscribed (or the one configured for a
    /// failover).
    pub fn framework_id(&self) -> Option<v1::FrameworkId> {
        self.shared
            .framework_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn enqueue(&self, request: Request) -> Status {
        let status = self.shared.lifecycle.status();
        if status != Status::Running {
            return status;
        }
        if self
            .shared
            .commands
            .send(Command::Request(request))
            .is_err()
        {
            // The I/O thread is gone (it only exits after stop or a failure
            // that aborted the driver).
            return self.shared.lifecycle.status();
        }
        Status::Running
    }

    /// The callback thread's body: ends when the I/O thread drops its sender.
    fn run_callbacks(
        self,
        mut scheduler: Box<dyn Scheduler>,
        dispatches: mpsc::Receiver<Dispatch>,
    ) {
        for Dispatch { callback, force } in dispatches {
            if !force && !self.shared.lifecycle.is_running() {
                tracing::debug!("driver not running; dropping {callback:?}");
                continue;
            }
            let acknowledgement = match &callback {
                Callback::StatusUpdate(status) if self.shared.implicit_acknowledgements => {
                    Request::acknowledge(status)
                }
                _ => None,
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                callback.invoke(scheduler.as_mut(), &self);
            }));
            if outcome.is_err() {
                tracing::error!("a scheduler callback panicked; aborting the driver");
                self.abort();
                continue;
            }
            if let Some(request) = acknowledgement {
                // After a stop or abort from inside the callback, the
                // update stays unacknowledged and Mesos will resend it.
                self.enqueue(request);
            }
        }
    }
}
