//! The agents (registered, or recovered from the registry and not back
//! yet) by host name. An agent that registers without its ID is matched to
//! the agent it was by host and address or port; without this index that
//! match scanned every agent, and 50,000 agents registering took minutes.
//!
//! The index may hold more than is true (an agent whose host name changed
//! stays listed under the old one too): a lookup checks each candidate.

use std::collections::HashMap;

/// Agent IDs by host name.
#[derive(Debug, Default)]
pub(super) struct HostIndex {
    by_host: HashMap<String, Vec<String>>,
}

impl HostIndex {
    /// Lists `agent_id` under `hostname` (once).
    pub(super) fn add(&mut self, hostname: &str, agent_id: &str) {
        match self.by_host.get_mut(hostname) {
            Some(ids) if ids.iter().any(|id| id == agent_id) => {}
            Some(ids) => ids.push(agent_id.to_string()),
            None => {
                self.by_host
                    .insert(hostname.to_string(), vec![agent_id.to_string()]);
            }
        }
    }

    /// No longer lists `agent_id` under `hostname`.
    pub(super) fn remove(&mut self, hostname: &str, agent_id: &str) {
        if let Some(ids) = self.by_host.get_mut(hostname) {
            ids.retain(|id| id != agent_id);
            if ids.is_empty() {
                self.by_host.remove(hostname);
            }
        }
    }

    /// The agents listed under `hostname`.
    pub(super) fn at(&self, hostname: &str) -> &[String] {
        self.by_host.get(hostname).map_or(&[], Vec::as_slice)
    }
}
