//! Read-only access for the endpoints (`/master/state`, `/metrics/snapshot`, ...).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use meseta_allocator::Resources;

use super::{Agent, Counters, Framework, Master, OfferRecord, UnreachableAgent};

impl Master {
    /// Registered frameworks (connected or waiting to reconnect).
    pub fn frameworks(&self) -> &HashMap<String, Framework> {
        &self.frameworks
    }

    /// Removed frameworks, oldest first.
    pub fn completed_frameworks(&self) -> &VecDeque<Framework> {
        &self.completed_frameworks
    }

    /// Registered agents.
    pub fn agents(&self) -> &HashMap<String, Agent> {
        &self.agents
    }

    /// Agents from the registry still expected to re-register.
    pub fn recovered_agents(&self) -> &HashMap<String, super::RecoveredAgent> {
        &self.recovered
    }

    /// Agents marked gone, and since when.
    pub fn gone_agents(&self) -> &HashMap<String, Duration> {
        &self.gone
    }

    /// Agents marked unreachable.
    pub fn unreachable_agents(&self) -> &HashMap<String, UnreachableAgent> {
        &self.unreachable
    }

    /// Outstanding offers.
    pub fn offers(&self) -> &HashMap<String, OfferRecord> {
        &self.offers
    }

    /// Counters for metrics.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// When this master started.
    pub fn start_time(&self) -> Duration {
        self.start_time
    }

    /// When this master was elected leader.
    pub fn elected_time(&self) -> Duration {
        self.elected_time
    }

    /// Resources used by a framework's non-terminal tasks on an agent (all agents if `None`).
    pub fn used_resources(&self, framework_id: Option<&str>, agent_id: Option<&str>) -> Resources {
        let mut total = Resources::default();
        let frameworks: Box<dyn Iterator<Item = &Framework>> = match framework_id {
            Some(id) => Box::new(self.frameworks.get(id).into_iter()),
            None => Box::new(self.frameworks.values()),
        };
        for framework in frameworks {
            for record in framework.tasks.values() {
                if record.resources_recovered {
                    continue;
                }
                if agent_id.is_some_and(|a| a != record.task.agent_id.value) {
                    continue;
                }
                total.add(&record.resources);
            }
        }
        total
    }

    /// Resources held by the non-terminal tasks on one agent: a walk over
    /// that agent's tasks only (views of every agent stay linear in the
    /// number of tasks).
    pub fn used_on_agent(&self, agent_id: &str) -> Resources {
        let mut total = Resources::default();
        let Some(agent) = self.agents.get(agent_id) else {
            return total;
        };
        for (framework_id, task_id) in &agent.tasks {
            let record = self
                .frameworks
                .get(framework_id)
                .and_then(|f| f.tasks.get(task_id))
                .filter(|r| !r.resources_recovered);
            if let Some(record) = record {
                total.add(&record.resources);
            }
        }
        total
    }

    /// Resources offered on an agent.
    pub fn offered_on_agent(&self, agent_id: &str) -> Resources {
        let mut total = Resources::default();
        let ids = self
            .agent_offers
            .get(agent_id)
            .map_or(&[][..], Vec::as_slice);
        for offer in ids.iter().filter_map(|id| self.offers.get(id)) {
            total.add(&offer.resources);
        }
        total
    }
}
