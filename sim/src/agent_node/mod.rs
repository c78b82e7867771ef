//! A simulated agent: what the real agent decides (registering with its
//! ID and tasks, answering pings, running and killing tasks, reliable status
//! updates through the real [`StatusUpdateManager`] and its journal,
//! checkpointing, recovering after a crash) without processes or sockets.
//!
//! What survives a crash is in [`AgentDisk`]; everything else is rebuilt
//! on restart, as the real agent rebuilds it from `<work_dir>/meta`. A
//! task's process outlives its agent (its supervisor does): a task that
//! ended while the agent was down is found ended on restart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meseta_agent::status_updates::{
    Accepted, JournalRecord, ReplayedRecord, StatusUpdateManager, StreamKey, UpdateJournal,
};
use meseta_agent::AgentError;
use meseta_proto::cluster::{agent_message, AgentMessage, StatusUpdate as UpdateMessage};
use meseta_proto::v1::{self, task_status, TaskState};

use crate::net::{Net, Node, Payload, Timer};
use crate::rng::SimRng;
use crate::truth::Truth;

mod messages;

/// How often a live agent looks at its clocks (retries, silence, tasks).
pub const WAKE: Duration = Duration::from_millis(250);
const RETRY_INITIAL: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(60);
const BACKOFF_FACTOR: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(15);
const MISSED_PINGS: u32 = 3;

/// Journal records by stream, shared by the manager and the disk.
type Journal = Arc<Mutex<BTreeMap<(String, String), Vec<ReplayedRecord>>>>;

struct DiskJournal(Journal);

impl UpdateJournal for DiskJournal {
    fn record(&mut self, key: &StreamKey, record: JournalRecord<'_>) -> Result<(), AgentError> {
        let replayed = match record {
            JournalRecord::Update(update) => ReplayedRecord::Update(Box::new(update.clone())),
            JournalRecord::Acknowledged(uuid) => ReplayedRecord::Acknowledged(uuid.to_vec()),
            JournalRecord::Closed => ReplayedRecord::Closed,
        };
        let mut journal = self.0.lock().unwrap_or_else(|e| e.into_inner());
        journal
            .entry((key.framework_id.clone(), key.task_id.clone()))
            .or_default()
            .push(replayed);
        Ok(())
    }
}

/// A task's process, as its supervisor would report it.
#[derive(Debug, Clone)]
pub struct SimTask {
    /// As launched.
    pub info: v1::TaskInfo,
    /// Its framework.
    pub framework_id: v1::FrameworkId,
    /// Its state as the agent knows it.
    pub state: TaskState,
    /// When its command exits by itself.
    pub ends_at: Duration,
}

/// What an agent keeps across crashes (its work dir).
#[derive(Default)]
pub struct AgentDisk {
    /// The ID the master gave it.
    pub agent_id: Option<v1::AgentId>,
    /// Frameworks of its tasks.
    pub frameworks: BTreeMap<String, v1::FrameworkInfo>,
    /// Tasks by (framework, task).
    pub tasks: BTreeMap<(String, String), SimTask>,
    journal: Journal,
}

/// What a running agent holds in memory.
struct Running {
    updates: StatusUpdateManager,
    link: Option<u64>,
    registered: bool,
    last_heard: Duration,
    ping_interval: Duration,
    next_attempt: Duration,
    attempt: u32,
    /// When this process's own wake is due (a dead process's are still
    /// queued; they do not match).
    next_wake: Duration,
}

/// One simulated agent.
pub struct AgentNode {
    index: usize,
    resources: Vec<v1::Resource>,
    /// What survives a crash.
    pub disk: AgentDisk,
    running: Option<Running>,
    /// The instant the manager's clock counts from (it takes `Instant`s).
    origin: Instant,
}

impl AgentNode {
    /// Agent `index` with `resources`, not started.
    pub fn new(index: usize, resources: Vec<v1::Resource>, origin: Instant) -> Self {
        Self {
            index,
            resources,
            disk: AgentDisk::default(),
            running: None,
            origin,
        }
    }

    fn me(&self) -> Node {
        Node::Agent(self.index)
    }

    /// Whether the agent process runs.
    pub fn is_up(&self) -> bool {
        self.running.is_some()
    }

    /// Whether it is registered with the master.
    pub fn is_registered(&self) -> bool {
        self.running.as_ref().is_some_and(|r| r.registered)
    }

    /// Updates not acknowledged yet.
    pub fn pending_updates(&self) -> usize {
        self.running
            .as_ref()
            .map_or(0, |r| r.updates.pending_count())
    }

    /// Starts (or restarts) the agent on its disk: rebuilds the update
    /// streams from the journal, finds tasks that ended meanwhile.
    pub fn start(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng, truth: &mut Truth) {
        let journal = Arc::clone(&self.disk.journal);
        let mut updates =
            StatusUpdateManager::new(RETRY_INITIAL, RETRY_MAX, Box::new(DiskJournal(journal)));
        let records = self
            .disk
            .journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for ((framework_id, task_id), records) in records {
            let key = StreamKey {
                framework_id,
                task_id,
            };
            updates.recover(&key, records);
        }
        self.running = Some(Running {
            updates,
            link: None,
            registered: false,
            last_heard: now,
            ping_interval: DEFAULT_PING_INTERVAL,
            next_attempt: now + rng.millis(0, 1000),
            attempt: 0,
            next_wake: now + WAKE,
        });
        self.finish_ended(now, net, rng, truth);
        net.timer(now + WAKE, self.me(), Timer::Wake);
    }

    /// The agent process dies (its tasks live on).
    pub fn crash(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng) {
        if let Some(link) = self.running.take().and_then(|r| r.link) {
            net.close(now, rng, link, self.me(), &[Node::Master]);
        }
    }

    /// The periodic check: tasks that ended, retries, a silent master,
    /// reconnecting.
    pub fn wake(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng, truth: &mut Truth) {
        let Some(running) = self.running.as_mut().filter(|r| r.next_wake == now) else {
            return;
        };
        running.next_wake = now + WAKE;
        net.timer(now + WAKE, Node::Agent(self.index), Timer::Wake);
        if let Some(link) = running.link {
            if now.saturating_sub(running.last_heard) > running.ping_interval * MISSED_PINGS {
                running.link = None;
                running.registered = false;
                running.next_attempt = now;
                net.close(now, rng, link, Node::Agent(self.index), &[Node::Master]);
            }
        }
        if running.link.is_none() && now >= running.next_attempt {
            let register = self.register_message();
            let Some(running) = self.running.as_mut() else {
                return;
            };
            running.last_heard = now;
            running.link = Some(net.connect(
                now,
                rng,
                Node::Agent(self.index),
                Node::Master,
                Payload::Attach(register),
            ));
            return;
        }
        self.finish_ended(now, net, rng, truth);
        let at = self.instant(now);
        let Some(running) = self.running.as_mut() else {
            return;
        };
        if running.registered {
            let mut due = running.updates.due(at);
            due.sort_by(|a, b| a.status.task_id.value.cmp(&b.status.task_id.value));
            for update in due {
                self.forward(now, net, rng, update);
            }
        }
    }

    fn instant(&self, now: Duration) -> Instant {
        self.origin + now
    }

    /// A message on a connection (or the connection's end).
    pub fn deliver(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        conn: u64,
        payload: Payload,
    ) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        if running.link != Some(conn) {
            return;
        }
        match payload {
            Payload::Closed => {
                running.link = None;
                running.registered = false;
                let bound = BACKOFF_FACTOR
                    .saturating_mul(1 << running.attempt.min(10))
                    .min(BACKOFF_MAX);
                running.attempt += 1;
                running.next_attempt = now + rng.millis(0, bound.as_millis() as u64);
            }
            Payload::ToAgent(message) => {
                running.last_heard = now;
                self.on_message(now, net, rng, truth, message);
            }
            _ => {}
        }
    }

    /// Tasks whose command exited by now finish.
    fn finish_ended(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng, truth: &mut Truth) {
        let ended: Vec<(String, String)> = self
            .disk
            .tasks
            .iter()
            .filter(|(_, t)| !t.state.is_terminal() && t.ends_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in ended {
            self.end_task(now, net, rng, truth, &key, TaskState::TaskFinished);
        }
    }

    fn end_task(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        key: &(String, String),
        state: TaskState,
    ) {
        if let Some(task) = self.disk.tasks.get_mut(key) {
            task.state = state;
        }
        self.report(now, net, rng, truth, key, state);
    }

    /// A new reliable update of a task: journaled, then sent when it is the
    /// head of its stream and the agent is registered.
    fn report(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        key: &(String, String),
        state: TaskState,
    ) {
        let framework_id = v1::FrameworkId {
            value: key.0.clone(),
        };
        let status = v1::TaskStatus {
            task_id: v1::TaskId {
                value: key.1.clone(),
            },
            state: state as i32,
            source: Some(task_status::Source::Executor as i32),
            uuid: Some(rng.uuid()),
            agent_id: self.disk.agent_id.clone(),
            timestamp: Some(now.as_secs_f64()),
            ..Default::default()
        };
        let at = self.instant(now);
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let registered = running.registered;
        match running.updates.update(at, &framework_id, status.clone()) {
            Ok(accepted) => {
                truth.accepted(self.index, &key.0, &status);
                if let (Accepted::Forward(update), true) = (accepted, registered) {
                    self.forward(now, net, rng, *update);
                }
            }
            Err(error) => truth.note(format!("agent {} refused an update: {error}", self.index)),
        }
    }

    fn forward(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng, update: UpdateMessage) {
        self.send(now, net, rng, agent_message::Kind::StatusUpdate(update));
    }

    fn send(&mut self, now: Duration, net: &mut Net, rng: &mut SimRng, kind: agent_message::Kind) {
        let Some(link) = self.running.as_ref().and_then(|r| r.link) else {
            return;
        };
        let message = AgentMessage { kind: Some(kind) };
        net.send(
            now,
            rng,
            link,
            self.me(),
            Node::Master,
            Payload::FromAgent(message),
        );
    }
}
