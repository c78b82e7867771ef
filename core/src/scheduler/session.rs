//! The scheduler's protocol state machine, without I/O.
//!
//! A [`Session`] is what the driver knows about its framework's relationship
//! with the master: the framework ID, whether a subscription is live, the
//! heartbeat interval, and which agent runs each task it has heard of. The
//! I/O thread feeds it events and requests and carries out what it returns:
//!
//! * [`Session::handle_event`]: an `Event` in, [`Action`]s out (callbacks
//!   to deliver, or abort).
//! * [`Session::prepare`]: a [`Request`] in, a `Call` to send out, or, when
//!   no subscription is live, the callbacks that stand for the dropped call
//!   (`TASK_LOST`/`TASK_DROPPED` for tasks it would have launched, as the
//!   Mesos driver does).
//! * [`Session::disconnected`]: the stream broke or went silent.
//!
//! The session also holds what the next `SUBSCRIBE` carries: the
//! `FrameworkInfo` and the roles that start suppressed. An
//! `UPDATE_FRAMEWORK` request replaces both (keeping the framework ID)
//! whether or not it can be sent, so a re-subscription never undoes it.
//!
//! States: *not subscribed* (initially, and after each disconnection) and
//! *subscribed* (after a `SUBSCRIBED` event). The first `SUBSCRIBED` yields
//! `registered`, each later one `reregistered`.

use std::collections::HashMap;
use std::time::Duration;

use meseta_proto::scheduler::{event, Call, Event};
use meseta_proto::v1::{
    framework_info, task_status, AgentId, FrameworkId, FrameworkInfo, MasterInfo, TaskId, TaskInfo,
    TaskState, TaskStatus,
};

use super::calls::{self, Request};
use super::Callback;
use crate::detector::Endpoint;

/// Mesos's default heartbeat interval, used until `SUBSCRIBED` says otherwise.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// Added to two heartbeat intervals to get the liveness timeout.
pub const LIVENESS_SLACK: Duration = Duration::from_secs(5);

/// What the I/O thread must do after an event.
#[allow(
    clippy::large_enum_variant,
    reason = "built once and moved through a channel; boxing would only add an allocation"
)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Hand this callback to the callback thread.
    Deliver(Callback),
    /// Abort the driver, then deliver `error(message)` (a master `ERROR`).
    Abort {
        /// The master's message.
        message: String,
    },
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Session {
    framework: FrameworkInfo,
    suppressed_roles: Vec<String>,
    subscribed: bool,
    registered_before: bool,
    heartbeat_interval: Duration,
    master: Option<Endpoint>,
    task_agents: HashMap<String, AgentId>,
}

impl Session {
    /// A session for `framework` (with an `id` when failing over from an
    /// earlier scheduler instance).
    pub fn new(framework: FrameworkInfo) -> Self {
        Self {
            framework,
            suppressed_roles: Vec::new(),
            subscribed: false,
            registered_before: false,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            master: None,
            task_agents: HashMap::new(),
        }
    }

    /// The same session, with roles that start suppressed at SUBSCRIBE.
    pub fn with_suppressed_roles(mut self, suppressed_roles: Vec<String>) -> Self {
        self.suppressed_roles = suppressed_roles;
        self
    }

    /// The `FrameworkInfo` the next `SUBSCRIBE` carries.
    pub fn framework(&self) -> &FrameworkInfo {
        &self.framework
    }

    /// The roles the next `SUBSCRIBE` asks to start suppressed.
    pub fn suppressed_roles(&self) -> &[String] {
        &self.suppressed_roles
    }

    /// The framework ID, once known.
    pub fn framework_id(&self) -> Option<&FrameworkId> {
        self.framework.id.as_ref().filter(|id| !id.value.is_empty())
    }

    /// Whether a `SUBSCRIBED` event arrived on the current stream.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }

    /// The agent last known to run `task_id`.
    pub fn agent_of(&self, task_id: &TaskId) -> Option<&AgentId> {
        self.task_agents.get(&task_id.value)
    }

    /// The `SUBSCRIBE` call to send now (with the framework ID once known).
    pub fn subscribe_call(&self) -> Call {
        calls::subscribe_call_suppressed(&self.framework, &self.suppressed_roles)
    }

    /// A subscription stream to `master` opened (`200 OK`), before any event.
    pub fn connected(&mut self, master: &Endpoint) {
        self.master = Some(master.clone());
        self.subscribed = false;
    }

    /// How long the stream may stay silent before it is considered dead:
    /// two heartbeat intervals plus [`LIVENESS_SLACK`].
    pub fn liveness_timeout(&self) -> Duration {
        self.heartbeat_interval * 2 + LIVENESS_SLACK
    }

    /// The stream broke or went silent; `disconnected` is delivered only if a
    /// subscription was live.
    pub fn disconnected(&mut self) -> Option<Callback> {
        let was_subscribed = std::mem::replace(&mut self.subscribed, false);
        was_subscribed.then_some(Callback::Disconnected)
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
                self.on_subscribed(subscribed)
            }
            Some(event::Type::Offers) => match event.offers {
                Some(offers) if !offers.offers.is_empty() => {
                    deliver(Callback::ResourceOffers(offers.offers))
                }
                _ => Vec::new(),
            },
            Some(event::Type::Rescind) => match event.rescind {
                Some(rescind) => deliver(Callback::OfferRescinded(rescind.offer_id)),
                None => Vec::new(),
            },
            Some(event::Type::Update) => match event.update {
                Some(update) => {
                    self.track(&update.status);
                    deliver(Callback::StatusUpdate(update.status))
                }
                None => Vec::new(),
            },
            Some(event::Type::Message) => match event.message {
                Some(message) => deliver(Callback::FrameworkMessage {
                    executor_id: message.executor_id,
                    agent_id: message.agent_id,
                    data: message.data,
                }),
                None => Vec::new(),
            },
            Some(event::Type::Failure) => match event.failure {
                Some(failure) => match (failure.executor_id, failure.agent_id) {
                    (Some(executor_id), agent_id) => deliver(Callback::ExecutorLost {
                        executor_id,
                        agent_id: agent_id.unwrap_or_default(),
                        status: failure.status.unwrap_or(-1),
                    }),
                    (None, Some(agent_id)) => deliver(Callback::AgentLost(agent_id)),
                    (None, None) => Vec::new(),
                },
                None => Vec::new(),
            },
            Some(event::Type::Error) => vec![Action::Abort {
                message: event
                    .error
                    .map(|e| e.message)
                    .unwrap_or_else(|| "error event without a message".into()),
            }],
            Some(event::Type::InverseOffers) => match event.inverse_offers {
                Some(inverse) if !inverse.inverse_offers.is_empty() => {
                    deliver(Callback::InverseOffers(inverse.inverse_offers))
                }
                _ => Vec::new(),
            },
            Some(event::Type::RescindInverseOffer) => match event.rescind_inverse_offer {
                Some(rescind) => deliver(Callback::InverseOfferRescinded(rescind.inverse_offer_id)),
                None => Vec::new(),
            },
            // Operation feedback has no callback in the Mesos scheduler API
            // this driver implements; heartbeats only prove liveness (the
            // I/O thread notes every event's arrival).
            Some(event::Type::UpdateOperationStatus)
            | Some(event::Type::Heartbeat)
            | Some(event::Type::Unknown)
            | None => Vec::new(),
        }
    }

    fn on_subscribed(&mut self, subscribed: event::Subscribed) -> Vec<Action> {
        self.subscribed = true;
        self.framework.id = Some(subscribed.framework_id.clone());
        self.heartbeat_interval = subscribed
            .heartbeat_interval_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
            .unwrap_or(DEFAULT_HEARTBEAT_INTERVAL);
        let master = subscribed
            .master_info
            .unwrap_or_else(|| self.fallback_master_info());
        let callback = if self.registered_before {
            Callback::Reregistered { master }
        } else {
            Callback::Registered {
                framework_id: subscribed.framework_id,
                master,
            }
        };
        self.registered_before = true;
        vec![Action::Deliver(callback)]
    }

    /// Masters before 1.1 leave `master_info` out of `SUBSCRIBED`; describe
    /// the one we connected to.
    fn fallback_master_info(&self) -> MasterInfo {
        let (host, port) = self
            .master
            .as_ref()
            .map(|m| (m.host().to_string(), m.port()))
            .unwrap_or_default();
        MasterInfo {
            port: u32::from(port),
            hostname: Some(host),
            ..Default::default()
        }
    }

    fn track(&mut self, status: &TaskStatus) {
        let state = TaskState::try_from(status.state).ok();
        if state.is_some_and(is_terminal) {
            self.task_agents.remove(&status.task_id.value);
        } else if let Some(agent_id) = &status.agent_id {
            self.task_agents
                .insert(status.task_id.value.clone(), agent_id.clone());
        }
    }

    /// Turns a request into the call to send, or, when not subscribed, into
    /// the callbacks standing for the dropped call (the call itself is lost:
    /// Mesos calls are not queued across disconnections). An
    /// `UpdateFramework` replaces the session's info and suppressed roles
    /// first, subscribed or not. `now` (seconds since the epoch) stamps the
    /// updates of dropped launches: the session reads no clock.
    pub fn prepare(&mut self, request: Request, now: f64) -> Result<Call, Vec<Callback>> {
        let request = match request {
            Request::UpdateFramework {
                framework,
                suppressed_roles,
            } => self.replace_framework(framework, suppressed_roles),
            other => other,
        };
        let launched: Vec<TaskInfo> = match &request {
            Request::Accept { operations, .. } => operations
                .iter()
                .flat_map(calls::launched_tasks)
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        if !self.subscribed {
            return Err(launched
                .iter()
                .map(|t| self.dropped_launch(t, now))
                .collect());
        }
        for task in &launched {
            self.task_agents
                .insert(task.task_id.value.clone(), task.agent_id.clone());
        }
        let kill_agent = match &request {
            Request::Kill { task_id } => self.agent_of(task_id).cloned(),
            _ => None,
        };
        Ok(request.into_call(self.framework_id().cloned(), kill_agent))
    }

    /// Takes `framework` (with this session's framework ID, whatever it
    /// carries) and `suppressed_roles` for every later SUBSCRIBE, and
    /// returns the request to send now.
    fn replace_framework(
        &mut self,
        mut framework: Box<FrameworkInfo>,
        suppressed_roles: Vec<String>,
    ) -> Request {
        framework.id = self.framework.id.clone();
        self.framework = (*framework).clone();
        self.suppressed_roles = suppressed_roles.clone();
        Request::UpdateFramework {
            framework,
            suppressed_roles,
        }
    }

    /// The update the Mesos driver synthesizes for a task it could not send.
    fn dropped_launch(&self, task: &TaskInfo, now: f64) -> Callback {
        let partition_aware = self
            .framework
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(framework_info::capability::Type::PartitionAware as i32));
        let state = if partition_aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };
        Callback::StatusUpdate(TaskStatus {
            task_id: task.task_id.clone(),
            state: state as i32,
            source: Some(task_status::Source::Master as i32),
            reason: Some(task_status::Reason::MasterDisconnected as i32),
            message: Some("Master disconnected".into()),
            agent_id: Some(task.agent_id.clone()),
            timestamp: Some(now),
            ..Default::default()
        })
    }
}

/// States after which a task never changes again.
pub fn is_terminal(state: TaskState) -> bool {
    state.is_terminal()
}
