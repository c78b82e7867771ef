//! Fixtures, in the spirit of Nomad's `mock.Node()` and `mock.Job()`: each
//! builder starts from a valid, ordinary value and a test changes only what
//! it is about. Calls are built here too, and the [`Harness`] learns a few
//! steps (register an agent, run a cycle, launch), so that a test reads as
//! the story it tells:
//!
//! ```text
//! let mut h = Harness::new();
//! let agent = h.register(1, mock::agent().with_resources("cpus:2;mem:1024"));
//! let fw = h.subscribe(10, mock::framework().partition_aware().build());
//! let offer = h.cycle(10).remove(0);
//! h.launch(&fw, &offer, vec![mock::task("t1").on(&agent).build()]);
//! ```

use super::*;

/// What a mock agent has unless a test says otherwise.
pub(super) const AGENT_RESOURCES: &str = "cpus:4;mem:4096";
/// What a mock task uses unless a test says otherwise.
pub(super) const TASK_RESOURCES: &str = "cpus:0.5;mem:64";
/// What a mock executor uses unless a test says otherwise.
pub(super) const EXECUTOR_RESOURCES: &str = "cpus:0.1;mem:32";

fn resources(text: &str) -> Vec<v1::Resource> {
    meseta_proto::resources::parse_resources(text)
        .unwrap_or_else(|e| panic!("bad resources {text:?} in a fixture: {e}"))
}

/// An agent's registration.
pub(super) struct MockAgent {
    register: cluster::Register,
}

/// A new agent (no ID yet) with [`AGENT_RESOURCES`].
pub(super) fn agent() -> MockAgent {
    MockAgent {
        register: cluster::Register {
            info: v1::AgentInfo {
                hostname: "agent".into(),
                resources: resources(AGENT_RESOURCES),
                ..Default::default()
            },
            ..Default::default()
        },
    }
}

impl MockAgent {
    pub(super) fn with_resources(mut self, text: &str) -> Self {
        self.register.info.resources = resources(text);
        self
    }

    /// Its attributes, in the flag syntax (`rack:r1;ssd:true`).
    pub(super) fn with_attributes(mut self, text: &str) -> Self {
        self.register.info.attributes = meseta_proto::resources::parse_attributes(text)
            .unwrap_or_else(|e| panic!("bad attributes {text:?} in a fixture: {e}"));
        self
    }

    /// An agent that was registered before (re-registration).
    pub(super) fn with_id(mut self, id: &str) -> Self {
        self.register.info.id = Some(v1::AgentId { value: id.into() });
        self
    }

    /// The tasks it reports running, and their frameworks.
    pub(super) fn running(
        mut self,
        tasks: Vec<v1::Task>,
        frameworks: Vec<v1::FrameworkInfo>,
    ) -> Self {
        self.register.tasks = tasks;
        self.register.frameworks = frameworks;
        self
    }

    pub(super) fn build(self) -> cluster::Register {
        self.register
    }
}

/// A framework's `FrameworkInfo`.
pub(super) struct MockFramework {
    info: v1::FrameworkInfo,
}

/// A framework named `fw`, user `root`, role `*`, no capabilities, no
/// failover timeout.
pub(super) fn framework() -> MockFramework {
    MockFramework {
        info: framework_info("fw", false),
    }
}

impl MockFramework {
    pub(super) fn named(mut self, name: &str) -> Self {
        self.info.name = name.into();
        self
    }

    pub(super) fn partition_aware(mut self) -> Self {
        self.info = framework_info(&self.info.name, true);
        self
    }

    /// Subscribed to `roles` (with the MULTI_ROLE capability).
    pub(super) fn with_roles(mut self, roles: &[&str]) -> Self {
        self.info.roles = roles.iter().map(|r| r.to_string()).collect();
        self.info.capabilities.push(v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        });
        self
    }

    pub(super) fn with_failover_timeout(mut self, seconds: f64) -> Self {
        self.info.failover_timeout = Some(seconds);
        self
    }

    pub(super) fn build(self) -> v1::FrameworkInfo {
        self.info
    }
}

/// A task's `TaskInfo`.
pub(super) struct MockTask {
    info: v1::TaskInfo,
}

/// A command task (`true`) with [`TASK_RESOURCES`], for no agent yet.
pub(super) fn task(id: &str) -> MockTask {
    MockTask {
        info: super::task(id, "", TASK_RESOURCES),
    }
}

impl MockTask {
    pub(super) fn on(mut self, agent_id: &str) -> Self {
        self.info.agent_id = v1::AgentId {
            value: agent_id.into(),
        };
        self
    }

    pub(super) fn with_resources(mut self, text: &str) -> Self {
        self.info.resources = resources(text);
        self
    }

    /// Run by `executor` instead of the command executor.
    pub(super) fn with_executor(mut self, executor: v1::ExecutorInfo) -> Self {
        self.info.command = None;
        self.info.executor = Some(executor);
        self
    }

    pub(super) fn with_kill_policy(mut self, grace: Duration) -> Self {
        self.info.kill_policy = Some(kill_policy(grace));
        self
    }

    pub(super) fn build(self) -> v1::TaskInfo {
        self.info
    }
}

/// An executor's `ExecutorInfo`.
pub(super) struct MockExecutor {
    info: v1::ExecutorInfo,
}

/// A custom executor (`./executor`) with [`EXECUTOR_RESOURCES`].
pub(super) fn executor(id: &str) -> MockExecutor {
    MockExecutor {
        info: v1::ExecutorInfo {
            executor_id: v1::ExecutorId { value: id.into() },
            command: Some(v1::CommandInfo {
                value: Some("./executor".into()),
                ..Default::default()
            }),
            resources: resources(EXECUTOR_RESOURCES),
            ..Default::default()
        },
    }
}

impl MockExecutor {
    pub(super) fn with_resources(mut self, text: &str) -> Self {
        self.info.resources = resources(text);
        self
    }

    pub(super) fn with_command(mut self, command: &str) -> Self {
        self.info.command = Some(v1::CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        });
        self
    }

    pub(super) fn build(self) -> v1::ExecutorInfo {
        self.info
    }
}

pub(super) fn kill_policy(grace: Duration) -> v1::KillPolicy {
    v1::KillPolicy {
        grace_period: Some(v1::DurationInfo {
            nanoseconds: grace.as_nanos() as i64,
        }),
    }
}

/// A LAUNCH operation.
pub(super) fn launch(tasks: Vec<v1::TaskInfo>) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Launch as i32),
        launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
        ..Default::default()
    }
}

/// A LAUNCH_GROUP operation.
pub(super) fn launch_group(
    executor: v1::ExecutorInfo,
    tasks: Vec<v1::TaskInfo>,
) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
        launch_group: Some(v1::offer::operation::LaunchGroup {
            executor,
            task_group: v1::TaskGroupInfo { tasks },
        }),
        ..Default::default()
    }
}

fn filters(refuse_seconds: Option<f64>) -> Option<v1::Filters> {
    refuse_seconds.map(|seconds| v1::Filters {
        refuse_seconds: Some(seconds),
    })
}

/// ACCEPT of `offers` with `operations`; what is left is refused for
/// `refuse_seconds` (`None`: the default filter).
pub(super) fn accept(
    offers: &[&v1::Offer],
    operations: Vec<v1::offer::Operation>,
    refuse_seconds: Option<f64>,
) -> Call {
    Call {
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: offers.iter().map(|o| o.id.clone()).collect(),
            operations,
            filters: filters(refuse_seconds),
        }),
        ..Default::default()
    }
}

/// DECLINE of `offers`, refused for `refuse_seconds` (`None`: the default).
pub(super) fn decline(offers: &[v1::Offer], refuse_seconds: Option<f64>) -> Call {
    Call {
        r#type: Some(call::Type::Decline as i32),
        decline: Some(call::Decline {
            offer_ids: offers.iter().map(|o| o.id.clone()).collect(),
            filters: filters(refuse_seconds),
        }),
        ..Default::default()
    }
}

/// RECONCILE of `(task, agent)` pairs; none: implicit reconciliation.
pub(super) fn reconcile(tasks: &[(&str, Option<&str>)]) -> Call {
    Call {
        r#type: Some(call::Type::Reconcile as i32),
        reconcile: Some(call::Reconcile {
            tasks: tasks
                .iter()
                .map(|(task_id, agent_id)| call::reconcile::Task {
                    task_id: v1::TaskId {
                        value: (*task_id).into(),
                    },
                    agent_id: agent_id.map(|value| v1::AgentId {
                        value: value.into(),
                    }),
                })
                .collect(),
        }),
        ..Default::default()
    }
}

/// KILL of a task, naming its agent or not.
pub(super) fn kill(task_id: &str, agent_id: Option<&str>) -> Call {
    Call {
        r#type: Some(call::Type::Kill as i32),
        kill: Some(call::Kill {
            task_id: v1::TaskId {
                value: task_id.into(),
            },
            agent_id: agent_id.map(|value| v1::AgentId {
                value: value.into(),
            }),
            kill_policy: None,
        }),
        ..Default::default()
    }
}

/// SHUTDOWN of an executor on an agent.
pub(super) fn shutdown(executor_id: &str, agent_id: &str) -> Call {
    Call {
        r#type: Some(call::Type::Shutdown as i32),
        shutdown: Some(call::Shutdown {
            executor_id: v1::ExecutorId {
                value: executor_id.into(),
            },
            agent_id: v1::AgentId {
                value: agent_id.into(),
            },
        }),
        ..Default::default()
    }
}

/// MESSAGE for an executor on an agent.
pub(super) fn message(agent_id: &str, executor_id: &str, data: &[u8]) -> Call {
    Call {
        r#type: Some(call::Type::Message as i32),
        message: Some(call::Message {
            agent_id: v1::AgentId {
                value: agent_id.into(),
            },
            executor_id: v1::ExecutorId {
                value: executor_id.into(),
            },
            data: data.to_vec(),
        }),
        ..Default::default()
    }
}

/// A call with no body but its type (TEARDOWN, REVIVE, SUPPRESS, ...), or
/// a call whose required body is missing.
pub(super) fn bare(kind: call::Type) -> Call {
    Call {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

/// A SUBSCRIBE, with the framework's ID when it has one.
pub(super) fn subscribe(info: v1::FrameworkInfo) -> Call {
    Call {
        r#type: Some(call::Type::Subscribe as i32),
        framework_id: info.id.clone(),
        subscribe: Some(call::Subscribe {
            framework_info: info,
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Harness {
    /// Registers `agent` on stream `link` and returns its ID. What the
    /// registration sends (its `Registered`, its registry operation) is
    /// not kept among the pending actions.
    pub(super) fn register(&mut self, link: LinkId, agent: MockAgent) -> String {
        let mut register = agent.build();
        if register.http_address.is_none() {
            register.http_address = Some(format!("127.0.0.1:{}", 5051 + link));
        }
        let message = AgentMessage {
            kind: Some(agent_message::Kind::Register(register)),
        };
        let actions = self.master.agent_message(self.now, link, message);
        actions
            .iter()
            .find_map(|a| match a {
                Action::ToAgent {
                    message:
                        MasterMessage {
                            kind: Some(master_message::Kind::Registered(r)),
                        },
                    ..
                } => Some(r.agent_id.value.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("agent not registered: {actions:?}"))
    }

    /// One second on (an allocation cycle); the offers `conn` got.
    pub(super) fn cycle(&mut self, conn: ConnId) -> Vec<v1::Offer> {
        self.advance(Duration::from_secs(1));
        self.offers(conn)
    }

    /// Accepts `offer` with one LAUNCH of `tasks`; what is left is not
    /// filtered, so it is offered again at the next cycle.
    pub(super) fn launch(
        &mut self,
        fw: &(String, String),
        offer: &v1::Offer,
        tasks: Vec<v1::TaskInfo>,
    ) {
        self.call(fw, accept_one(offer, vec![launch(tasks)]))
            .expect("ACCEPT is accepted");
    }
}

/// ACCEPT of one offer, the rest not filtered.
pub(super) fn accept_one(offer: &v1::Offer, operations: Vec<v1::offer::Operation>) -> Call {
    accept(&[offer], operations, Some(0.0))
}

/// A framework (stream 10) running task `t1` on an agent (stream 1) with
/// [`AGENT_RESOURCES`]: launched, reported `TASK_RUNNING`, and every action
/// so far taken out. Returns the harness, the framework's (ID, stream ID)
/// and the agent's ID.
pub(super) fn running(framework: MockFramework) -> (Harness, (String, String), String) {
    running_tasks(framework, vec![self::task("t1")])
}

/// As [`running`], with `tasks` (each put on the agent) instead of `t1`.
pub(super) fn running_tasks(
    framework: MockFramework,
    tasks: Vec<MockTask>,
) -> (Harness, (String, String), String) {
    let mut h = Harness::new();
    let agent = h.register(1, self::agent());
    let fw = h.subscribe(10, framework.build());
    let offer = h.cycle(10).remove(0);
    let tasks: Vec<v1::TaskInfo> = tasks.into_iter().map(|t| t.on(&agent).build()).collect();
    let ids: Vec<String> = tasks.iter().map(|t| t.task_id.value.clone()).collect();
    h.launch(&fw, &offer, tasks);
    for id in ids {
        h.status(1, &fw.0, &id, TaskState::TaskRunning);
    }
    h.actions.clear();
    (h, fw, agent)
}

/// The agent messages among `actions` that go to `link`.
pub(super) fn to_agent(actions: &[Action], link: LinkId) -> Vec<master_message::Kind> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::ToAgent { link: l, message } if *l == link => message.kind.clone(),
            _ => None,
        })
        .collect()
}

/// The scalar `name` of an offer.
pub(super) fn scalar(offer: &v1::Offer, name: &str) -> f64 {
    meseta_proto::resources::scalar_total(&offer.resources, name)
}
