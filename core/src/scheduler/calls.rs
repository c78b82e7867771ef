//! Building `mesos.v1.scheduler.Call`s: the pure half of every driver method.
//!
//! A driver method becomes a [`Request`] on the caller's thread; the I/O
//! thread's [`Session`](super::Session) completes it (framework ID, the
//! agent of a task to kill) and turns it into a `Call`.

use meseta_proto::scheduler::{call, Call};
use meseta_proto::v1::{
    self, offer, AgentId, ExecutorId, Filters, FrameworkId, FrameworkInfo, OfferId, TaskId,
    TaskInfo, TaskStatus,
};

/// One thing a framework asked its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `ACCEPT`: run `operations` on the offers' resources.
    Accept {
        /// Offers to use (all from one agent).
        offer_ids: Vec<OfferId>,
        /// LAUNCH, LAUNCH_GROUP, RESERVE, ...
        operations: Vec<offer::Operation>,
        /// How long to keep unused resources away from this framework.
        filters: Option<Filters>,
    },
    /// `DECLINE`.
    Decline {
        /// Offers to give back.
        offer_ids: Vec<OfferId>,
        /// How long not to offer them again.
        filters: Option<Filters>,
    },
    /// `ACCEPT_INVERSE_OFFERS` (`accept`) or `DECLINE_INVERSE_OFFERS`: the
    /// framework's answer to inverse offers (can it free the agents in
    /// time for their maintenance?).
    AnswerInverseOffers {
        /// The inverse offers answered.
        inverse_offer_ids: Vec<OfferId>,
        /// Whether the framework can comply.
        accept: bool,
        /// How long not to be asked again.
        filters: Option<Filters>,
    },
    /// `REVIVE`: clear filters, resume offers, for `roles` (empty: every
    /// role of the framework).
    Revive {
        /// The roles to revive.
        roles: Vec<String>,
    },
    /// `SUPPRESS`: stop sending offers for `roles` (empty: every role).
    Suppress {
        /// The roles to suppress.
        roles: Vec<String>,
    },
    /// `KILL`; the session adds the task's agent when it knows it.
    Kill {
        /// The task.
        task_id: TaskId,
    },
    /// `ACKNOWLEDGE` a status update.
    Acknowledge {
        /// Agent the update came from.
        agent_id: AgentId,
        /// Its task.
        task_id: TaskId,
        /// The update's `uuid`.
        uuid: Vec<u8>,
    },
    /// `MESSAGE` to an executor.
    Message {
        /// Agent running the executor.
        agent_id: AgentId,
        /// The executor.
        executor_id: ExecutorId,
        /// Opaque payload.
        data: Vec<u8>,
    },
    /// `RECONCILE` (an empty list asks for every task: implicit
    /// reconciliation).
    Reconcile {
        /// Tasks and, when known, their agents.
        tasks: Vec<(TaskId, Option<AgentId>)>,
    },
    /// `REQUEST` resources from the allocator.
    ResourceRequest {
        /// What is wanted.
        requests: Vec<v1::Request>,
    },
    /// `TEARDOWN`: end the framework, killing its tasks.
    Teardown,
    /// `UPDATE_FRAMEWORK`: replace the framework's info and its set of
    /// suppressed roles. The session sets `framework.id` to the assigned ID.
    UpdateFramework {
        /// The new info (boxed: it dwarfs every other request).
        framework: Box<FrameworkInfo>,
        /// Roles to suppress from now on; the framework's other roles are
        /// unsuppressed.
        suppressed_roles: Vec<String>,
    },
}

impl Request {
    /// `launchTasks` of the Mesos driver: an `ACCEPT` with one `LAUNCH`
    /// operation (or none, which declines the offers, when `tasks` is empty).
    pub fn launch(offer_ids: &[OfferId], tasks: Vec<TaskInfo>, filters: Option<Filters>) -> Self {
        let operations = if tasks.is_empty() {
            Vec::new()
        } else {
            vec![offer::Operation {
                r#type: Some(offer::operation::Type::Launch as i32),
                launch: Some(offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            }]
        };
        Self::Accept {
            offer_ids: offer_ids.to_vec(),
            operations,
            filters,
        }
    }

    /// The acknowledgement a status update needs, if any: only updates with
    /// a non-empty `uuid` (and a known agent) are acknowledged; the others
    /// are not retried by Mesos.
    pub fn acknowledge(status: &TaskStatus) -> Option<Self> {
        let uuid = status.uuid.as_ref().filter(|uuid| !uuid.is_empty())?;
        let agent_id = status.agent_id.clone()?;
        Some(Self::Acknowledge {
            agent_id,
            task_id: status.task_id.clone(),
            uuid: uuid.clone(),
        })
    }

    /// `reconcileTasks` of the Mesos driver: task IDs and agents taken from
    /// the statuses the framework last saw.
    pub fn reconcile(statuses: &[TaskStatus]) -> Self {
        Self::Reconcile {
            tasks: statuses
                .iter()
                .map(|status| (status.task_id.clone(), status.agent_id.clone()))
                .collect(),
        }
    }

    /// The call type's Mesos name, for logs and error messages.
    pub fn name(&self) -> &'static str {
        self.call_type().as_str_name()
    }

    fn call_type(&self) -> call::Type {
        match self {
            Self::Accept { .. } => call::Type::Accept,
            Self::Decline { .. } => call::Type::Decline,
            Self::AnswerInverseOffers { accept: true, .. } => call::Type::AcceptInverseOffers,
            Self::AnswerInverseOffers { accept: false, .. } => call::Type::DeclineInverseOffers,
            Self::Revive { .. } => call::Type::Revive,
            Self::Suppress { .. } => call::Type::Suppress,
            Self::Kill { .. } => call::Type::Kill,
            Self::Acknowledge { .. } => call::Type::Acknowledge,
            Self::Message { .. } => call::Type::Message,
            Self::Reconcile { .. } => call::Type::Reconcile,
            Self::ResourceRequest { .. } => call::Type::Request,
            Self::Teardown => call::Type::Teardown,
            Self::UpdateFramework { .. } => call::Type::UpdateFramework,
        }
    }

    /// The `Call`, given the framework ID and the agent of a task to kill.
    pub fn into_call(self, framework_id: Option<FrameworkId>, kill_agent: Option<AgentId>) -> Call {
        let mut out = Call {
            framework_id,
            r#type: Some(self.call_type() as i32),
            ..Default::default()
        };
        match self {
            Self::Accept {
                offer_ids,
                operations,
                filters,
            } => {
                out.accept = Some(call::Accept {
                    offer_ids,
                    operations,
                    filters,
                })
            }
            Self::Decline { offer_ids, filters } => {
                out.decline = Some(call::Decline { offer_ids, filters })
            }
            Self::AnswerInverseOffers {
                inverse_offer_ids,
                accept: true,
                filters,
            } => {
                out.accept_inverse_offers = Some(call::AcceptInverseOffers {
                    inverse_offer_ids,
                    filters,
                })
            }
            Self::AnswerInverseOffers {
                inverse_offer_ids,
                accept: false,
                filters,
            } => {
                out.decline_inverse_offers = Some(call::DeclineInverseOffers {
                    inverse_offer_ids,
                    filters,
                })
            }
            Self::Revive { roles } => out.revive = Some(call::Revive { roles }),
            Self::Suppress { roles } => out.suppress = Some(call::Suppress { roles }),
            Self::Kill { task_id } => {
                out.kill = Some(call::Kill {
                    task_id,
                    agent_id: kill_agent,
                    kill_policy: None,
                })
            }
            Self::Acknowledge {
                agent_id,
                task_id,
                uuid,
            } => {
                out.acknowledge = Some(call::Acknowledge {
                    agent_id,
                    task_id,
                    uuid,
                })
            }
            Self::Message {
                agent_id,
                executor_id,
                data,
            } => {
                out.message = Some(call::Message {
                    agent_id,
                    executor_id,
                    data,
                })
            }
            Self::Reconcile { tasks } => {
                out.reconcile = Some(call::Reconcile {
                    tasks: tasks
                        .into_iter()
                        .map(|(task_id, agent_id)| call::reconcile::Task { task_id, agent_id })
                        .collect(),
                })
            }
            Self::ResourceRequest { requests } => out.request = Some(call::Request { requests }),
            Self::Teardown => {}
            Self::UpdateFramework {
                framework,
                suppressed_roles,
            } => {
                out.update_framework = Some(call::UpdateFramework {
                    framework_info: *framework,
                    suppressed_roles,
                    offer_constraints: None,
                })
            }
        }
        out
    }
}

/// The `SUBSCRIBE` call for `framework`; when it has an ID (a re-subscription
/// or a failover), the ID is on both the call and the `FrameworkInfo`.
pub fn subscribe_call(framework: &FrameworkInfo) -> Call {
    subscribe_call_suppressed(framework, &[])
}

/// [`subscribe_call`] with roles that start suppressed.
pub fn subscribe_call_suppressed(framework: &FrameworkInfo, suppressed_roles: &[String]) -> Call {
    Call {
        framework_id: framework.id.clone().filter(|id| !id.value.is_empty()),
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: framework.clone(),
            suppressed_roles: suppressed_roles.to_vec(),
            offer_constraints: None,
        }),
        ..Default::default()
    }
}

/// The tasks an offer operation launches (`LAUNCH` and `LAUNCH_GROUP`).
pub fn launched_tasks(operation: &offer::Operation) -> Vec<&TaskInfo> {
    let mut tasks: Vec<&TaskInfo> = Vec::new();
    if let Some(launch) = &operation.launch {
        tasks.extend(launch.task_infos.iter());
    }
    if let Some(group) = &operation.launch_group {
        tasks.extend(group.task_group.tasks.iter());
    }
    tasks
}
