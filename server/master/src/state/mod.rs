//! The master as a state machine: inputs are method calls that take `now`
//! (time since the UNIX epoch) and return [`Action`]s; nothing here blocks,
//! sleeps, or touches a socket.
//!
//! One module per operation:
//! * [`subscription`]: SUBSCRIBE, re-subscription, disconnection, TEARDOWN,
//!   framework failover timeouts;
//! * [`offers`]: allocation cycles into OFFERS, DECLINE, REVIVE, SUPPRESS,
//!   rescinding;
//! * [`accept`]: ACCEPT with LAUNCH / LAUNCH_GROUP and their validation;
//! * [`updates`]: status updates from agents, ACKNOWLEDGE, KILL, SHUTDOWN,
//!   MESSAGE in both directions;
//! * [`update_framework`]: UPDATE_FRAMEWORK, and the role and suppressed
//!   roles a framework subscribes with;
//! * [`reconcile`]: RECONCILE, explicit and implicit;
//! * [`agents`]: agent (re-)registration and disconnection;
//! * [`health`]: pings, unreachable and gone agents;
//! * [`recovery`]: starting from the registry after a failover or restart,
//!   agents that never come back, agents that are gone for good.
//!
//! Invariants kept across modules:
//! * every resource on an agent is either free in the allocator, offered
//!   (in exactly one outstanding offer), or used by one non-terminal task;
//! * a framework's tasks stay in `Framework::tasks` until their terminal
//!   update is acknowledged, then move to `completed_tasks`;
//! * a change the master acknowledges (an agent's `Registered`, a
//!   framework's `SUBSCRIBED`, the `200 OK` of UPDATE_FRAMEWORK) is preceded
//!   by an [`Action::Persist`] of it, and the shell persists before it sends
//!   or answers a call (see [`crate::registry`]);
//! * updates the master makes up itself (errors, reconciliation, lost agents)
//!   carry no uuid, so schedulers do not acknowledge them, as in Mesos;
//! * the same inputs (with the same [`Ids`] seed and allocator seed) give
//!   the same actions in the same order: IDs come from [`Ids`], time from
//!   `now`, and where actions come from walking a hash map or set, the keys
//!   are sorted first (hash maps iterate in a per-process random order).

mod accept;
mod agents;
mod containers;
mod health;
mod hosts;
mod ids;
mod maintenance;
mod offer_constraints;
mod offers;
pub mod operator;
mod quota;
mod reconcile;
mod recovery;
mod reservations;
pub mod snapshot;
mod subscription;
mod update_framework;
mod updates;
pub mod view;
mod volumes;
mod weights;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use meseta_allocator::{Allocator, AllocatorConfig, Resources};
use meseta_proto::cluster::MasterMessage;
use meseta_proto::registry::Operation;
use meseta_proto::scheduler::{call, Call, Event};
use meseta_proto::v1;

use crate::config::Settings;
pub use health::Removal;
pub use ids::Ids;
pub use quota::sorted_amounts;

/// Identifies one framework subscription stream (one HTTP response).
pub type ConnId = u64;
/// Identifies one agent's gRPC stream.
pub type LinkId = u64;

/// What the shell must do after an input.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // built once and moved straight to a channel
pub enum Action {
    /// Send an event down a framework's subscription stream.
    ToFramework {
        /// The stream.
        conn: ConnId,
        /// The event.
        event: Event,
    },
    /// Close a framework's subscription stream.
    CloseFramework {
        /// The stream.
        conn: ConnId,
    },
    /// Send a message down an agent's stream.
    ToAgent {
        /// The stream.
        link: LinkId,
        /// The message.
        message: MasterMessage,
    },
    /// Close an agent's stream.
    CloseAgent {
        /// The stream.
        link: LinkId,
    },
    /// Write a registry operation. The shell persists every operation of a
    /// batch before it performs any other action of that batch.
    Persist(Operation),
    /// Send an event to every operator API subscriber (only while
    /// [`Master::set_observed`] says someone watches).
    ToOperators(Box<meseta_proto::master::Event>),
}

/// A scheduler call the master refuses; the shell maps it to HTTP.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The call is malformed or inconsistent (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// The framework is not subscribed, or unknown (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// The call type is not implemented (HTTP 501).
    #[error("{0}")]
    NotImplemented(String),
    /// The master cannot answer now, e.g. it is stopping (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
    /// The call conflicts with the cluster as it is, e.g. quota guarantees
    /// beyond its capacity (HTTP 409).
    #[error("{0}")]
    Conflict(String),
}

/// What the master knows of a framework.
#[derive(Debug, Clone)]
pub struct Framework {
    /// The framework's ID (also in `info.id`).
    pub id: String,
    /// As given at (re-)subscription, with the ID filled in.
    pub info: v1::FrameworkInfo,
    /// The open subscription stream, if connected.
    pub conn: Option<ConnId>,
    /// The `Mesos-Stream-Id` of the open stream.
    pub stream_id: Option<String>,
    /// Connected and not torn down.
    pub active: bool,
    /// When it first subscribed to this master.
    pub registered_time: Duration,
    /// When it was last re-subscribed.
    pub reregistered_time: Option<Duration>,
    /// When it disconnected, if it is disconnected.
    pub unregistered_time: Option<Duration>,
    /// A disconnected framework is removed at this time.
    pub failover_deadline: Option<Duration>,
    /// Non-terminal tasks, and terminal ones not yet acknowledged.
    pub tasks: HashMap<String, TaskRecord>,
    /// Finished tasks, newest last.
    pub completed_tasks: VecDeque<Arc<v1::Task>>,
    /// IDs of its outstanding offers.
    pub offers: HashSet<String>,
    /// Last time an event was sent (for heartbeats).
    pub last_event: Duration,
    /// Its roles whose offers are suppressed (SUPPRESS, or the
    /// `suppressed_roles` of SUBSCRIBE or UPDATE_FRAMEWORK).
    pub suppressed_roles: BTreeSet<String>,
    /// Executors known to run on agents: (agent, executor) → info, ordered
    /// so that one agent's are a range (each offer lists them).
    pub executors: BTreeMap<(String, String), v1::ExecutorInfo>,
    /// Known from the registry or an agent, not subscribed to this master yet.
    pub recovered: bool,
    /// Its offer constraints, by role, as SUBSCRIBE or UPDATE_FRAMEWORK
    /// last gave them (checked; see [`offer_constraints`]).
    pub offer_constraints: Option<meseta_proto::scheduler::OfferConstraints>,
}

impl Framework {
    /// A framework that is known but not connected.
    pub fn new(id: String, info: v1::FrameworkInfo, now: Duration) -> Self {
        Self {
            id,
            info,
            conn: None,
            stream_id: None,
            active: false,
            registered_time: now,
            reregistered_time: None,
            unregistered_time: None,
            failover_deadline: None,
            tasks: HashMap::new(),
            completed_tasks: VecDeque::new(),
            offers: HashSet::new(),
            last_event: now,
            suppressed_roles: BTreeSet::new(),
            executors: BTreeMap::new(),
            recovered: false,
            offer_constraints: None,
        }
    }

    /// Whether the framework declared the `PARTITION_AWARE` capability.
    pub fn partition_aware(&self) -> bool {
        has_capability(
            &self.info,
            v1::framework_info::capability::Type::PartitionAware,
        )
    }

    /// Its first role (first of `roles`, else `role`, else `*`): the one
    /// the endpoints name where Mesos shows one role.
    pub fn role(&self) -> String {
        framework_role(&self.info)
    }

    /// The roles it is offered resources for.
    pub fn roles(&self) -> Vec<String> {
        framework_roles(&self.info)
    }

    /// Whether offers to every one of its roles are suppressed.
    pub fn suppressed(&self) -> bool {
        self.roles()
            .iter()
            .all(|role| self.suppressed_roles.contains(role))
    }
}

/// Whether a framework declared a capability.
pub fn has_capability(
    info: &v1::FrameworkInfo,
    wanted: v1::framework_info::capability::Type,
) -> bool {
    info.capabilities
        .iter()
        .any(|c| c.r#type == Some(wanted as i32))
}

/// What a framework declared that the allocator heeds: `GPU_RESOURCES`
/// (agents with GPUs, see `--filter-gpu-resources`) and
/// `RESERVATION_REFINEMENT` (refined reservations).
pub fn allocator_capabilities(info: &v1::FrameworkInfo) -> meseta_allocator::Capabilities {
    use v1::framework_info::capability::Type;
    meseta_allocator::Capabilities {
        gpu_resources: has_capability(info, Type::GpuResources),
        reservation_refinement: has_capability(info, Type::ReservationRefinement),
    }
}

/// The roles a framework subscribes to: `roles` (MULTI_ROLE), else the
/// legacy `role`, else `*`.
pub fn framework_roles(info: &v1::FrameworkInfo) -> Vec<String> {
    if !info.roles.is_empty() {
        return info.roles.clone();
    }
    vec![framework_role(info)]
}

/// A framework's first role (see [`framework_roles`]).
pub fn framework_role(info: &v1::FrameworkInfo) -> String {
    info.roles
        .first()
        .cloned()
        .or_else(|| {
            #[allow(deprecated)]
            info.role.clone()
        })
        .unwrap_or_else(|| "*".to_string())
}

/// The role resources are allocated to, if they say
/// (`allocation_info.role`; agents report their tasks' resources so).
pub fn allocated_role(resources: &[v1::Resource]) -> Option<String> {
    resources
        .iter()
        .find_map(|r| r.allocation_info.as_ref()?.role.clone())
}

/// A task as the master tracks it.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    /// The Mesos view of the task (state, statuses, resources, ...),
    /// shared with snapshots the endpoints render outside the loop (change
    /// it through `Arc::make_mut`).
    pub task: Arc<v1::Task>,
    /// Its resources, in the allocator's form (task plus a new executor's).
    pub resources: Resources,
    /// The role they are allocated to (of the offer it was launched from,
    /// or as the agent reports it): the allocator gets them back there.
    pub role: String,
    /// Resources were already given back to the allocator.
    pub resources_recovered: bool,
    /// UUID of the last status update forwarded and not yet acknowledged.
    pub unacknowledged: Option<Vec<u8>>,
}

impl TaskRecord {
    /// Gives the task's resources back to the allocator, in the role they
    /// were allocated in.
    fn release_to(&self, allocator: &mut Allocator, framework_id: &str, now: Duration) {
        allocator.recover(
            framework_id,
            &self.role,
            &self.task.agent_id.value,
            &self.resources,
            None,
            now,
        );
    }

    /// The task's current state.
    pub fn state(&self) -> v1::TaskState {
        v1::TaskState::try_from(self.task.state).unwrap_or(v1::TaskState::TaskStaging)
    }
}

/// What the master knows of a registered agent.
#[derive(Debug, Clone)]
pub struct Agent {
    /// Agent ID.
    pub id: String,
    /// As registered, with the ID filled in (shared with snapshots).
    pub info: Arc<v1::AgentInfo>,
    /// Its open stream, when connected.
    pub link: Option<LinkId>,
    /// Connected (offers are made only for active agents).
    pub active: bool,
    /// First registration.
    pub registered_time: Duration,
    /// Last re-registration.
    pub reregistered_time: Option<Duration>,
    /// The agent's HTTP address (`host:port`).
    pub http_address: String,
    /// The agent's version string.
    pub version: String,
    /// Total resources.
    pub total: Resources,
    /// Last sign of life (registration or pong).
    pub last_seen: Duration,
    /// Last ping sent.
    pub last_ping: Duration,
    /// Tasks on this agent: (framework, task).
    pub tasks: HashSet<(String, String)>,
    /// Deactivated by an operator (DEACTIVATE_AGENT): not offered, even
    /// while connected, until REACTIVATE_AGENT.
    pub deactivated: bool,
    /// A drain in progress or done (DRAIN_AGENT), until REACTIVATE_AGENT.
    pub drain: Option<v1::DrainInfo>,
}

/// An agent that went silent; it may come back.
#[derive(Debug, Clone)]
pub struct UnreachableAgent {
    /// The agent's last known info.
    pub info: v1::AgentInfo,
    /// When it was marked unreachable.
    pub since: Duration,
}

/// An agent the registry lists but that has not re-registered with this
/// master yet (it leads since a failover or restart).
#[derive(Debug, Clone)]
pub struct RecoveredAgent {
    /// The agent's info as last admitted.
    pub info: v1::AgentInfo,
    /// Marked unreachable if it has not re-registered by then.
    pub deadline: Duration,
}

/// An outstanding offer.
#[derive(Debug, Clone)]
pub struct OfferRecord {
    /// Framework it was made to.
    pub framework_id: String,
    /// Agent whose resources it holds.
    pub agent_id: String,
    /// The resources, allocator form.
    pub resources: Resources,
    /// The role they are allocated to.
    pub role: String,
    /// When it was made (for the offer timeout).
    pub made_at: Duration,
}

/// Counters for `/metrics/snapshot`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Terminal task states reached, by state name (`TASK_FINISHED`, ...).
    pub terminal: HashMap<&'static str, u64>,
    /// Offers sent.
    pub offers_sent: u64,
    /// Offers rescinded.
    pub offers_rescinded: u64,
    /// Status updates received from agents.
    pub status_updates: u64,
    /// Invalid calls refused.
    pub invalid_calls: u64,
    /// Agents that were marked unreachable.
    pub agents_unreachable: u64,
    /// Frameworks removed.
    pub frameworks_removed: u64,
    /// Allocation cycles run (`allocator/mesos/allocation_runs`).
    pub allocation_runs: u64,
    /// Messages and calls received, by Mesos's metric name without its
    /// `master/` prefix (`messages_kill_task`, ...), counted as Mesos counts
    /// them (see [`MESSAGE_METRICS`]).
    pub messages: BTreeMap<&'static str, u64>,
}

/// The `master/messages_*` metrics: always present, zero until counted.
pub const MESSAGE_METRICS: &[&str] = &[
    "messages_register_framework",
    "messages_reregister_framework",
    "messages_unregister_framework",
    "messages_deactivate_framework",
    "messages_kill_task",
    "messages_status_update_acknowledgement",
    "messages_resource_request",
    "messages_launch_tasks",
    "messages_decline_offers",
    "messages_revive_offers",
    "messages_suppress_offers",
    "messages_reconcile_tasks",
    "messages_framework_to_executor",
    "messages_register_slave",
    "messages_reregister_slave",
    "messages_unregister_slave",
    "messages_status_update",
    "messages_exited_executor",
];

impl Counters {
    /// Counts one message of the metric `name` (one of [`MESSAGE_METRICS`]).
    pub(crate) fn message(&mut self, name: &'static str) {
        *self.messages.entry(name).or_default() += 1;
    }
}

/// The master's whole state.
pub struct Master {
    settings: Settings,
    info: v1::MasterInfo,
    allocator: Allocator,
    frameworks: HashMap<String, Framework>,
    completed_frameworks: VecDeque<Framework>,
    agents: HashMap<String, Agent>,
    unreachable: HashMap<String, UnreachableAgent>,
    recovered: HashMap<String, RecoveredAgent>,
    /// `agents` and `recovered` by host name.
    hosts: hosts::HostIndex,
    gone: HashMap<String, Duration>,
    offers: HashMap<String, OfferRecord>,
    /// IDs of `offers` by agent: an agent that goes away rescinds its own
    /// without a walk over every offer (40,000 agents reconnecting at
    /// once made that quadratic).
    agent_offers: HashMap<String, Vec<String>>,
    conns: HashMap<ConnId, String>,
    links: HashMap<LinkId, String>,
    ids: Ids,
    start_time: Duration,
    elected_time: Duration,
    counters: Counters,
    allocation_wanted: bool,
    /// Operators watch (SUBSCRIBE on the operator API): changes also
    /// produce [`Action::ToOperators`].
    observed: bool,
    /// Role weights in force (see [`weights`]).
    weights: BTreeMap<String, f64>,
    /// Role quotas in force, by role (see [`quota`]).
    quotas: BTreeMap<String, meseta_proto::quota::QuotaConfig>,
    /// The maintenance schedule and the machines down (see [`maintenance`]).
    maintenance: meseta_proto::registry::Maintenance,
    /// Outstanding inverse offers: ID → (framework, agent).
    inverse_offers: HashMap<String, (String, String)>,
    /// Frameworks' answers to inverse offers, by (agent, framework).
    inverse_statuses: BTreeMap<(String, String), meseta_proto::allocator::InverseOfferStatus>,
}

impl Master {
    /// A master with no agents or frameworks. Every ID it makes comes from
    /// `ids` (the framework, agent and offer IDs under `info.id`); pass
    /// [`Ids::random`] to serve, [`Ids::seeded`] (with the same seed in
    /// `allocator.seed`) to replay a run.
    pub fn new(
        settings: Settings,
        info: v1::MasterInfo,
        allocator: AllocatorConfig,
        ids: Ids,
        now: Duration,
    ) -> Self {
        Self {
            settings,
            info,
            allocator: Allocator::new(allocator),
            frameworks: HashMap::new(),
            completed_frameworks: VecDeque::new(),
            agents: HashMap::new(),
            unreachable: HashMap::new(),
            recovered: HashMap::new(),
            hosts: hosts::HostIndex::default(),
            gone: HashMap::new(),
            offers: HashMap::new(),
            agent_offers: HashMap::new(),
            conns: HashMap::new(),
            links: HashMap::new(),
            ids,
            start_time: now,
            elected_time: now,
            counters: Counters::default(),
            allocation_wanted: false,
            observed: false,
            weights: BTreeMap::new(),
            quotas: BTreeMap::new(),
            maintenance: Default::default(),
            inverse_offers: HashMap::new(),
            inverse_statuses: BTreeMap::new(),
        }
    }

    /// This master's info.
    pub fn info(&self) -> &v1::MasterInfo {
        &self.info
    }

    /// Whether something happened that an allocation cycle could act on
    /// (resources freed, framework added or revived). The shell uses it to
    /// run a cycle soon instead of waiting for the next interval.
    pub fn allocation_wanted(&self) -> bool {
        self.allocation_wanted
    }

    /// Handles one scheduler call other than SUBSCRIBE, from the stream
    /// identified by `stream_id` (the `Mesos-Stream-Id` header).
    pub fn scheduler_call(
        &mut self,
        now: Duration,
        call: Call,
        stream_id: &str,
    ) -> Result<Vec<Action>, CallError> {
        let framework_id = self.check_caller(&call, stream_id).inspect_err(|_| {
            self.counters.invalid_calls += 1;
        })?;
        let mut actions = Vec::new();
        let kind = call
            .r#type
            .and_then(|t| call::Type::try_from(t).ok())
            .unwrap_or(call::Type::Unknown);
        self.count_call(kind, &call);
        let result = match kind {
            call::Type::Teardown => {
                self.remove_framework(now, &framework_id, &mut actions);
                Ok(())
            }
            call::Type::Accept => self.accept(now, &framework_id, call.accept, &mut actions),
            call::Type::Decline => self.decline(now, &framework_id, call.decline),
            call::Type::Revive => {
                let roles = call.revive.map(|r| r.roles).unwrap_or_default();
                self.revive_roles(&framework_id, &roles);
                Ok(())
            }
            call::Type::Suppress => {
                let roles = call.suppress.map(|s| s.roles).unwrap_or_default();
                self.suppress_roles(&framework_id, &roles);
                Ok(())
            }
            call::Type::Kill => self.kill(now, &framework_id, call.kill, &mut actions),
            call::Type::Shutdown => {
                self.shutdown_executor(&framework_id, call.shutdown, &mut actions)
            }
            call::Type::Acknowledge => {
                self.acknowledge(now, &framework_id, call.acknowledge, &mut actions)
            }
            call::Type::Reconcile => {
                self.reconcile(now, &framework_id, call.reconcile, &mut actions)
            }
            call::Type::Message => {
                self.framework_message(&framework_id, call.message, &mut actions)
            }
            call::Type::UpdateFramework => {
                self.update_framework(now, &framework_id, call.update_framework, &mut actions)
            }
            call::Type::Request => Ok(()),
            call::Type::AcceptInverseOffers | call::Type::DeclineInverseOffers => {
                let accepted = kind == call::Type::AcceptInverseOffers;
                let ids = if accepted {
                    call.accept_inverse_offers.map(|a| a.inverse_offer_ids)
                } else {
                    call.decline_inverse_offers.map(|d| d.inverse_offer_ids)
                };
                self.answer_inverse_offers(now, &framework_id, &ids.unwrap_or_default(), accepted);
                Ok(())
            }
            call::Type::Subscribe => Err(CallError::BadRequest(
                "SUBSCRIBE must not carry a Mesos-Stream-Id header".into(),
            )),
            call::Type::Unknown => Err(CallError::BadRequest(
                "Expecting 'type' to be present".into(),
            )),
            other => Err(CallError::NotImplemented(format!(
                "call {} is not supported by this master yet",
                other.as_str_name()
            ))),
        };
        if result.is_err() {
            self.counters.invalid_calls += 1;
        }
        result.map(|()| actions)
    }

    /// Counts a framework's call in the metric Mesos counts it in: an
    /// ACCEPT counts each LAUNCH as a launch, or as a decline when it
    /// launches nothing.
    fn count_call(&mut self, kind: call::Type, call: &Call) {
        let name = match kind {
            call::Type::Teardown => "messages_unregister_framework",
            call::Type::Decline => "messages_decline_offers",
            call::Type::Revive => "messages_revive_offers",
            call::Type::Suppress => "messages_suppress_offers",
            call::Type::Kill => "messages_kill_task",
            call::Type::Acknowledge => "messages_status_update_acknowledgement",
            call::Type::Reconcile => "messages_reconcile_tasks",
            call::Type::Message => "messages_framework_to_executor",
            call::Type::Request => "messages_resource_request",
            call::Type::Accept => {
                let launches: Vec<bool> = call
                    .accept
                    .iter()
                    .flat_map(|a| &a.operations)
                    .filter(|op| op.r#type == Some(v1::offer::operation::Type::Launch as i32))
                    .map(|op| op.launch.as_ref().is_some_and(|l| !l.task_infos.is_empty()))
                    .collect();
                for launches_tasks in launches {
                    self.counters.message(if launches_tasks {
                        "messages_launch_tasks"
                    } else {
                        "messages_decline_offers"
                    });
                }
                return;
            }
            _ => return,
        };
        self.counters.message(name);
    }

    /// Validates the framework ID and stream ID of a non-SUBSCRIBE call.
    fn check_caller(&self, call: &Call, stream_id: &str) -> Result<String, CallError> {
        let framework_id = call
            .framework_id
            .as_ref()
            .map(|id| id.value.clone())
            .ok_or_else(|| {
                CallError::BadRequest("Expecting 'framework_id' to be present".into())
            })?;
        let framework = self.frameworks.get(&framework_id).ok_or_else(|| {
            CallError::Forbidden(format!("Framework {framework_id} is not subscribed"))
        })?;
        match &framework.stream_id {
            None => Err(CallError::Forbidden(format!(
                "Framework {framework_id} is not subscribed"
            ))),
            Some(current) if current != stream_id => Err(CallError::BadRequest(format!(
                "The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID {framework_id}"
            ))),
            Some(_) => Ok(framework_id),
        }
    }

    /// Periodic work: heartbeats, pings, agent and framework timeouts, and an
    /// allocation cycle. The shell calls it every allocation interval, and
    /// sooner when [`Master::allocation_wanted`] is set.
    pub fn tick(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        self.expire_frameworks(now, &mut actions);
        self.expire_recovered_agents(now, &mut actions);
        self.check_agents(now, &mut actions);
        self.send_heartbeats(now, &mut actions);
        self.expire_offers(now, &mut actions);
        self.allocate(now, &mut actions);
        actions
    }

    fn send_heartbeats(&mut self, now: Duration, actions: &mut Vec<Action>) {
        let interval = self.settings.heartbeat_interval;
        let mut due = Vec::new();
        for framework in self.frameworks.values_mut() {
            let Some(conn) = framework.conn else { continue };
            if now.saturating_sub(framework.last_event) >= interval {
                framework.last_event = now;
                due.push(conn);
            }
        }
        // In stream order, not the map's (see "Invariants" above).
        due.sort_unstable();
        for conn in due {
            actions.push(Action::ToFramework {
                conn,
                event: Event {
                    r#type: Some(meseta_proto::scheduler::event::Type::Heartbeat as i32),
                    ..Default::default()
                },
            });
        }
    }

    /// Sends an event to a framework if it is connected.
    fn send(&mut self, framework_id: &str, event: Event, now: Duration, actions: &mut Vec<Action>) {
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            if let Some(conn) = framework.conn {
                framework.last_event = now;
                actions.push(Action::ToFramework { conn, event });
            }
        }
    }

    /// Sends a message to an agent if it is connected.
    fn send_agent(&self, agent_id: &str, message: MasterMessage, actions: &mut Vec<Action>) {
        if let Some(link) = self.agents.get(agent_id).and_then(|a| a.link) {
            actions.push(Action::ToAgent { link, message });
        }
    }
}

/// Seconds since the epoch, as Mesos timestamps are.
pub(crate) fn seconds(now: Duration) -> f64 {
    now.as_secs_f64()
}

/// Whether a state is terminal.
pub fn is_terminal(state: v1::TaskState) -> bool {
    state.is_terminal()
}

#[cfg(test)]
mod tests;
