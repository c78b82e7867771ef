//! State-machine tests: no sockets, time moved by hand, IDs and allocation
//! order from a fixed seed. Fixtures are in [`mock`]; the tests of each
//! operation in a module of their own.

use std::time::Duration;

use meseta_allocator::AllocatorConfig;
use meseta_proto::cluster::{self, agent_message, master_message, AgentMessage};
use meseta_proto::scheduler::{call, event, Call, Event};
use meseta_proto::v1::{self, TaskState};

use super::*;

const T0: Duration = Duration::from_secs(1_700_000_000);
/// The seed of a harness's IDs and allocator, unless a test picks one.
const SEED: u64 = 1;

struct Harness {
    master: Master,
    now: Duration,
    actions: Vec<Action>,
    /// Status updates sent so far (their uuids count them).
    updates_sent: u64,
}

fn framework_info(name: &str, partition_aware: bool) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        capabilities: if partition_aware {
            vec![v1::framework_info::Capability {
                r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

impl Harness {
    fn new() -> Self {
        Self::with_settings(Settings::default())
    }

    fn with_settings(settings: Settings) -> Self {
        Self::build(settings, AllocatorConfig::default(), SEED)
    }

    /// A harness whose IDs and allocation order come from `seed`.
    fn seeded(seed: u64) -> Self {
        Self::build(Settings::default(), AllocatorConfig::default(), seed)
    }

    /// A master with `settings` and `allocator`, its IDs and its allocator's
    /// shuffle seeded with `seed`.
    fn build(settings: Settings, allocator: AllocatorConfig, seed: u64) -> Self {
        let info = v1::MasterInfo {
            id: "M".into(),
            ip: 0,
            port: 5050,
            ..Default::default()
        };
        let allocator = AllocatorConfig {
            seed: Some(seed),
            ..allocator
        };
        Self {
            master: Master::new(settings, info, allocator, Ids::seeded(seed), T0),
            now: T0,
            actions: Vec::new(),
            updates_sent: 0,
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        let actions = self.master.tick(self.now);
        self.actions.extend(actions);
    }

    fn add_agent(&mut self, link: LinkId, resources: &str) -> String {
        let info = v1::AgentInfo {
            hostname: format!("host{link}"),
            resources: meseta_proto::resources::parse_resources(resources).unwrap(),
            ..Default::default()
        };
        let message = AgentMessage {
            kind: Some(agent_message::Kind::Register(cluster::Register {
                info,
                http_address: Some(format!("127.0.0.1:{}", 5051 + link)),
                ..Default::default()
            })),
        };
        let actions = self.master.agent_message(self.now, link, message);
        let id = actions
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
            .expect("agent registered");
        id
    }

    fn subscribe(&mut self, conn: ConnId, info: v1::FrameworkInfo) -> (String, String) {
        let call = Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: info,
                ..Default::default()
            }),
            ..Default::default()
        };
        let subscribed = self
            .master
            .subscribe(self.now, call, conn)
            .expect("subscribed");
        self.actions.extend(subscribed.actions);
        (subscribed.framework_id, subscribed.stream_id)
    }

    fn call(&mut self, framework: &(String, String), mut call: Call) -> Result<(), CallError> {
        call.framework_id = Some(v1::FrameworkId {
            value: framework.0.clone(),
        });
        let actions = self.master.scheduler_call(self.now, call, &framework.1)?;
        self.actions.extend(actions);
        Ok(())
    }

    fn events(&mut self, conn: ConnId) -> Vec<Event> {
        let mut out = Vec::new();
        self.actions.retain(|a| match a {
            Action::ToFramework { conn: c, event } if *c == conn => {
                out.push(event.clone());
                false
            }
            _ => true,
        });
        out
    }

    fn offers(&mut self, conn: ConnId) -> Vec<v1::Offer> {
        self.events(conn)
            .into_iter()
            .filter_map(|e| e.offers)
            .flat_map(|o| o.offers)
            .collect()
    }

    /// The cpus of the offers `conn` got.
    fn offered_cpus(&mut self, conn: ConnId) -> f64 {
        self.offers(conn)
            .iter()
            .map(|offer| mock::scalar(offer, "cpus"))
            .sum()
    }

    fn updates(&mut self, conn: ConnId) -> Vec<v1::TaskStatus> {
        self.events(conn)
            .into_iter()
            .filter_map(|e| e.update)
            .map(|u| u.status)
            .collect()
    }

    fn agent_messages(&mut self, link: LinkId) -> Vec<master_message::Kind> {
        let mut out = Vec::new();
        self.actions.retain(|a| match a {
            Action::ToAgent { link: l, message } if *l == link => {
                out.extend(message.kind.clone());
                false
            }
            _ => true,
        });
        out
    }

    fn status(
        &mut self,
        link: LinkId,
        framework_id: &str,
        task_id: &str,
        state: TaskState,
    ) -> Vec<u8> {
        self.updates_sent += 1;
        let uuid = uuid::Uuid::from_u128(u128::from(self.updates_sent))
            .as_bytes()
            .to_vec();
        let update = cluster::StatusUpdate {
            framework_id: v1::FrameworkId {
                value: framework_id.into(),
            },
            status: v1::TaskStatus {
                task_id: v1::TaskId {
                    value: task_id.into(),
                },
                state: state as i32,
                uuid: Some(uuid.clone()),
                ..Default::default()
            },
            latest_state: Some(state as i32),
        };
        let message = AgentMessage {
            kind: Some(agent_message::Kind::StatusUpdate(update)),
        };
        let actions = self.master.agent_message(self.now, link, message);
        self.actions.extend(actions);
        uuid
    }
}

fn task(id: &str, agent_id: &str, resources: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: agent_id.into(),
        },
        resources: meseta_proto::resources::parse_resources(resources).unwrap(),
        command: Some(v1::CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn accept(offer: &v1::Offer, tasks: Vec<v1::TaskInfo>) -> Call {
    Call {
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Launch as i32),
                launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            }],
            filters: None,
        }),
        ..Default::default()
    }
}

#[test]
fn offer_launch_update_acknowledge() {
    let mut h = Harness::new();
    let agent = h.add_agent(1, "cpus:2;mem:1024");
    let fw = h.subscribe(10, framework_info("fw", false));
    let subscribed = h.events(10);
    assert_eq!(subscribed[0].r#type, Some(event::Type::Subscribed as i32));
    h.advance(Duration::from_secs(1));
    let offers = h.offers(10);
    assert_eq!(offers.len(), 1);
    assert_eq!(
        meseta_proto::resources::scalar_total(&offers[0].resources, "cpus"),
        2.0
    );

    h.call(
        &fw,
        accept(&offers[0], vec![task("t1", &agent, "cpus:1;mem:128")]),
    )
    .unwrap();
    let sent = h.agent_messages(1);
    assert!(
        matches!(&sent[..], [master_message::Kind::RunTasks(r)] if r.tasks[0].task_id.value == "t1")
    );
    assert_eq!(
        h.master.frameworks()[&fw.0].tasks["t1"].state(),
        TaskState::TaskStaging
    );

    h.status(1, &fw.0, "t1", TaskState::TaskRunning);
    assert_eq!(h.updates(10)[0].state, TaskState::TaskRunning as i32);
    let uuid = h.status(1, &fw.0, "t1", TaskState::TaskFinished);
    assert_eq!(h.updates(10)[0].state, TaskState::TaskFinished as i32);
    assert_eq!(h.master.used_resources(None, None).scalar("cpus"), 0.0);

    let ack = Call {
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent.clone(),
            },
            task_id: v1::TaskId { value: "t1".into() },
            uuid,
        }),
        ..Default::default()
    };
    h.call(&fw, ack).unwrap();
    assert!(matches!(
        &h.agent_messages(1)[..],
        [master_message::Kind::Acknowledge(_)]
    ));
    assert!(h.master.frameworks()[&fw.0].tasks.is_empty());
    assert_eq!(h.master.frameworks()[&fw.0].completed_tasks.len(), 1);
}

#[test]
fn invalid_launches_get_task_error_and_change_nothing() {
    let mut h = Harness::new();
    let agent = h.add_agent(1, "cpus:1;mem:256");
    let fw = h.subscribe(10, framework_info("fw", false));
    h.advance(Duration::from_secs(1));
    let offer = h.offers(10).remove(0);
    let too_big = task("big", &agent, "cpus:4;mem:64");
    let mut both = task("both", &agent, "cpus:0.1;mem:16");
    both.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId { value: "e".into() },
        command: Some(v1::CommandInfo::default()),
        ..Default::default()
    });
    let ok = task("ok", &agent, "cpus:0.5;mem:64");
    let dup = task("ok", &agent, "cpus:0.1;mem:16");
    h.call(&fw, accept(&offer, vec![too_big, both, ok, dup]))
        .unwrap();
    let updates = h.updates(10);
    let states: Vec<(String, i32)> = updates
        .iter()
        .map(|s| (s.task_id.value.clone(), s.state))
        .collect();
    assert_eq!(
        states,
        vec![
            ("big".into(), TaskState::TaskError as i32),
            ("both".into(), TaskState::TaskError as i32),
            ("ok".into(), TaskState::TaskError as i32),
        ]
    );
    assert!(updates.iter().all(|s| s.uuid.is_none()));
    assert!(updates[0]
        .message
        .as_deref()
        .unwrap_or("")
        .contains("more resources"));
    assert_eq!(h.master.frameworks()[&fw.0].tasks.len(), 1);
    assert_eq!(h.master.used_resources(None, None).scalar("cpus"), 0.5);
}

#[test]
fn stale_offer_drops_tasks() {
    let mut h = Harness::new();
    let agent = h.add_agent(1, "cpus:1;mem:256");
    let fw = h.subscribe(10, framework_info("fw", true));
    h.advance(Duration::from_secs(1));
    let offer = h.offers(10).remove(0);
    h.call(
        &fw,
        accept(&offer, vec![task("a", &agent, "cpus:0.5;mem:64")]),
    )
    .unwrap();
    h.updates(10);
    h.call(
        &fw,
        accept(&offer, vec![task("b", &agent, "cpus:0.5;mem:64")]),
    )
    .unwrap();
    let updates = h.updates(10);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, TaskState::TaskDropped as i32);
    assert_eq!(
        updates[0].reason,
        Some(v1::task_status::Reason::InvalidOffers as i32)
    );
}

#[test]
fn decline_filter_is_honoured_until_it_expires() {
    let mut h = Harness::new();
    h.add_agent(1, "cpus:1;mem:256");
    let fw = h.subscribe(10, framework_info("fw", false));
    h.advance(Duration::from_secs(1));
    let offer = h.offers(10).remove(0);
    let decline = Call {
        r#type: Some(call::Type::Decline as i32),
        decline: Some(call::Decline {
            offer_ids: vec![offer.id.clone()],
            filters: Some(v1::Filters {
                refuse_seconds: Some(10.0),
            }),
        }),
        ..Default::default()
    };
    h.call(&fw, decline).unwrap();
    for _ in 0..9 {
        h.advance(Duration::from_secs(1));
        assert!(h.offers(10).is_empty());
    }
    h.advance(Duration::from_secs(2));
    assert_eq!(h.offers(10).len(), 1);
}

#[test]
fn wrong_stream_id_and_unknown_framework_are_refused() {
    let mut h = Harness::new();
    let fw = h.subscribe(10, framework_info("fw", false));
    let revive = Call {
        r#type: Some(call::Type::Revive as i32),
        ..Default::default()
    };
    let wrong = (fw.0.clone(), "nope".to_string());
    assert!(matches!(
        h.call(&wrong, revive.clone()),
        Err(CallError::BadRequest(_))
    ));
    let unknown = ("other".to_string(), fw.1.clone());
    assert!(matches!(
        h.call(&unknown, revive),
        Err(CallError::Forbidden(_))
    ));
}

#[test]
fn silent_agent_becomes_unreachable_and_tasks_are_reported() {
    let mut h = Harness::new();
    let agent = h.add_agent(1, "cpus:2;mem:1024");
    let aware = h.subscribe(10, framework_info("aware", true));
    let plain = h.subscribe(11, framework_info("plain", false));
    h.advance(Duration::from_secs(1));
    for (fw, conn, id) in [(&aware, 10, "a"), (&plain, 11, "p")] {
        let offers = h.offers(conn);
        if let Some(offer) = offers.first() {
            h.call(fw, accept(offer, vec![task(id, &agent, "cpus:0.5;mem:64")]))
                .unwrap();
        } else {
            h.advance(Duration::from_secs(6));
            let offer = h.offers(conn).remove(0);
            h.call(
                fw,
                accept(&offer, vec![task(id, &agent, "cpus:0.5;mem:64")]),
            )
            .unwrap();
        }
    }
    h.master.agent_disconnected(h.now, 1);
    h.updates(10);
    h.updates(11);
    h.advance(Duration::from_secs(15 * 5 + 1));
    let aware_updates = h.updates(10);
    assert_eq!(aware_updates.len(), 1);
    assert_eq!(aware_updates[0].state, TaskState::TaskUnreachable as i32);
    let plain_updates = h.updates(11);
    assert_eq!(plain_updates[0].state, TaskState::TaskLost as i32);
    assert!(h.master.unreachable_agents().contains_key(&agent));
}

#[test]
fn unreachable_task_is_gone_when_its_agent_returns_without_it() {
    let mut h = Harness::new();
    let agent = h.add_agent(1, "cpus:2;mem:1024");
    let fw = h.subscribe(10, framework_info("aware", true));
    h.advance(Duration::from_secs(1));
    let offer = h.offers(10).remove(0);
    h.call(
        &fw,
        accept(&offer, vec![task("t", &agent, "cpus:0.5;mem:64")]),
    )
    .unwrap();
    h.master.agent_disconnected(h.now, 1);
    h.advance(Duration::from_secs(15 * 5 + 1));
    assert_eq!(h.updates(10)[0].state, TaskState::TaskUnreachable as i32);

    // The agent restarts (same ID, no tasks) and registers again.
    let info = v1::AgentInfo {
        hostname: "host1".into(),
        id: Some(v1::AgentId {
            value: agent.clone(),
        }),
        resources: meseta_proto::resources::parse_resources("cpus:2;mem:1024").unwrap(),
        ..Default::default()
    };
    let message = AgentMessage {
        kind: Some(agent_message::Kind::Register(cluster::Register {
            info,
            ..Default::default()
        })),
    };
    let actions = h.master.agent_message(h.now, 2, message);
    h.actions.extend(actions);
    let updates = h.updates(10);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].state, TaskState::TaskGone as i32);
    assert!(h.master.frameworks()[&fw.0].tasks.is_empty());
    assert!(!h.master.unreachable_agents().contains_key(&agent));
}

#[path = "recovery_tests.rs"]
mod recovery;

#[path = "update_framework_tests.rs"]
mod update_framework;

#[path = "offer_timeout_tests.rs"]
mod offer_timeout;

#[path = "gpu_tests.rs"]
mod gpu;

mod mock;

mod determinism;
mod kill;
mod launch_group;
mod maintenance;
mod message;
mod multi_role;
mod offer_constraints;
mod operator;
mod quota;
mod reconcile;
mod registration;
mod reservations;
mod teardown;
mod volumes;
mod weights;
mod worst_values;
