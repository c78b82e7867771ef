//! Agents: registration and re-registration over their gRPC stream, and
//! disconnection.
//!
//! An agent whose stream closes is deactivated at once (its offers are
//! rescinded, it gets no new ones) but keeps its tasks: it will most likely
//! reconnect (see [`super::health`] for agents that stay silent). When an
//! unreachable agent comes back, the tasks it still runs are re-admitted;
//! those of frameworks that are not partition-aware (and were told the
//! tasks were lost) are killed, as Mesos does. A gone agent is refused.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use meseta_allocator::Resources;
use meseta_proto::cluster::{self, agent_message, master_message, AgentMessage, MasterMessage};
use meseta_proto::v1::{self, task_status::Reason, TaskState};

use super::{allocated_role, is_terminal, Action, Agent, LinkId, Master, TaskRecord};

impl Master {
    /// A message arrived on an agent's stream. `Register` must come first.
    pub fn agent_message(
        &mut self,
        now: Duration,
        link: LinkId,
        message: AgentMessage,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(kind) = message.kind else {
            return actions;
        };
        if let agent_message::Kind::Register(register) = kind {
            self.register_agent(now, link, register, &mut actions);
            return actions;
        }
        let Some(agent_id) = self.links.get(&link).cloned() else {
            tracing::warn!(
                link,
                "message from an agent that has not registered; closing its stream"
            );
            actions.push(Action::CloseAgent { link });
            return actions;
        };
        if let Some(agent) = self.agents.get_mut(&agent_id) {
            agent.last_seen = now;
        }
        match kind {
            agent_message::Kind::Register(_) => {}
            agent_message::Kind::StatusUpdate(update) => {
                self.status_update(now, &agent_id, update, &mut actions)
            }
            agent_message::Kind::Pong(_) => {}
            agent_message::Kind::ExecutorMessage(m) => {
                self.executor_message(now, &agent_id, m, &mut actions)
            }
            agent_message::Kind::ExecutorExited(e) => {
                self.executor_exited(now, &agent_id, e, &mut actions)
            }
        }
        actions
    }

    fn register_agent(
        &mut self,
        now: Duration,
        link: LinkId,
        register: cluster::Register,
        actions: &mut Vec<Action>,
    ) {
        let mut info = register.info.clone();
        let claimed = info.id.as_ref().map(|id| id.value.clone());
        let agent_id = match &claimed {
            Some(id) => id.clone(),
            None => match self.agent_at(&register) {
                Some(known) => {
                    tracing::warn!(
                        agent_id = %known,
                        address = register.http_address.as_deref().unwrap_or_default(),
                        "an agent registered without its ID at the address of a registered agent (its Registered was lost, or it restarted without recovering); it keeps that agent's ID"
                    );
                    known
                }
                None => self.ids.agent_id(&self.info.id),
            },
        };
        info.id = Some(v1::AgentId {
            value: agent_id.clone(),
        });
        if self.gone.contains_key(&agent_id) {
            tracing::warn!(agent_id, "a gone agent tried to re-register; refused");
            actions.push(Action::ToAgent {
                link,
                message: MasterMessage {
                    kind: Some(master_message::Kind::Refused(cluster::Refused {
                        reason: Some(format!(
                            "agent {agent_id} was marked gone; restart it with a fresh work dir"
                        )),
                    })),
                },
            });
            actions.push(Action::CloseAgent { link });
            return;
        }
        let address = register.http_address.as_deref().unwrap_or_default();
        if self.machine_is_down(&info.hostname, address) {
            tracing::warn!(agent_id, hostname = %info.hostname, address, "an agent on a machine in maintenance tried to register; refused");
            actions.push(Action::ToAgent {
                link,
                message: MasterMessage {
                    kind: Some(master_message::Kind::Refused(cluster::Refused {
                        reason: Some(format!(
                            "machine {} is down for maintenance; it may register once an operator brings it up (STOP_MAINTENANCE)",
                            info.hostname
                        )),
                    })),
                },
            });
            actions.push(Action::CloseAgent { link });
            return;
        }
        if let Some(previous) = register.previous_agent_id.as_ref() {
            if previous.value != agent_id {
                self.mark_gone(now, &previous.value, actions);
            }
        }
        if let Some(operation) = self.admission_change(&agent_id, &info) {
            actions.push(Action::Persist(operation));
        }
        if let Some(old_link) = self.agents.get(&agent_id).and_then(|a| a.link) {
            if old_link != link {
                self.links.remove(&old_link);
                actions.push(Action::CloseAgent { link: old_link });
            }
        }
        self.links.insert(link, agent_id.clone());

        // Registered goes first: the agent acts on nothing before it.
        actions.push(Action::ToAgent {
            link,
            message: MasterMessage {
                kind: Some(master_message::Kind::Registered(cluster::Registered {
                    agent_id: v1::AgentId {
                        value: agent_id.clone(),
                    },
                    master_info: Some(self.info.clone()),
                    ping_interval_seconds: Some(self.settings.agent_ping_timeout.as_secs_f64()),
                })),
            },
        });
        self.counters.message(if claimed.is_some() {
            "messages_reregister_slave"
        } else {
            "messages_register_slave"
        });
        if self.agents.contains_key(&agent_id) {
            self.reregister_known_agent(
                now,
                link,
                &agent_id,
                info,
                register.tasks,
                register.http_address,
                actions,
            );
        } else {
            self.take_recovered(&agent_id);
            let was_unreachable = self.unreachable.remove(&agent_id).is_some();
            tracing::info!(agent_id, hostname = %info.hostname, was_unreachable, "agent registered");
            self.admit_agent(now, link, info, register, was_unreachable, actions);
        }
        self.allocation_wanted = true;
    }

    /// The agent at the address (and with the host name) of an agent that
    /// registers without an ID: registered, or admitted before a failover
    /// and not back yet. It is the same agent process, whose
    /// `Registered` was lost with its stream (or an agent restarted there
    /// without recovering, whose tasks are then gone). As Mesos matches a
    /// retried registration to its agent by address, the agent keeps its ID
    /// instead of leaving a ghost behind that would turn unreachable, with
    /// whatever was launched on it in between.
    fn agent_at(&self, register: &cluster::Register) -> Option<String> {
        if register.previous_agent_id.is_some() {
            // It chose to start over as a new agent (its info changed).
            return None;
        }
        let info = &register.info;
        let address = register.http_address.as_deref().filter(|a| !a.is_empty());
        let same_port = |known: &v1::AgentInfo| {
            info.port.is_some() && known.port == info.port && known.hostname == info.hostname
        };
        let mut matching: Vec<&String> = self
            .hosts
            .at(&info.hostname)
            .iter()
            .filter(|id| {
                if let Some(a) = self.agents.get(*id) {
                    let same_address = address == Some(a.http_address.as_str());
                    (a.info.hostname == info.hostname && same_address) || same_port(&a.info)
                } else {
                    // Admitted by an earlier master: known by host and port.
                    self.recovered.get(*id).is_some_and(|r| same_port(&r.info))
                }
            })
            .collect();
        matching.sort_unstable();
        matching.first().map(|id| (*id).clone())
    }

    /// Adds an agent the master does not track (new, restarted master, or
    /// back from unreachable), with whatever tasks it reports.
    fn admit_agent(
        &mut self,
        now: Duration,
        link: LinkId,
        info: v1::AgentInfo,
        register: cluster::Register,
        was_unreachable: bool,
        actions: &mut Vec<Action>,
    ) {
        let agent_id = info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        for framework_info in register.frameworks {
            let Some(id) = framework_info.id.as_ref().map(|i| i.value.clone()) else {
                continue;
            };
            if !self.frameworks.contains_key(&id) {
                self.add_recovered_framework(now, id, framework_info);
            }
        }
        let mut used: BTreeMap<(String, String), Resources> = BTreeMap::new();
        let mut task_keys = HashSet::new();
        let mut kills = Vec::new();
        for task in register.tasks {
            let state = TaskState::try_from(task.state).unwrap_or(TaskState::TaskLost);
            let framework_id = task.framework_id.value.clone();
            let Some(framework) = self.frameworks.get_mut(&framework_id) else {
                continue;
            };
            // A terminal task is still reported while its last update waits
            // for an acknowledgement: it is tracked (for reconciliation and
            // the acknowledgement) but holds no resources.
            let terminal = is_terminal(state);
            let resources = Resources::from_mesos(&task.resources);
            let role = allocated_role(&task.resources).unwrap_or_else(|| framework.role());
            if !terminal {
                used.entry((framework_id.clone(), role.clone()))
                    .or_default()
                    .add(&resources);
            }
            if was_unreachable && !terminal && !framework.partition_aware() {
                kills.push((framework_id.clone(), task.task_id.clone()));
            }
            task_keys.insert((framework_id.clone(), task.task_id.value.clone()));
            let unacknowledged = task.status_update_uuid.clone();
            framework.tasks.insert(
                task.task_id.value.clone(),
                TaskRecord {
                    task: Arc::new(task),
                    resources,
                    role,
                    resources_recovered: terminal,
                    unacknowledged,
                },
            );
        }
        let total = Resources::from_mesos(&info.resources);
        let used: Vec<(String, String, Resources)> = used
            .into_iter()
            .map(|((framework, role), resources)| (framework, role, resources))
            .collect();
        self.allocator.add_agent(&agent_id, total.clone(), &used);
        self.allocator
            .describe_agent(&agent_id, meseta_allocator::AgentProfile::of(&info));
        self.hosts.add(&info.hostname, &agent_id);
        self.agents.insert(
            agent_id.clone(),
            Agent {
                id: agent_id.clone(),
                info: Arc::new(info),
                link: Some(link),
                active: true,
                registered_time: now,
                reregistered_time: None,
                http_address: register.http_address.unwrap_or_default(),
                version: register.version.unwrap_or_default(),
                total,
                last_seen: now,
                last_ping: now,
                tasks: task_keys,
                deactivated: false,
                drain: None,
            },
        );
        self.observe_agent_added(&agent_id, actions);
        if was_unreachable {
            self.forget_vanished_tasks(now, &agent_id, actions);
        }
        for (framework_id, task_id) in kills {
            self.send_agent(
                &agent_id,
                MasterMessage {
                    kind: Some(master_message::Kind::KillTask(cluster::KillTask {
                        framework_id: v1::FrameworkId {
                            value: framework_id,
                        },
                        task_id,
                        kill_policy: None,
                    })),
                },
                actions,
            );
        }
    }

    /// Tasks that were unreachable on an agent which came back without them
    /// (it restarted and lost them) are gone.
    fn forget_vanished_tasks(&mut self, now: Duration, agent_id: &str, actions: &mut Vec<Action>) {
        let reported = self
            .agents
            .get(agent_id)
            .map(|a| a.tasks.clone())
            .unwrap_or_default();
        let mut vanished: Vec<(String, String)> = self
            .frameworks
            .values()
            .flat_map(|f| {
                f.tasks
                    .values()
                    .filter(|r| {
                        r.task.agent_id.value == agent_id && r.state() == TaskState::TaskUnreachable
                    })
                    .map(|r| (f.id.clone(), r.task.task_id.value.clone()))
            })
            .filter(|key| !reported.contains(key))
            .collect();
        vanished.sort_unstable();
        for (framework_id, task_id) in vanished {
            self.fail_task(
                now,
                &framework_id,
                &task_id,
                TaskState::TaskGone,
                Reason::AgentRestarted,
                "The agent came back without this task",
                false,
                actions,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reregister_known_agent(
        &mut self,
        now: Duration,
        link: LinkId,
        agent_id: &str,
        info: v1::AgentInfo,
        reported: Vec<v1::Task>,
        http_address: Option<String>,
        actions: &mut Vec<Action>,
    ) {
        tracing::info!(agent_id, "agent re-registered");
        let reported: HashSet<(String, String)> = reported
            .iter()
            .map(|t| (t.framework_id.value.clone(), t.task_id.value.clone()))
            .collect();
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        agent.link = Some(link);
        agent.active = !agent.deactivated;
        agent.last_seen = now;
        agent.last_ping = now;
        agent.reregistered_time = Some(now);
        self.hosts.add(&info.hostname, agent_id);
        let reported_resources = info.resources.clone();
        agent.info = Arc::new(info);
        if let Some(address) = http_address {
            agent.http_address = address;
        }
        self.resend_reservations(agent_id, &reported_resources, actions);
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        let mut missing: Vec<(String, String)> = agent
            .tasks
            .iter()
            .filter(|key| !reported.contains(*key))
            .cloned()
            .collect();
        missing.sort_unstable();
        let agent_active = agent.active;
        if agent_active {
            self.allocator.activate_agent(agent_id);
        }
        for (framework_id, task_id) in missing {
            let state = self
                .frameworks
                .get(&framework_id)
                .and_then(|f| f.tasks.get(&task_id))
                .map(|r| r.state())
                .filter(|state| !is_terminal(*state));
            // A launch still in flight never reached the agent; a task that
            // had started was lost with an agent restart (its framework did
            // not checkpoint, so the agent did not recover it).
            let (state, message) = match state {
                None => continue,
                Some(TaskState::TaskStaging) => (
                    TaskState::TaskDropped,
                    "Task was not received by the agent before it reconnected",
                ),
                Some(_) => (
                    TaskState::TaskGone,
                    "The agent re-registered without this task (it restarted without recovering it)",
                ),
            };
            self.fail_task(
                now,
                &framework_id,
                &task_id,
                state,
                Reason::AgentRestarted,
                message,
                true,
                actions,
            );
        }
    }

    /// Marks a task terminal on the master's own authority and tells the framework.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fail_task(
        &mut self,
        now: Duration,
        framework_id: &str,
        task_id: &str,
        state: TaskState,
        reason: Reason,
        message: &str,
        recover: bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let Some(mut record) = framework.tasks.remove(task_id) else {
            return;
        };
        let agent_id = record.task.agent_id.value.clone();
        if recover && !record.resources_recovered {
            record.release_to(&mut self.allocator, framework_id, now);
        }
        Arc::make_mut(&mut record.task).state = state as i32;
        *self
            .counters
            .terminal
            .entry(state.as_str_name())
            .or_default() += 1;
        framework.completed_tasks.push_back(record.task);
        if let Some(agent) = self.agents.get_mut(&agent_id) {
            agent
                .tasks
                .remove(&(framework_id.to_string(), task_id.to_string()));
        }
        self.master_update(
            now,
            framework_id,
            task_id,
            Some(&agent_id),
            state,
            reason,
            message,
            actions,
        );
    }

    /// An agent's stream closed: no offers until it reconnects.
    pub fn agent_disconnected(&mut self, now: Duration, link: LinkId) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(agent_id) = self.links.remove(&link) else {
            return actions;
        };
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return actions;
        };
        if agent.link != Some(link) {
            return actions;
        }
        tracing::info!(agent_id, "agent disconnected");
        agent.link = None;
        agent.active = false;
        self.allocator.deactivate_agent(&agent_id);
        self.rescind_agent_offers(&agent_id, now, &mut actions);
        actions
    }
}
