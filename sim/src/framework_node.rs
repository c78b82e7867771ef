//! A simulated scheduler on the client core's real protocol state machine
//! ([`Session`]): it subscribes (again with its FrameworkID after a crash),
//! launches a stream of tasks of random lengths into its offers, kills a
//! few, acknowledges every update explicitly, and reconciles on each
//! (re-)subscription and periodically, as a careful framework does.
//!
//! Its ledger ([`FrameworkDisk`]) survives a crash: the tasks it launched
//! (written before the ACCEPT is sent, so no TaskID is ever reused) and
//! every update it saw.

use std::collections::BTreeMap;
use std::time::Duration;

use meseta_core::detector::Endpoint;
use meseta_core::scheduler::{Action, Callback, Request, Session};
use meseta_proto::v1::{self, TaskState};

use crate::net::{Net, Node, Payload, Timer};
use crate::rng::SimRng;
use crate::truth::Truth;
use crate::Sabotage;

/// How often a live scheduler looks at its clocks.
const WAKE: Duration = Duration::from_millis(500);
const RECONCILE_EVERY: Duration = Duration::from_secs(20);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
const TASK_CPUS: f64 = 0.5;
const TASK_MEM: f64 = 64.0;

/// What a scheduler keeps across crashes.
#[derive(Debug, Default)]
pub struct FrameworkDisk {
    /// Its ID, once subscribed.
    pub framework_id: Option<v1::FrameworkId>,
    /// Every task it launched, with the agent it went to.
    pub launched: BTreeMap<String, v1::AgentId>,
    /// Every update it received, by task, in order.
    pub seen: BTreeMap<String, Vec<v1::TaskStatus>>,
    /// The position (in the agent's accepted updates) of the newest agent
    /// update seen, by task: later ones must not go back.
    pub newest: BTreeMap<String, usize>,
}

impl FrameworkDisk {
    /// The last state the framework saw of a task.
    pub fn last_state(&self, task_id: &str) -> Option<TaskState> {
        let status = self.seen.get(task_id)?.last()?;
        TaskState::try_from(status.state).ok()
    }
}

struct Live {
    session: Session,
    conn: Option<u64>,
    stream_id: String,
    last_event: Duration,
    next_attempt: Duration,
    attempt: u32,
    next_reconcile: Duration,
    /// When this process's own wake is due (a dead process's are still
    /// queued; they do not match).
    next_wake: Duration,
}

/// One simulated scheduler.
pub struct FrameworkNode {
    index: usize,
    tasks: usize,
    sabotage: Option<Sabotage>,
    /// TaskIDs handed out by this process (with `ReuseTaskIds`, numbering
    /// starts again after a crash).
    numbered: usize,
    /// What survives a crash.
    pub disk: FrameworkDisk,
    live: Option<Live>,
}

impl FrameworkNode {
    /// Scheduler `index`, which launches `tasks` tasks in all.
    pub fn new(index: usize, tasks: usize, sabotage: Option<Sabotage>) -> Self {
        Self {
            index,
            tasks,
            sabotage,
            numbered: 0,
            disk: FrameworkDisk::default(),
            live: None,
        }
    }

    fn me(&self) -> Node {
        Node::Framework(self.index)
    }

    /// Whether the scheduler process runs.
    pub fn is_up(&self) -> bool {
        self.live.is_some()
    }

    /// The framework's ID, once it has one.
    pub fn id(&self) -> Option<&str> {
        self.disk.framework_id.as_ref().map(|id| id.value.as_str())
    }

    /// All its tasks were launched and the framework saw each end.
    pub fn done(&self) -> bool {
        self.disk.launched.len() == self.tasks
            && self
                .disk
                .launched
                .keys()
                .all(|t| self.disk.last_state(t).is_some_and(TaskState::is_terminal))
    }

    /// Odd-numbered frameworks are partition-aware (they hear
    /// TASK_UNREACHABLE, and their tasks survive an agent's return), the
    /// others are not (TASK_LOST, and their tasks are killed on return).
    fn info(&self) -> v1::FrameworkInfo {
        let capabilities = if self.index % 2 == 1 {
            vec![v1::framework_info::Capability {
                r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
            }]
        } else {
            Vec::new()
        };
        v1::FrameworkInfo {
            capabilities,
            user: "sim".into(),
            name: format!("sim-framework-{}", self.index),
            id: self.disk.framework_id.clone(),
            checkpoint: Some(true),
            failover_timeout: Some(3600.0),
            ..Default::default()
        }
    }

    /// Starts (or restarts, with its FrameworkID) the scheduler.
    pub fn start(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng) {
        self.numbered = match self.sabotage {
            Some(Sabotage::ReuseTaskIds) => 0,
            _ => self.disk.launched.len(),
        };
        self.live = Some(Live {
            session: Session::new(self.info()),
            conn: None,
            stream_id: String::new(),
            last_event: now,
            next_attempt: now + rng.millis(0, 500),
            attempt: 0,
            next_reconcile: now + RECONCILE_EVERY,
            next_wake: now + WAKE,
        });
        net.timer(now + WAKE, self.me(), Timer::Wake);
    }

    /// The scheduler process dies.
    pub fn crash(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng) {
        if let Some(conn) = self.live.take().and_then(|l| l.conn) {
            net.close(now, rng, conn, self.me(), &[Node::Master]);
        }
    }

    /// The periodic check: reconnecting, a silent stream, reconciliation,
    /// and now and then a kill.
    pub fn wake(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng, truth: &mut Truth) {
        let me = self.me();
        let Some(live) = self.live.as_mut().filter(|l| l.next_wake == now) else {
            return;
        };
        live.next_wake = now + WAKE;
        net.timer(now + WAKE, me, Timer::Wake);
        match live.conn {
            None if now >= live.next_attempt => {
                let call = live.session.subscribe_call();
                let conn = net.connect(now, rng, me, Node::Master, Payload::Subscribe(call));
                live.conn = Some(conn);
                live.stream_id.clear();
                live.last_event = now;
                live.session.connected(&Endpoint::new("sim-master", 5050));
            }
            Some(conn) if now.saturating_sub(live.last_event) > live.session.liveness_timeout() => {
                net.close(now, rng, conn, me, &[Node::Master]);
                self.lost_stream(now, rng, truth);
            }
            Some(_) if live.session.is_subscribed() && now >= live.next_reconcile => {
                live.next_reconcile = now + RECONCILE_EVERY;
                self.reconcile(now, net, rng, truth);
                if rng.chance(0.3) {
                    self.kill_one(now, net, rng, truth);
                }
            }
            _ => {}
        }
    }

    fn lost_stream(&mut self, now: Duration, rng: &mut SimRng, truth: &mut Truth) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.conn = None;
        let bound = Duration::from_millis(250)
            .saturating_mul(1 << live.attempt.min(8))
            .min(BACKOFF_MAX);
        live.attempt += 1;
        live.next_attempt = now + rng.millis(0, bound.as_millis() as u64);
        if let Some(callback) = live.session.disconnected() {
            truth.note(format!("framework {} {callback:?}", self.index));
        }
    }

    /// Something arrived on its stream.
    pub fn deliver(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        conn: u64,
        payload: Payload,
    ) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if live.conn != Some(conn) {
            return;
        }
        match payload {
            Payload::StreamOpened { stream_id } => {
                live.stream_id = stream_id;
                live.last_event = now;
            }
            Payload::Event(event) => {
                live.last_event = now;
                for action in live.session.handle_event(event) {
                    match action {
                        Action::Deliver(callback) => self.callback(now, net, rng, truth, callback),
                        Action::Abort { message } => {
                            truth.violations.push(format!(
                                "framework {} got an ERROR event: {message}",
                                self.index
                            ));
                        }
                    }
                }
            }
            Payload::Closed => self.lost_stream(now, rng, truth),
            _ => {}
        }
    }

    fn callback(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        callback: Callback,
    ) {
        match callback {
            Callback::Registered { framework_id, .. } => {
                if let Some(live) = self.live.as_mut() {
                    live.attempt = 0;
                }
                self.disk.framework_id = Some(framework_id);
                self.reconcile(now, net, rng, truth);
            }
            Callback::Reregistered { .. } => {
                if let Some(live) = self.live.as_mut() {
                    live.attempt = 0;
                }
                self.reconcile(now, net, rng, truth);
            }
            Callback::ResourceOffers(offers) => {
                for offer in offers {
                    self.use_offer(now, net, rng, truth, offer);
                }
            }
            Callback::StatusUpdate(status) => self.update(now, net, rng, truth, status),
            _ => {}
        }
    }

    fn use_offer(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        offer: v1::Offer,
    ) {
        let scalar = |name: &str| -> f64 {
            offer
                .resources
                .iter()
                .filter(|r| r.name == name)
                .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
                .sum()
        };
        let fit = ((scalar("cpus") / TASK_CPUS).floor()).min((scalar("mem") / TASK_MEM).floor());
        let left = self.tasks.saturating_sub(self.disk.launched.len());
        let count = (fit.max(0.0) as usize)
            .min(left)
            .min(1 + rng.below(3) as usize);
        let mut tasks = Vec::new();
        for _ in 0..count {
            let task_id = format!("f{}-t{}", self.index, self.numbered);
            self.numbered += 1;
            let length = rng.millis(200, 20_000).as_millis() as u64;
            // Written down before the ACCEPT leaves: a restarted scheduler
            // never launches this TaskID again.
            self.disk
                .launched
                .insert(task_id.clone(), offer.agent_id.clone());
            tasks.push(v1::TaskInfo {
                name: task_id.clone(),
                task_id: v1::TaskId { value: task_id },
                agent_id: offer.agent_id.clone(),
                resources: task_resources(),
                command: Some(v1::CommandInfo {
                    value: Some("true".into()),
                    ..Default::default()
                }),
                data: Some(length.to_le_bytes().to_vec()),
                ..Default::default()
            });
        }
        let filters = Some(v1::Filters {
            refuse_seconds: Some(1.0),
        });
        let request = Request::launch(std::slice::from_ref(&offer.id), tasks, filters);
        self.call(now, net, rng, truth, request);
    }

    fn update(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        status: v1::TaskStatus,
    ) {
        let task_id = status.task_id.value.clone();
        if let (Some(uuid), Some(fid)) = (&status.uuid, self.id()) {
            let key = (fid.to_string(), task_id.clone());
            match truth.position(&key, uuid) {
                None => truth.violations.push(format!(
                    "framework {} got an update of {task_id} with a UUID no agent accepted",
                    self.index
                )),
                Some(at) => {
                    let newest = self.disk.newest.entry(task_id.clone()).or_insert(at);
                    if at < *newest {
                        truth.violations.push(format!(
                            "framework {} got update #{at} of {task_id} after #{newest}",
                            self.index
                        ));
                    }
                    *newest = (*newest).max(at);
                }
            }
        }
        self.disk
            .seen
            .entry(task_id)
            .or_default()
            .push(status.clone());
        let finished = status.state == TaskState::TaskFinished as i32;
        if finished && self.sabotage == Some(Sabotage::SkipAcknowledgements) {
            return;
        }
        if let Some(ack) = Request::acknowledge(&status) {
            self.call(now, net, rng, truth, ack);
        }
    }

    /// Explicit reconciliation of every task not known to be over, then an
    /// implicit one.
    fn reconcile(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng, truth: &mut Truth) {
        let open: Vec<v1::TaskStatus> = self
            .disk
            .launched
            .iter()
            .filter(|(t, _)| !self.disk.last_state(t).is_some_and(TaskState::is_terminal))
            .map(|(t, agent)| v1::TaskStatus {
                task_id: v1::TaskId { value: t.clone() },
                agent_id: Some(agent.clone()),
                ..Default::default()
            })
            .collect();
        if !open.is_empty() {
            self.call(now, net, rng, truth, Request::reconcile(&open));
        }
        self.call(
            now,
            net,
            rng,
            truth,
            Request::Reconcile { tasks: Vec::new() },
        );
    }

    fn kill_one(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng, truth: &mut Truth) {
        let running: Vec<String> = self
            .disk
            .launched
            .keys()
            .filter(|t| self.disk.last_state(t) == Some(TaskState::TaskRunning))
            .cloned()
            .collect();
        if running.is_empty() {
            return;
        }
        let task_id = running[rng.below(running.len() as u64) as usize].clone();
        let request = Request::Kill {
            task_id: v1::TaskId { value: task_id },
        };
        self.call(now, net, rng, truth, request);
    }

    fn call(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        request: Request,
    ) {
        let me = self.me();
        let Some(live) = self.live.as_mut() else {
            return;
        };
        match live.session.prepare(request, now.as_secs_f64()) {
            Ok(call) => {
                let stream_id = live.stream_id.clone();
                net.request(
                    now,
                    rng,
                    me,
                    Node::Master,
                    Payload::Call { call, stream_id },
                );
            }
            Err(callbacks) => {
                for callback in callbacks {
                    self.callback(now, net, rng, truth, callback);
                }
            }
        }
    }
}

/// What each task asks for.
pub fn task_resources() -> Vec<v1::Resource> {
    [("cpus", TASK_CPUS), ("mem", TASK_MEM)]
        .into_iter()
        .map(|(name, value)| v1::Resource {
            name: name.into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value }),
            ..Default::default()
        })
        .collect()
}
