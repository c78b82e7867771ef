//! What really happened, as only a simulator can know it: which task
//! started where and when, every update an agent accepted (and so promised
//! to deliver), which of them the master acknowledged, and the violations
//! found so far. The checks in [`crate::invariants`] compare the master's
//! and the frameworks' views with it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use meseta_proto::v1::{self, TaskState};

/// A task: (framework ID, task ID).
pub type TaskKey = (String, String);

/// A task start, as an agent saw it.
#[derive(Debug, Clone)]
pub struct Start {
    /// The agent it ran on.
    pub agent: usize,
    /// When.
    pub at: Duration,
}

/// The omniscient record of one run.
#[derive(Debug, Default)]
pub struct Truth {
    /// Every task ever started, by (framework, task).
    pub starts: BTreeMap<(String, String), Start>,
    /// Updates agents accepted (uuid, state), by (framework, task), in order.
    pub accepted: BTreeMap<TaskKey, Vec<(Vec<u8>, TaskState)>>,
    /// UUIDs the master acknowledged to an agent.
    pub acknowledged: BTreeSet<Vec<u8>>,
    /// Frameworks an agent was told to shut down (their updates need not
    /// arrive any more).
    pub shut_down: BTreeSet<String>,
    /// Tasks the master told their agent to kill (a kill in flight).
    pub doomed: BTreeSet<(String, String)>,
    /// Agents the master refused (their tasks were killed without updates).
    pub refused: BTreeSet<usize>,
    /// Broken invariants, in the order found.
    pub violations: Vec<String>,
    /// Things worth a line in the trace.
    pub notes: Vec<String>,
}

impl Truth {
    /// An agent starts a task; a second start of one TaskID is a violation.
    pub fn started(&mut self, agent: usize, framework_id: &str, info: &v1::TaskInfo, at: Duration) {
        let key = (framework_id.to_string(), info.task_id.value.clone());
        if let Some(first) = self.starts.get(&key) {
            self.violations.push(format!(
                "task {} of {framework_id} started twice: on agent {} at {:?}, again on agent {agent} at {at:?}",
                key.1, first.agent, first.at
            ));
            return;
        }
        self.starts.insert(key, Start { agent, at });
    }

    /// An agent accepted an update: it must reach the framework.
    pub fn accepted(&mut self, _agent: usize, framework_id: &str, status: &v1::TaskStatus) {
        let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskUnknown);
        self.accepted
            .entry((framework_id.to_string(), status.task_id.value.clone()))
            .or_default()
            .push((status.uuid.clone().unwrap_or_default(), state));
    }

    /// The master acknowledged an update to its agent.
    pub fn acknowledged(&mut self, _framework_id: &str, status: &v1::TaskStatus) {
        if let Some(uuid) = &status.uuid {
            self.acknowledged.insert(uuid.clone());
        }
    }

    /// An agent shut a framework down.
    pub fn framework_shut_down(&mut self, _agent: usize, framework_id: &str) {
        self.shut_down.insert(framework_id.to_string());
    }

    /// The master refused an agent.
    pub fn agent_refused(&mut self, agent: usize) {
        self.refused.insert(agent);
    }

    /// A line for the trace.
    pub fn note(&mut self, line: String) {
        self.notes.push(line);
    }

    /// The position of `uuid` among a task's accepted updates.
    pub fn position(&self, key: &(String, String), uuid: &[u8]) -> Option<usize> {
        self.accepted
            .get(key)?
            .iter()
            .position(|(u, _)| u.as_slice() == uuid)
    }
}
