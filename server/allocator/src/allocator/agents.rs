//! Agent lifecycle: add (with the resources its running tasks already use),
//! remove, activate and deactivate.
//!
//! Adding or removing an agent changes the cluster total and therefore every
//! share; rather than re-keying every client per agent (10,000 agents
//! registering would cost 10,000 full re-sorts), the DRF order is marked
//! stale and rebuilt once by the next cycle.

use super::{Agent, Allocator};
use crate::Resources;

impl Allocator {
    /// Adds an agent with `total` resources, of which `used` are already
    /// held by frameworks, as `(framework, role, resources)` (tasks found
    /// running when the agent (re)registers). A framework in `used` the
    /// allocator has not met yet gets an unregistered slot in that role,
    /// which [`Allocator::add_framework`] later adopts. Adding a known
    /// agent replaces it.
    pub fn add_agent(
        &mut self,
        agent_id: &str,
        total: Resources,
        used: &[(String, String, Resources)],
    ) {
        if self.agents.lookup(agent_id).is_some() {
            self.remove_agent(agent_id);
        }
        self.drf.total.add_scalars(&total);
        self.drf.stale = true;
        let agent = Agent {
            id: agent_id.to_string(),
            free: total.clone(),
            has_gpus: total.scalar_milli("gpus") > 0,
            total,
            active: true,
            allocations: Vec::new(),
            profile: None,
        };
        self.count_idle_reserved(&agent.free, true);
        let idx = self.agents.insert(agent_id, agent);
        for (framework_id, role, resources) in used {
            let fw = self.client_slot(framework_id, role);
            if let Some(agent) = self.agents.get_mut(idx) {
                agent.free.subtract(resources);
            }
            self.charge(fw, idx, resources.clone(), false);
        }
    }

    /// Forgets an agent. Allocations on it vanish with it (their frameworks'
    /// shares drop), as do filters on it.
    pub fn remove_agent(&mut self, agent_id: &str) {
        let Some((idx, agent)) = self.agents.remove(agent_id) else {
            return;
        };
        self.drf.total.subtract_scalars(&agent.total);
        self.drf.stale = true;
        self.filters.remove_agent(idx);
        self.count_idle_reserved(&agent.free, false);
        for (fw, held) in &agent.allocations {
            self.discharge(*fw, idx, held);
        }
    }

    /// Makes an agent eligible for offers again.
    pub fn activate_agent(&mut self, agent_id: &str) {
        self.set_agent_active(agent_id, true);
    }

    /// Stops offering an agent's resources (its allocations stay counted).
    pub fn deactivate_agent(&mut self, agent_id: &str) {
        self.set_agent_active(agent_id, false);
    }

    fn set_agent_active(&mut self, agent_id: &str, active: bool) {
        if let Some(agent) = self
            .agents
            .lookup(agent_id)
            .and_then(|i| self.agents.get_mut(i))
        {
            agent.active = active;
        }
    }
}
