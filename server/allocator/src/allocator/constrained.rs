//! What offer constraints see of agents, and frameworks' constraints (see
//! [`crate::constraints`]).

use super::Allocator;
use crate::{AgentProfile, OfferConstraints};

impl Allocator {
    /// Tells the allocator what constraints see of an agent (call it after
    /// every [`Allocator::add_agent`]; an agent without a profile has a
    /// host name of "" and no attributes).
    pub fn describe_agent(&mut self, agent_id: &str, profile: AgentProfile) {
        if let Some(agent) = self
            .agents
            .lookup(agent_id)
            .and_then(|i| self.agents.get_mut(i))
        {
            agent.profile = Some(Box::new(profile));
        }
    }

    /// Sets (or, with `None`, clears) a framework's offer constraints in
    /// one of its roles. Offers already made stay.
    pub fn set_offer_constraints(
        &mut self,
        framework_id: &str,
        role: &str,
        constraints: Option<OfferConstraints>,
    ) {
        if let Some(client) = self.client_of(framework_id, role) {
            if let Some(framework) = self.frameworks.get_mut(client) {
                framework.constraints = constraints.map(Box::new);
            }
        }
    }

    /// Whether client `fw`'s constraints (if any) let it be offered `agent`.
    pub(super) fn constraints_allow(&self, fw: u32, agent: u32) -> bool {
        let Some(constraints) = self
            .frameworks
            .get(fw)
            .and_then(|f| f.constraints.as_deref())
        else {
            return true;
        };
        let bare = AgentProfile::default();
        let profile = self
            .agents
            .get(agent)
            .and_then(|a| a.profile.as_deref())
            .unwrap_or(&bare);
        constraints.allows(profile)
    }
}
