//! One run: the nodes, the network, the faults, and the loop that pops the
//! next delivery or timer, hands it to its node, and checks the
//! invariants after every step.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use meseta_allocator::Resources;
use meseta_master::config::Settings;

use crate::agent_node::AgentNode;
use crate::framework_node::FrameworkNode;
use crate::invariants;
use crate::master_node::MasterNode;
use crate::net::{Item, Net, NetworkFaults, Node, Payload, Timer};
use crate::rng::SimRng;
use crate::truth::Truth;
use crate::{Config, Outcome};

/// A whole simulated cluster.
pub struct World {
    /// The run's seed.
    pub seed: u64,
    config: Config,
    now: Duration,
    rng: SimRng,
    net: Net,
    /// The master seat.
    pub master: MasterNode,
    /// The agents.
    pub agents: Vec<AgentNode>,
    /// The schedulers.
    pub frameworks: Vec<FrameworkNode>,
    /// What really happened.
    pub truth: Truth,
    /// Each agent's total resources, in the allocator's form.
    pub totals: Vec<Resources>,
    steps: u64,
    trace: Option<Vec<String>>,
    hasher: DefaultHasher,
}

impl World {
    /// A cluster for `seed`, nothing started yet.
    pub fn new(seed: u64, config: Config) -> Self {
        let origin = Instant::now();
        let resources = Resources::parse(&config.agent_resources)
            .unwrap_or_default()
            .to_mesos("*");
        let agents: Vec<AgentNode> = (0..config.agents)
            .map(|i| AgentNode::new(i, resources.clone(), origin))
            .collect();
        let totals = vec![Resources::from_mesos(&resources); config.agents];
        let frameworks = (0..config.frameworks)
            .map(|i| FrameworkNode::new(i, config.tasks_per_framework, config.sabotage))
            .collect();
        let settings = Settings {
            heartbeat_interval: Duration::from_secs(5),
            agent_ping_timeout: Duration::from_secs(3),
            max_agent_ping_timeouts: 3,
            agent_reregister_timeout: Duration::from_secs(30),
            ..Settings::default()
        };
        Self {
            seed,
            net: Net::new(config.network.clone()),
            config,
            now: Duration::ZERO,
            rng: SimRng::new(seed),
            master: MasterNode::new(settings),
            agents,
            frameworks,
            truth: Truth::default(),
            totals,
            steps: 0,
            trace: None,
            hasher: DefaultHasher::new(),
        }
    }

    /// Keeps a line per step (for replaying a failing seed).
    pub fn with_trace(mut self) -> Self {
        self.trace = Some(Vec::new());
        self
    }

    /// Runs to the end: faults for `config.fault_time`, then a calm period
    /// until every framework is done and every update delivered (or the
    /// settle time runs out).
    pub fn run(mut self) -> Outcome {
        let (now, net, rng, truth) = (self.now, &mut self.net, &mut self.rng, &mut self.truth);
        self.master.start(now, net, rng);
        for agent in &mut self.agents {
            agent.start(now, net, rng, truth);
        }
        for framework in &mut self.frameworks {
            framework.start(now, net, rng);
        }
        if self.config.faults {
            let first = self.fault_gap();
            self.net.timer(first, Node::Master, Timer::Fault);
        }
        let calm_at = self.config.fault_time;
        let deadline = calm_at + self.config.settle_time;
        let mut calm = false;
        while let Some((at, item)) = self.net.pop() {
            self.now = at;
            if !calm && at >= calm_at {
                calm = true;
                self.net.set_faults(NetworkFaults::none());
            }
            if at > deadline || !self.truth.violations.is_empty() {
                break;
            }
            if calm && self.steps.is_multiple_of(64) && self.settled() {
                break;
            }
            self.step(item, calm);
            if let Some(found) = invariants::found(&mut self) {
                self.truth.violations.push(found);
            }
        }
        if self.truth.violations.is_empty() {
            invariants::at_end(&mut self);
        }
        self.outcome()
    }

    fn fault_gap(&mut self) -> Duration {
        self.rng
            .millis(500, 2 * self.config.mean_fault_gap.as_millis() as u64)
    }

    /// Every framework is done, every agent is up, registered and has
    /// nothing left to deliver.
    pub fn settled(&self) -> bool {
        self.master.master().is_some()
            && self.frameworks.iter().all(|f| f.is_up() && f.done())
            && self
                .agents
                .iter()
                .all(|a| a.is_registered() && a.pending_updates() == 0)
    }

    /// The time of the step being taken.
    pub fn now(&self) -> Duration {
        self.now
    }

    fn record(&mut self, line: impl FnOnce() -> String) {
        let at = self.now.as_millis();
        at.hash(&mut self.hasher);
        if let Some(trace) = self.trace.as_mut() {
            trace.push(format!("{:>9.3}s {}", at as f64 / 1000.0, line()));
        }
    }

    fn step(&mut self, item: Item, calm: bool) {
        self.steps += 1;
        let Some(item) = self.net.admit(self.now, item) else {
            return;
        };
        let (now, net, rng, truth) = (self.now, &mut self.net, &mut self.rng, &mut self.truth);
        match item {
            Item::Deliver {
                from,
                to,
                conn,
                payload,
            } => {
                let kind = describe(&payload);
                kind.hash(&mut self.hasher);
                conn.hash(&mut self.hasher);
                match to {
                    Node::Master => self
                        .master
                        .deliver(now, net, rng, truth, from, conn, payload),
                    Node::Agent(i) => {
                        if let Some(conn) = conn {
                            self.agents[i].deliver(now, net, rng, truth, conn, payload);
                        }
                    }
                    Node::Framework(i) => {
                        if let Some(conn) = conn {
                            self.frameworks[i].deliver(now, net, rng, truth, conn, payload);
                        }
                    }
                }
                self.record(|| format!("{from:?} -> {to:?} on {conn:?}: {kind}"));
            }
            Item::Fire { node, timer } => {
                match (node, timer) {
                    (Node::Master, Timer::Fault) => {
                        if !calm {
                            self.fault();
                            let gap = self.fault_gap();
                            self.net.timer(self.now + gap, Node::Master, Timer::Fault);
                        }
                        return;
                    }
                    (Node::Master, Timer::Restart) => {
                        self.master.start(now, net, rng);
                        truth.note("master elected".into());
                    }
                    (Node::Master, timer) => self.master.fire(now, net, rng, truth, timer),
                    (Node::Agent(i), Timer::Wake) => self.agents[i].wake(now, net, rng, truth),
                    (Node::Agent(i), Timer::Restart) => self.agents[i].start(now, net, rng, truth),
                    (Node::Agent(i), Timer::Heal) => {
                        let broken = rng.chance(0.5);
                        let held = net.release(now, rng, i, broken);
                        for item in held {
                            self.step(item, calm);
                        }
                    }
                    (Node::Framework(i), Timer::Wake) => {
                        self.frameworks[i].wake(now, net, rng, truth)
                    }
                    (Node::Framework(i), Timer::Restart) => self.frameworks[i].start(now, net, rng),
                    _ => {}
                }
                if timer != Timer::Wake && timer != Timer::MasterTick {
                    self.record(|| format!("{node:?}: {timer:?}"));
                }
            }
        }
        if self.steps.is_multiple_of(4096) {
            self.net.forget_closed(self.now);
        }
    }

    /// Injects one fault, chosen from the seed.
    fn fault(&mut self) {
        let (now, net, rng, truth) = (self.now, &mut self.net, &mut self.rng, &mut self.truth);
        let agents = self.agents.len() as u64;
        let frameworks = self.frameworks.len() as u64;
        let line = match rng.below(8) {
            0 if self.master.master().is_some() => {
                self.master.crash(now, net, rng);
                let down = rng.millis(200, 4000);
                net.timer(now + down, Node::Master, Timer::Restart);
                format!("fault: master crashes, a new one leads in {down:?}")
            }
            1 | 2 => {
                let i = rng.below(agents) as usize;
                if !self.agents[i].is_up() {
                    return;
                }
                self.agents[i].crash(now, net, rng);
                let down = rng.millis(100, 5000);
                net.timer(now + down, Node::Agent(i), Timer::Restart);
                format!("fault: agent {i} crashes, restarts in {down:?}")
            }
            3 => {
                let i = rng.below(frameworks) as usize;
                if !self.frameworks[i].is_up() {
                    return;
                }
                self.frameworks[i].crash(now, net, rng);
                let down = rng.millis(100, 3000);
                net.timer(now + down, Node::Framework(i), Timer::Restart);
                format!("fault: scheduler {i} crashes, restarts in {down:?}")
            }
            4 => {
                let i = rng.below(agents) as usize;
                if net.partitioned(i, now) {
                    return;
                }
                let length = rng.millis(500, 20_000);
                net.partition(i, now + length);
                format!("fault: agent {i} partitioned for {length:?}")
            }
            _ => {
                let i = rng.below(agents) as usize;
                let conns = net.agent_connections(i);
                let Some(&conn) = conns.first() else { return };
                net.close(
                    now,
                    rng,
                    conn,
                    Node::Agent(i),
                    &[Node::Master, Node::Agent(i)],
                );
                format!("fault: agent {i}'s stream breaks")
            }
        };
        truth.note(line.clone());
        self.record(|| line);
    }

    fn outcome(self) -> Outcome {
        let mut hasher = self.hasher;
        for framework in &self.frameworks {
            for (task, statuses) in &framework.disk.seen {
                task.hash(&mut hasher);
                for status in statuses {
                    status.state.hash(&mut hasher);
                }
            }
        }
        let finished = self.frameworks.iter().map(|f| f.disk.launched.len()).sum();
        Outcome {
            seed: self.seed,
            steps: self.steps,
            simulated: self.now,
            tasks: finished,
            messages: self.net.sent,
            lost: self.net.lost,
            fingerprint: hasher.finish(),
            violations: self.truth.violations,
            notes: self.truth.notes,
            trace: self.trace.unwrap_or_default(),
        }
    }
}

/// A short description of a payload, for the trace.
fn describe(payload: &Payload) -> String {
    match payload {
        Payload::Subscribe(_) => "SUBSCRIBE".into(),
        Payload::Call { call, .. } => format!("call {}", call_name(call.r#type)),
        Payload::StreamOpened { stream_id } => format!("stream {stream_id} opened"),
        Payload::Event(event) => {
            let name = event
                .r#type
                .and_then(|t| meseta_proto::scheduler::event::Type::try_from(t).ok())
                .map_or("?", |t| t.as_str_name());
            match &event.update {
                Some(update) => format!(
                    "UPDATE {} {}",
                    update.status.task_id.value,
                    state_name(update.status.state)
                ),
                None => name.to_string(),
            }
        }
        Payload::Attach(_) => "attach (Register)".into(),
        Payload::FromAgent(message) => match &message.kind {
            Some(meseta_proto::cluster::agent_message::Kind::StatusUpdate(u)) => format!(
                "status update {} {}",
                u.status.task_id.value,
                state_name(u.status.state)
            ),
            Some(meseta_proto::cluster::agent_message::Kind::Pong(_)) => "Pong".into(),
            Some(_) => "executor message".into(),
            None => "empty".into(),
        },
        Payload::ToAgent(message) => {
            use meseta_proto::cluster::master_message::Kind;
            match &message.kind {
                Some(Kind::Registered(r)) => format!("Registered as {}", r.agent_id.value),
                Some(Kind::RunTasks(run)) => {
                    let ids: Vec<&str> =
                        run.tasks.iter().map(|t| t.task_id.value.as_str()).collect();
                    format!("RunTasks {ids:?}")
                }
                Some(Kind::KillTask(kill)) => format!("KillTask {}", kill.task_id.value),
                Some(Kind::Acknowledge(ack)) => format!("Acknowledge {}", ack.task_id.value),
                Some(Kind::ShutdownFramework(s)) => {
                    format!("ShutdownFramework {}", s.framework_id.value)
                }
                Some(Kind::Ping(_)) => "Ping".into(),
                Some(Kind::Refused(r)) => format!("Refused: {:?}", r.reason),
                Some(Kind::ReconcileTasks(r)) => {
                    format!("ReconcileTasks {} tasks", r.task_ids.len())
                }
                Some(Kind::FrameworkMessage(_)) => "FrameworkMessage".into(),
                Some(Kind::CheckpointResources(_)) => "CheckpointResources".into(),
                None => "empty".into(),
            }
        }
        Payload::Closed => "closed".into(),
    }
}

fn call_name(kind: Option<i32>) -> &'static str {
    kind.and_then(|t| meseta_proto::scheduler::call::Type::try_from(t).ok())
        .map_or("?", |t| t.as_str_name())
}

fn state_name(state: i32) -> &'static str {
    meseta_proto::v1::TaskState::try_from(state).map_or("?", |s| s.as_str_name())
}
