//! The executor's protocol state machine, without I/O.
//!
//! A [`Session`] keeps what must survive a disconnection from the agent: the
//! status updates the agent has not acknowledged and the tasks none of whose
//! updates has been acknowledged. Both go into the next `SUBSCRIBE`, so a
//! restarted agent (with checkpointing) loses nothing.
//!
//! [`Reconnect`] decides what to do after the agent went away: retry after a
//! backoff bounded by `MESOS_SUBSCRIPTION_BACKOFF_MAX`, for at most
//! `MESOS_RECOVERY_TIMEOUT`, and only if the framework checkpoints (or no
//! subscription ever succeeded); otherwise give up, which shuts the executor
//! down.

use std::time::{Duration, Instant};

use meseta_proto::executor::{call, event, Call, Event};
use meseta_proto::v1::{
    task_status, AgentId, ExecutorId, FrameworkId, TaskInfo, TaskState, TaskStatus,
};

use super::Callback;
use crate::backoff::Backoff;

/// What the I/O thread must do after an event.
#[allow(
    clippy::large_enum_variant,
    reason = "built once and moved through a channel; boxing would only add an allocation"
)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Hand this callback to the callback thread.
    Deliver(Callback),
    /// Deliver `shutdown`, then stop the driver once it returns.
    Shutdown,
    /// Send this call (updates made while the subscription was pending).
    Send(Call),
    /// Abort the driver, then deliver `error(message)`.
    Abort {
        /// What went wrong.
        message: String,
    },
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Session {
    framework_id: FrameworkId,
    executor_id: ExecutorId,
    subscribed: bool,
    registered_before: bool,
    agent_id: Option<AgentId>,
    unacknowledged_updates: Vec<call::Update>,
    unacknowledged_tasks: Vec<TaskInfo>,
    /// Updates made after the last `SUBSCRIBE` was built and before the
    /// `SUBSCRIBED` event: sent once subscribed.
    pending: Vec<Call>,
}

impl Session {
    /// A session for one executor of one framework.
    pub fn new(framework_id: FrameworkId, executor_id: ExecutorId) -> Self {
        Self {
            framework_id,
            executor_id,
            subscribed: false,
            registered_before: false,
            agent_id: None,
            unacknowledged_updates: Vec::new(),
            unacknowledged_tasks: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Whether a `SUBSCRIBED` event arrived on the current stream.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }

    /// Whether a subscription ever succeeded.
    pub fn ever_subscribed(&self) -> bool {
        self.registered_before
    }

    /// Updates sent but not acknowledged, oldest first.
    pub fn unacknowledged_updates(&self) -> &[call::Update] {
        &self.unacknowledged_updates
    }

    /// Tasks launched but with no acknowledged update yet.
    pub fn unacknowledged_tasks(&self) -> &[TaskInfo] {
        &self.unacknowledged_tasks
    }

    fn call(&self, kind: call::Type) -> Call {
        Call {
            executor_id: self.executor_id.clone(),
            framework_id: self.framework_id.clone(),
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    /// The `SUBSCRIBE` call, carrying everything unacknowledged (so updates
    /// waiting to be sent are now covered by it).
    pub fn subscribe_call(&mut self) -> Call {
        self.pending.clear();
        Call {
            subscribe: Some(call::Subscribe {
                unacknowledged_tasks: self.unacknowledged_tasks.clone(),
                unacknowledged_updates: self.unacknowledged_updates.clone(),
            }),
            ..self.call(call::Type::Subscribe)
        }
    }

    /// A stream opened (`200 OK`), before any event.
    pub fn connected(&mut self) {
        self.subscribed = false;
    }

    /// The stream ended; `disconnected` is delivered only if a subscription
    /// was live.
    pub fn disconnected(&mut self) -> Option<Callback> {
        let was_subscribed = std::mem::replace(&mut self.subscribed, false);
        was_subscribed.then_some(Callback::Disconnected)
    }

    /// Records a status update, stamped with `uuid`, `timestamp` (seconds
    /// since the epoch), source `SOURCE_EXECUTOR`, this executor's ID and the
    /// agent's, until it is acknowledged. Returns the `UPDATE` call to send
    /// now when subscribed; otherwise it goes out with the subscription.
    /// Executors may not send `TASK_STAGING`.
    pub fn update(
        &mut self,
        mut status: TaskStatus,
        uuid: [u8; 16],
        timestamp: f64,
    ) -> Result<Option<Call>, String> {
        if status.state == TaskState::TaskStaging as i32 {
            return Err(format!(
                "executors may not send TASK_STAGING (task {})",
                status.task_id.value
            ));
        }
        status.uuid = Some(uuid.to_vec());
        status.source = Some(task_status::Source::Executor as i32);
        status.timestamp = Some(timestamp);
        status.executor_id = Some(self.executor_id.clone());
        if status.agent_id.is_none() {
            status.agent_id = self.agent_id.clone();
        }
        let update = call::Update { status };
        self.unacknowledged_updates.push(update.clone());
        let call = Call {
            update: Some(update),
            ..self.call(call::Type::Update)
        };
        if self.subscribed {
            Ok(Some(call))
        } else {
            self.pending.push(call);
            Ok(None)
        }
    }

    /// The `MESSAGE` call.
    pub fn message_call(&self, data: Vec<u8>) -> Call {
        Call {
            message: Some(call::Message { data }),
            ..self.call(call::Type::Message)
        }
    }

    /// Applies one event.
    pub fn handle_event(&mut self, event: Event) -> Vec<Action> {
        let kind = event.r#type.and_then(|t| event::Type::try_from(t).ok());
        let deliver = |callback| vec![Action::Deliver(callback)];
        match kind {
            Some(event::Type::Subscribed) => {
                let Some(subscribed) = event.subscribed else {
                    return Vec::new();
                };
                self.subscribed = true;
                self.agent_id = subscribed.agent_info.id.clone();
                let callback = if self.registered_before {
                    Callback::Reregistered {
                        agent_info: subscribed.agent_info,
                    }
                } else {
                    Callback::Registered {
                        executor_info: subscribed.executor_info,
                        framework_info: subscribed.framework_info,
                        agent_info: subscribed.agent_info,
                    }
                };
                self.registered_before = true;
                let mut actions = vec![Action::Deliver(callback)];
                actions.extend(self.pending.drain(..).map(Action::Send));
                actions
            }
            Some(event::Type::Launch) => match event.launch {
                Some(launch) => {
                    self.remember_task(&launch.task);
                    deliver(Callback::LaunchTask(launch.task))
                }
                None => Vec::new(),
            },
            Some(event::Type::LaunchGroup) => match event.launch_group {
                Some(group) => {
                    for task in &group.task_group.tasks {
                        self.remember_task(task);
                    }
                    deliver(Callback::LaunchTaskGroup(group.task_group))
                }
                None => Vec::new(),
            },
            Some(event::Type::Kill) => match event.kill {
                Some(kill) => deliver(Callback::KillTask(kill.task_id)),
                None => Vec::new(),
            },
            Some(event::Type::Acknowledged) => {
                if let Some(ack) = event.acknowledged {
                    self.unacknowledged_updates.retain(|update| {
                        update.status.task_id != ack.task_id
                            || update.status.uuid.as_deref() != Some(ack.uuid.as_slice())
                    });
                    self.unacknowledged_tasks
                        .retain(|task| task.task_id != ack.task_id);
                }
                Vec::new()
            }
            Some(event::Type::Message) => match event.message {
                Some(message) => deliver(Callback::FrameworkMessage(message.data)),
                None => Vec::new(),
            },
            Some(event::Type::Shutdown) => vec![Action::Shutdown],
            Some(event::Type::Error) => vec![Action::Abort {
                message: event
                    .error
                    .map(|e| e.message)
                    .unwrap_or_else(|| "error event without a message".into()),
            }],
            Some(event::Type::Heartbeat) | Some(event::Type::Unknown) | None => Vec::new(),
        }
    }

    fn remember_task(&mut self, task: &TaskInfo) {
        self.unacknowledged_tasks
            .retain(|known| known.task_id != task.task_id);
        self.unacknowledged_tasks.push(task.clone());
    }
}

/// What to do after a failed or lost subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again after this delay.
    RetryAfter(Duration),
    /// Stop trying: shut the executor down.
    GiveUp,
}

/// The executor's reconnection policy (see the module documentation).
#[derive(Debug, Clone)]
pub struct Reconnect {
    checkpoint: bool,
    recovery_timeout: Duration,
    backoff: Backoff,
    failing_since: Option<Instant>,
    ever_subscribed: bool,
}

impl Reconnect {
    /// First delay between attempts (capped by `backoff_max`).
    pub const INITIAL_BACKOFF: Duration = Duration::from_millis(250);

    /// A policy from the executor's environment.
    pub fn new(checkpoint: bool, recovery_timeout: Duration, backoff_max: Duration) -> Self {
        Self {
            checkpoint,
            recovery_timeout,
            backoff: Backoff::new(Self::INITIAL_BACKOFF.min(backoff_max), backoff_max),
            failing_since: None,
            ever_subscribed: false,
        }
    }

    /// A subscription succeeded.
    pub fn subscribed(&mut self) {
        self.failing_since = None;
        self.ever_subscribed = true;
        self.backoff.reset();
    }

    /// An attempt failed or the stream ended at `now`. `unit` is a random
    /// number in `[0, 1)` for jitter.
    pub fn after_failure(&mut self, now: Instant, unit: f64) -> Decision {
        if self.ever_subscribed && !self.checkpoint {
            return Decision::GiveUp;
        }
        let since = *self.failing_since.get_or_insert(now);
        let elapsed = now.saturating_duration_since(since);
        if elapsed >= self.recovery_timeout {
            return Decision::GiveUp;
        }
        let delay = self.backoff.next_delay_with(unit);
        Decision::RetryAfter(delay.min(self.recovery_timeout - elapsed))
    }
}
