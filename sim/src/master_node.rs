//! The real master state machine ([`Master`]) behind the simulated
//! network: inputs from deliveries and ticks, its [`Action`]s carried out
//! as the server's loop carries them out (registry operations first, then
//! messages in order), and its registry kept as durable state so that a
//! crashed master is replaced by a new one that recovers from it, as a
//! failover to another master reading the same ZooKeeper registry would.

use std::collections::BTreeMap;
use std::time::Duration;

use meseta_allocator::AllocatorConfig;
use meseta_master::config::Settings;
use meseta_master::registry::RegistryState;
use meseta_master::state::{Action, Ids, Master};
use meseta_proto::cluster::master_message;
use meseta_proto::v1;

use crate::net::{Net, Node, Payload, Timer};
use crate::rng::SimRng;
use crate::truth::Truth;

/// The allocation interval of the real master.
const TICK: Duration = Duration::from_secs(1);
/// How soon a cycle runs when something freed resources.
const SOON: Duration = Duration::from_millis(50);

/// The master seat: one master at a time, and the registry that outlives
/// each of them.
pub struct MasterNode {
    master: Option<Master>,
    /// The registry, as the last master wrote it.
    pub registry: RegistryState,
    settings: Settings,
    /// Subscription streams by connection: the framework at the other end.
    streams: BTreeMap<u64, usize>,
    /// Agent streams by connection.
    links: BTreeMap<u64, usize>,
    /// Each incarnation's epoch, so its timers die with it.
    epoch: u64,
    soon: bool,
    /// When this incarnation's tick is due (a dead master's ticks are
    /// still queued; they do not match).
    next_tick: Duration,
    /// Added to simulated time for the master's clock (it stamps times
    /// since the UNIX epoch).
    pub clock_base: Duration,
}

impl MasterNode {
    /// A seat with an empty registry and no master yet.
    pub fn new(settings: Settings) -> Self {
        Self {
            master: None,
            registry: RegistryState::default(),
            settings,
            streams: BTreeMap::new(),
            links: BTreeMap::new(),
            epoch: 0,
            soon: false,
            next_tick: Duration::ZERO,
            clock_base: Duration::from_secs(1_800_000_000),
        }
    }

    /// The running master, if one is up.
    pub fn master(&self) -> Option<&Master> {
        self.master.as_ref()
    }

    /// Which incarnation runs (timers carry it).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    fn clock(&self, now: Duration) -> Duration {
        self.clock_base + now
    }

    /// A new master is elected: it recovers the registry.
    pub fn start(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng) {
        self.epoch += 1;
        let seed = rng.next_u64();
        let info = v1::MasterInfo {
            id: format!("sim-master-{}", self.epoch),
            ip: 0x7f00_0001,
            port: 5050,
            hostname: Some("sim-master".into()),
            ..Default::default()
        };
        let allocator = AllocatorConfig {
            seed: Some(seed),
            ..AllocatorConfig::default()
        };
        let clock = self.clock(now);
        let mut master = Master::new(
            self.settings.clone(),
            info,
            allocator,
            Ids::seeded(seed),
            clock,
        );
        for action in master.recover(clock, self.registry.clone()) {
            if let Action::Persist(operation) = action {
                self.registry.apply(&operation);
            }
        }
        self.master = Some(master);
        self.soon = false;
        self.next_tick = now + TICK;
        net.timer(self.next_tick, Node::Master, Timer::MasterTick);
    }

    /// The master dies: its streams break.
    pub fn crash(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng) {
        self.master = None;
        for (conn, framework) in std::mem::take(&mut self.streams) {
            net.close(now, rng, conn, Node::Master, &[Node::Framework(framework)]);
        }
        for (conn, agent) in std::mem::take(&mut self.links) {
            net.close(now, rng, conn, Node::Master, &[Node::Agent(agent)]);
        }
    }

    /// A timer of this seat fired.
    pub fn fire(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        timer: Timer,
    ) {
        let clock = self.clock(now);
        let Some(master) = self.master.as_mut() else {
            return;
        };
        let actions = match timer {
            Timer::MasterTick if now == self.next_tick => {
                self.next_tick = now + TICK;
                net.timer(self.next_tick, Node::Master, Timer::MasterTick);
                master.tick(clock)
            }
            Timer::Wake if self.soon => {
                self.soon = false;
                master.tick(clock)
            }
            _ => return,
        };
        self.perform(now, net, rng, truth, actions);
    }

    /// A delivery to the master.
    #[allow(clippy::too_many_arguments)]
    pub fn deliver(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        from: Node,
        conn: Option<u64>,
        payload: Payload,
    ) {
        let clock = self.clock(now);
        let Some(master) = self.master.as_mut() else {
            // Nobody listens: a connection attempt fails.
            if let (Some(conn), false) = (conn, matches!(payload, Payload::Closed)) {
                net.close(now, rng, conn, Node::Master, &[from]);
            }
            return;
        };
        let actions = match (payload, conn, from) {
            (Payload::Subscribe(call), Some(conn), Node::Framework(framework)) => {
                match master.subscribe(clock, call, conn) {
                    Ok(subscribed) => {
                        self.streams.insert(conn, framework);
                        let stream_id = subscribed.stream_id;
                        net.send(
                            now,
                            rng,
                            conn,
                            Node::Master,
                            from,
                            Payload::StreamOpened { stream_id },
                        );
                        subscribed.actions
                    }
                    Err(error) => {
                        truth.note(format!(
                            "SUBSCRIBE of framework {framework} refused: {error}"
                        ));
                        net.close(now, rng, conn, Node::Master, &[from]);
                        Vec::new()
                    }
                }
            }
            (Payload::Call { call, stream_id }, None, _) => master
                .scheduler_call(clock, call, &stream_id)
                .unwrap_or_default(),
            (Payload::Attach(message), Some(conn), Node::Agent(agent)) => {
                self.links.insert(conn, agent);
                master.agent_message(clock, conn, message)
            }
            (Payload::FromAgent(message), Some(conn), _) if self.links.contains_key(&conn) => {
                master.agent_message(clock, conn, message)
            }
            (Payload::Closed, Some(conn), _) => {
                if self.streams.remove(&conn).is_some() {
                    master.framework_disconnected(clock, conn)
                } else if self.links.remove(&conn).is_some() {
                    master.agent_disconnected(clock, conn)
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        };
        self.perform(now, net, rng, truth, actions);
    }

    /// Carries out actions as the server does: the batch's registry
    /// operations first, then the rest in order.
    fn perform(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        actions: Vec<Action>,
    ) {
        for action in &actions {
            if let Action::Persist(operation) = action {
                self.registry.apply(operation);
            }
        }
        for action in actions {
            match action {
                Action::ToFramework { conn, event } => {
                    if let Some(&framework) = self.streams.get(&conn) {
                        net.send(
                            now,
                            rng,
                            conn,
                            Node::Master,
                            Node::Framework(framework),
                            Payload::Event(event),
                        );
                    }
                }
                Action::CloseFramework { conn } => {
                    if let Some(&framework) = self.streams.get(&conn) {
                        net.close(
                            now,
                            rng,
                            conn,
                            Node::Master,
                            &[Node::Framework(framework), Node::Master],
                        );
                    }
                }
                Action::ToAgent { link, message } => {
                    if let Some(&agent) = self.links.get(&link) {
                        match &message.kind {
                            Some(master_message::Kind::ShutdownFramework(shutdown)) => {
                                truth.framework_shut_down(agent, &shutdown.framework_id.value);
                            }
                            Some(master_message::Kind::KillTask(kill)) => {
                                let key =
                                    (kill.framework_id.value.clone(), kill.task_id.value.clone());
                                truth.doomed.insert(key);
                            }
                            _ => {}
                        }
                        net.send(
                            now,
                            rng,
                            link,
                            Node::Master,
                            Node::Agent(agent),
                            Payload::ToAgent(message),
                        );
                    }
                }
                Action::CloseAgent { link } => {
                    if let Some(&agent) = self.links.get(&link) {
                        net.close(
                            now,
                            rng,
                            link,
                            Node::Master,
                            &[Node::Agent(agent), Node::Master],
                        );
                    }
                }
                Action::Persist(_) | Action::ToOperators(_) => {}
            }
        }
        if self.master.as_ref().is_some_and(Master::allocation_wanted) && !self.soon {
            self.soon = true;
            net.timer(now + SOON, Node::Master, Timer::Wake);
        }
    }
}
