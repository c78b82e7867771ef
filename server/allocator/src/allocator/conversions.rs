//! Resources that change form in place: a reservation made or undone (and,
//! later, a volume created or destroyed) turns `from` into `to` on an agent
//! without changing how much there is, so no share moves.
//!
//! The caller checks the conversion (same amounts, what is converted is
//! there); the allocator only keeps agent totals, free pools and
//! allocations in step.

use super::Allocator;
use crate::Resources;

impl Allocator {
    /// Converts `from` into `to` inside what client (`framework_id`, `role`)
    /// holds on `agent_id` (an offer it is answering), and in the agent's
    /// total. False, changing nothing, if the client does not hold `from`
    /// there.
    pub fn convert_allocated(
        &mut self,
        framework_id: &str,
        role: &str,
        agent_id: &str,
        from: &Resources,
        to: &Resources,
    ) -> bool {
        let (Some(fw), Some(idx)) = (
            self.client_of(framework_id, role),
            self.agents.lookup(agent_id),
        ) else {
            return false;
        };
        let Some(agent) = self.agents.get_mut(idx) else {
            return false;
        };
        let Some((_, held)) = agent
            .allocations
            .iter_mut()
            .find(|(client, held)| *client == fw && held.contains(from))
        else {
            return false;
        };
        held.subtract(from);
        held.add(to);
        agent.total.subtract(from);
        agent.total.add(to);
        true
    }

    /// Converts `from` into `to` in an agent's free pool and total (an
    /// operator's reservation). False, changing nothing, if `from` is not
    /// all free.
    pub fn convert_free(&mut self, agent_id: &str, from: &Resources, to: &Resources) -> bool {
        let Some(agent) = self
            .agents
            .lookup(agent_id)
            .and_then(|idx| self.agents.get_mut(idx))
        else {
            return false;
        };
        if !agent.free.contains(from) {
            return false;
        }
        agent.free.subtract(from);
        agent.free.add(to);
        agent.total.subtract(from);
        agent.total.add(to);
        self.count_idle_reserved(from, false);
        self.count_idle_reserved(to, true);
        true
    }
}
