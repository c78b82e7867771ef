//! The status update manager: reliable, ordered delivery of task updates.
//!
//! Every task has a stream: a FIFO of the status updates the agent has
//! accepted for it. Only the head of a stream is *in flight* to the master;
//! the next one is sent when the master acknowledges the head (by UUID). An
//! unacknowledged head is sent again after `retry_initial`, then after twice
//! that, and so on up to `retry_max`. After the agent (re-)registers, every
//! head is sent again at once ([`StatusUpdateManager::resend_all`]).
//!
//! Invariants:
//! * updates of one task reach the master in the order they were accepted;
//! * a UUID already accepted for a task is a duplicate and is dropped;
//! * nothing is accepted after a terminal update of the same task;
//! * a stream disappears when its terminal update is acknowledged — the
//!   caller then treats the task as completed.
//!
//! The manager is sans-IO: callers pass `now` and send what it returns, so
//! ordering and backoff are unit-tested without clocks or sockets.
//! Persistence goes through the [`UpdateJournal`] seam: every accepted update
//! and every acknowledgement is recorded *before* it changes the streams, so
//! an append-only file per task rebuilds them after a restart
//! ([`StatusUpdateManager::recover`]). Only streams accepted as journaled
//! are recorded: frameworks that do not checkpoint are not recovered, so
//! their updates are not worth an fsync.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use meseta_proto::cluster;
use meseta_proto::v1::{self, TaskState};

use crate::error::AgentError;

/// Which stream an update belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamKey {
    /// The task's framework.
    pub framework_id: String,
    /// The task.
    pub task_id: String,
}

impl StreamKey {
    /// The key of a framework's task.
    pub fn new(framework_id: &v1::FrameworkId, task_id: &v1::TaskId) -> Self {
        Self {
            framework_id: framework_id.value.clone(),
            task_id: task_id.value.clone(),
        }
    }
}

/// One change to a stream, as the journal records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JournalRecord<'a> {
    /// An update was accepted.
    Update(&'a cluster::StatusUpdate),
    /// The head with this UUID was acknowledged.
    Acknowledged(&'a [u8]),
    /// The stream ended (terminal update acknowledged, or framework removed).
    Closed,
}

/// Where the manager records its changes before applying them.
pub trait UpdateJournal: Send {
    /// Durably records `record` for the stream `key`.
    fn record(&mut self, key: &StreamKey, record: JournalRecord<'_>) -> Result<(), AgentError>;
}

/// A [`JournalRecord`] read back from a journal.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayedRecord {
    /// An update was accepted.
    Update(Box<cluster::StatusUpdate>),
    /// The head with this UUID was acknowledged.
    Acknowledged(Vec<u8>),
    /// The stream ended.
    Closed,
}

/// A journal that keeps nothing: updates live in memory only.
#[derive(Debug, Default)]
pub struct NoJournal;

impl UpdateJournal for NoJournal {
    fn record(&mut self, _: &StreamKey, _: JournalRecord<'_>) -> Result<(), AgentError> {
        Ok(())
    }
}

/// What became of an update handed to [`StatusUpdateManager::update`].
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// It is the new head: send it now.
    Forward(Box<cluster::StatusUpdate>),
    /// It waits behind an unacknowledged update.
    Queued,
    /// Its UUID was seen before: nothing to do.
    Duplicate,
}

/// What an acknowledgement did.
#[derive(Debug, Clone, PartialEq)]
pub struct Acknowledged {
    /// The update that was acknowledged.
    pub status: v1::TaskStatus,
    /// The next update of the stream, to send now.
    pub next: Option<cluster::StatusUpdate>,
    /// True when the acknowledged update was terminal and the stream ended.
    pub stream_closed: bool,
}

#[derive(Debug)]
struct Stream {
    framework_id: v1::FrameworkId,
    pending: VecDeque<v1::TaskStatus>,
    next_retry: Option<Instant>,
    backoff: Duration,
    latest_state: i32,
    terminated: bool,
    seen: HashSet<Vec<u8>>,
    /// Changes are recorded in the journal.
    journaled: bool,
}

/// Task states after which nothing more happens to a task (raw wire value).
pub fn is_terminal(state: i32) -> bool {
    TaskState::try_from(state).is_ok_and(TaskState::is_terminal)
}

/// Name of a task state for logs and messages ("TASK_RUNNING").
pub fn state_name(state: i32) -> &'static str {
    TaskState::try_from(state)
        .map(|s| s.as_str_name())
        .unwrap_or("TASK_UNKNOWN")
}

/// Fills what the agent adds to every update: a fresh 16-byte UUID if there
/// is none, the time, and the agent's and executor's IDs.
pub fn stamp(
    status: &mut v1::TaskStatus,
    agent_id: Option<&v1::AgentId>,
    executor_id: Option<&v1::ExecutorId>,
) {
    if status.uuid.as_ref().is_none_or(Vec::is_empty) {
        status.uuid = Some(uuid::Uuid::new_v4().as_bytes().to_vec());
    }
    if status.timestamp.is_none() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        status.timestamp = Some(now);
    }
    if status.agent_id.is_none() {
        status.agent_id = agent_id.cloned();
    }
    if status.executor_id.is_none() {
        status.executor_id = executor_id.cloned();
    }
}

impl Stream {
    fn new(framework_id: v1::FrameworkId, latest_state: i32, journaled: bool) -> Self {
        Self {
            framework_id,
            pending: VecDeque::new(),
            next_retry: None,
            backoff: Duration::ZERO,
            latest_state,
            terminated: false,
            seen: HashSet::new(),
            journaled,
        }
    }
}

/// The per-task streams of status updates. See the module docs.
pub struct StatusUpdateManager {
    streams: HashMap<StreamKey, Stream>,
    retry_initial: Duration,
    retry_max: Duration,
    journal: Box<dyn UpdateJournal>,
}

impl std::fmt::Debug for StatusUpdateManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusUpdateManager")
            .field("streams", &self.streams.len())
            .finish()
    }
}

impl StatusUpdateManager {
    /// A manager retrying after `retry_initial`, doubling up to `retry_max`.
    pub fn new(
        retry_initial: Duration,
        retry_max: Duration,
        journal: Box<dyn UpdateJournal>,
    ) -> Self {
        Self {
            streams: HashMap::new(),
            retry_initial,
            retry_max: retry_max.max(retry_initial),
            journal,
        }
    }

    /// Accepts an update (already [`stamp`]ed, so it has a UUID), recording
    /// it in the journal.
    pub fn update(
        &mut self,
        now: Instant,
        framework_id: &v1::FrameworkId,
        status: v1::TaskStatus,
    ) -> Result<Accepted, AgentError> {
        self.update_journaled(now, framework_id, status, true)
    }

    /// Accepts an update; `journaled` says whether a *new* stream records
    /// its changes in the journal (an existing stream keeps its choice).
    pub fn update_journaled(
        &mut self,
        now: Instant,
        framework_id: &v1::FrameworkId,
        status: v1::TaskStatus,
        journaled: bool,
    ) -> Result<Accepted, AgentError> {
        let refuse = |reason: &str| AgentError::StatusUpdate {
            task_id: status.task_id.value.clone(),
            state: state_name(status.state).to_string(),
            reason: reason.to_string(),
        };
        let uuid = match &status.uuid {
            Some(uuid) if !uuid.is_empty() => uuid.clone(),
            _ => return Err(refuse("it has no UUID")),
        };
        let key = StreamKey::new(framework_id, &status.task_id);
        let mut journaled = journaled;
        if let Some(stream) = self.streams.get(&key) {
            if stream.seen.contains(&uuid) {
                return Ok(Accepted::Duplicate);
            }
            if stream.terminated {
                return Err(refuse("the task already has a terminal update"));
            }
            journaled = stream.journaled;
        }
        let latest = status.state;
        let record = cluster::StatusUpdate {
            framework_id: framework_id.clone(),
            status,
            latest_state: Some(latest),
        };
        if journaled {
            self.journal.record(&key, JournalRecord::Update(&record))?;
        }
        let stream = self
            .streams
            .entry(key)
            .or_insert_with(|| Stream::new(framework_id.clone(), latest, journaled));
        stream.seen.insert(uuid);
        stream.latest_state = latest;
        stream.terminated = is_terminal(latest);
        stream.pending.push_back(record.status);
        if stream.pending.len() > 1 {
            return Ok(Accepted::Queued);
        }
        stream.backoff = self.retry_initial;
        stream.next_retry = Some(now + self.retry_initial);
        Ok(Accepted::Forward(Box::new(Self::message(stream, 0))))
    }

    /// Handles the master's acknowledgement of the head with `uuid`.
    pub fn acknowledge(
        &mut self,
        now: Instant,
        framework_id: &v1::FrameworkId,
        task_id: &v1::TaskId,
        uuid: &[u8],
    ) -> Result<Acknowledged, AgentError> {
        let key = StreamKey::new(framework_id, task_id);
        let refuse = |reason: &str| AgentError::StatusUpdate {
            task_id: task_id.value.clone(),
            state: "acknowledgement".to_string(),
            reason: reason.to_string(),
        };
        let stream = self
            .streams
            .get_mut(&key)
            .ok_or_else(|| refuse("no updates are pending for this task"))?;
        if stream.pending.front().and_then(|s| s.uuid.as_deref()) != Some(uuid) {
            return Err(refuse("the UUID does not match the update in flight"));
        }
        if stream.journaled {
            self.journal
                .record(&key, JournalRecord::Acknowledged(uuid))?;
        }
        let Some(status) = stream.pending.pop_front() else {
            return Err(refuse("no updates are pending for this task"));
        };
        if !stream.pending.is_empty() {
            stream.backoff = self.retry_initial;
            stream.next_retry = Some(now + self.retry_initial);
            let next = Some(Self::message(stream, 0));
            return Ok(Acknowledged {
                status,
                next,
                stream_closed: false,
            });
        }
        stream.next_retry = None;
        let stream_closed = stream.terminated;
        if stream_closed {
            if stream.journaled {
                self.journal.record(&key, JournalRecord::Closed)?;
            }
            self.streams.remove(&key);
        }
        Ok(Acknowledged {
            status,
            next: None,
            stream_closed,
        })
    }

    /// Heads whose retry time has come; each is rescheduled with a doubled
    /// interval (capped at `retry_max`).
    pub fn due(&mut self, now: Instant) -> Vec<cluster::StatusUpdate> {
        let retry_max = self.retry_max;
        let mut out = Vec::new();
        for stream in self.streams.values_mut() {
            let Some(at) = stream.next_retry else {
                continue;
            };
            if at > now || stream.pending.is_empty() {
                continue;
            }
            stream.backoff = (stream.backoff * 2).min(retry_max);
            stream.next_retry = Some(now + stream.backoff);
            out.push(Self::message(stream, 0));
        }
        out
    }

    /// Every head, to send after (re-)registering; backoff starts over.
    pub fn resend_all(&mut self, now: Instant) -> Vec<cluster::StatusUpdate> {
        let initial = self.retry_initial;
        self.streams
            .values_mut()
            .filter(|s| !s.pending.is_empty())
            .map(|stream| {
                stream.backoff = initial;
                stream.next_retry = Some(now + initial);
                Self::message(stream, 0)
            })
            .collect()
    }

    /// When [`due`](Self::due) will next have something to return.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.streams.values().filter_map(|s| s.next_retry).min()
    }

    /// The state of the newest update accepted for a task still streaming.
    pub fn latest_state(&self, key: &StreamKey) -> Option<i32> {
        self.streams.get(key).map(|s| s.latest_state)
    }

    /// The update in flight for a task, if any.
    pub fn in_flight(&self, key: &StreamKey) -> Option<&v1::TaskStatus> {
        self.streams.get(key).and_then(|s| s.pending.front())
    }

    /// Number of updates not yet acknowledged, over all tasks.
    pub fn pending_count(&self) -> usize {
        self.streams.values().map(|s| s.pending.len()).sum()
    }

    /// Drops every stream of a framework (it was shut down: nobody will
    /// acknowledge its updates any more).
    pub fn remove_framework(&mut self, framework_id: &v1::FrameworkId) {
        let keys: Vec<StreamKey> = self
            .streams
            .keys()
            .filter(|k| k.framework_id == framework_id.value)
            .cloned()
            .collect();
        for key in keys {
            self.close(&key);
        }
    }

    /// Drops every stream (the master refused this agent).
    pub fn clear(&mut self) {
        let keys: Vec<StreamKey> = self.streams.keys().cloned().collect();
        for key in keys {
            self.close(&key);
        }
    }

    fn close(&mut self, key: &StreamKey) {
        if let Some(stream) = self.streams.remove(key) {
            if stream.journaled {
                if let Err(e) = self.journal.record(key, JournalRecord::Closed) {
                    tracing::warn!(task_id = %key.task_id, error = %e, "cannot record closed stream");
                }
            }
        }
    }

    /// Rebuilds a stream from its journal, read back after a restart.
    /// Returns every update the stream ever accepted, oldest first (the
    /// task's history), and whether the stream is still open: a stream
    /// whose terminal update was acknowledged (or that was closed) is not
    /// recreated. Nothing is sent until [`resend_all`](Self::resend_all).
    pub fn recover(
        &mut self,
        key: &StreamKey,
        records: Vec<ReplayedRecord>,
    ) -> (Vec<v1::TaskStatus>, bool) {
        let framework_id = v1::FrameworkId {
            value: key.framework_id.clone(),
        };
        let mut history = Vec::new();
        let mut stream: Option<Stream> = None;
        for record in records {
            match record {
                ReplayedRecord::Update(update) => {
                    let latest = update.status.state;
                    let stream = stream
                        .get_or_insert_with(|| Stream::new(framework_id.clone(), latest, true));
                    let uuid = update.status.uuid.clone().unwrap_or_default();
                    if !stream.seen.insert(uuid) {
                        continue;
                    }
                    stream.latest_state = latest;
                    stream.terminated = stream.terminated || is_terminal(latest);
                    let status = update.status;
                    history.push(status.clone());
                    stream.pending.push_back(status);
                }
                ReplayedRecord::Acknowledged(uuid) => {
                    if let Some(stream) = stream.as_mut() {
                        if stream.pending.front().and_then(|s| s.uuid.as_deref()) == Some(&uuid) {
                            stream.pending.pop_front();
                        }
                    }
                }
                ReplayedRecord::Closed => stream = None,
            }
        }
        let open = stream
            .as_ref()
            .is_some_and(|s| !(s.terminated && s.pending.is_empty()));
        match stream {
            Some(stream) if open => {
                self.streams.insert(key.clone(), stream);
            }
            _ => {}
        }
        (history, open)
    }

    fn message(stream: &Stream, index: usize) -> cluster::StatusUpdate {
        cluster::StatusUpdate {
            framework_id: stream.framework_id.clone(),
            status: stream.pending.get(index).cloned().unwrap_or_default(),
            latest_state: Some(stream.latest_state),
        }
    }
}

#[cfg(test)]
#[path = "status_updates_tests.rs"]
mod tests;
