//! The operator API's calls that change the cluster: TEARDOWN a framework,
//! MARK_AGENT_GONE, DEACTIVATE_AGENT, DRAIN_AGENT, REACTIVATE_AGENT,
//! UPDATE_WEIGHTS, the quota calls (UPDATE_QUOTA, SET_QUOTA,
//! REMOVE_QUOTA), the maintenance calls (UPDATE_MAINTENANCE_SCHEDULE,
//! START_MAINTENANCE, STOP_MAINTENANCE), RESERVE_RESOURCES /
//! UNRESERVE_RESOURCES and CREATE_VOLUMES / DESTROY_VOLUMES. Each names what
//! it acts on; a name the master does not know is refused and changes
//! nothing. The GET_* calls only read the state ([`views`]); SUBSCRIBE
//! streams [`events`] of what changes.

mod drain;
pub mod events;
pub mod views;

use std::time::Duration;

use meseta_proto::master::{call, Call};

use super::{Action, CallError, Master};

impl Master {
    /// Handles an operator call that acts on the cluster; the actions are
    /// performed (and persisted) before the call is answered.
    #[allow(deprecated)] // SET_QUOTA and REMOVE_QUOTA: old clients still send them
    pub fn operator_call(&mut self, now: Duration, call: Call) -> Result<Vec<Action>, CallError> {
        let kind = call
            .r#type
            .and_then(|t| call::Type::try_from(t).ok())
            .unwrap_or(call::Type::Unknown);
        let mut actions = Vec::new();
        let missing =
            |what: &str| CallError::BadRequest(format!("Expecting '{what}' to be present"));
        match kind {
            call::Type::Teardown => {
                let id = call
                    .teardown
                    .ok_or_else(|| missing("teardown"))?
                    .framework_id
                    .value;
                if !self.frameworks.contains_key(&id) {
                    return Err(CallError::BadRequest(format!(
                        "No framework found with specified ID '{id}'"
                    )));
                }
                tracing::info!(framework_id = %id, "operator tears the framework down");
                self.remove_framework(now, &id, &mut actions);
            }
            call::Type::MarkAgentGone => {
                let id = call
                    .mark_agent_gone
                    .ok_or_else(|| missing("mark_agent_gone"))?
                    .agent_id
                    .value;
                let known = self.agents.contains_key(&id)
                    || self.recovered.contains_key(&id)
                    || self.unreachable.contains_key(&id)
                    || self.gone.contains_key(&id);
                if !known {
                    return Err(unknown_agent(&id));
                }
                tracing::warn!(agent_id = %id, "operator marks the agent gone");
                self.mark_gone_as(now, &id, super::Removal::GoneByOperator, &mut actions);
            }
            call::Type::DeactivateAgent => {
                let id = call
                    .deactivate_agent
                    .ok_or_else(|| missing("deactivate_agent"))?
                    .agent_id
                    .value;
                let agent = self.agents.get(&id).ok_or_else(|| unknown_agent(&id))?;
                if !agent.deactivated {
                    tracing::info!(agent_id = %id, "operator deactivates the agent");
                    self.deactivate(now, &id, &mut actions);
                }
            }
            call::Type::UpdateWeights => {
                let update = call
                    .update_weights
                    .ok_or_else(|| missing("update_weights"))?;
                self.update_weights(update, &mut actions)?;
            }
            call::Type::UpdateMaintenanceSchedule => {
                let update = call
                    .update_maintenance_schedule
                    .ok_or_else(|| missing("update_maintenance_schedule"))?;
                self.update_maintenance_schedule(now, update.schedule, &mut actions)?;
            }
            call::Type::StartMaintenance => {
                let start = call
                    .start_maintenance
                    .ok_or_else(|| missing("start_maintenance"))?;
                self.start_maintenance(now, start.machines, &mut actions)?;
            }
            call::Type::StopMaintenance => {
                let stop = call
                    .stop_maintenance
                    .ok_or_else(|| missing("stop_maintenance"))?;
                self.stop_maintenance(stop.machines, &mut actions)?;
            }
            call::Type::UpdateQuota => {
                let update = call.update_quota.ok_or_else(|| missing("update_quota"))?;
                self.update_quota(now, update, &mut actions)?;
            }
            call::Type::SetQuota => {
                let request = call.set_quota.ok_or_else(|| missing("set_quota"))?;
                self.set_quota_request(now, request.quota_request, &mut actions)?;
            }
            call::Type::RemoveQuota => {
                let role = call
                    .remove_quota
                    .ok_or_else(|| missing("remove_quota"))?
                    .role;
                self.remove_quota(now, &role, &mut actions)?;
            }
            call::Type::DrainAgent => {
                let drain = call.drain_agent.ok_or_else(|| missing("drain_agent"))?;
                self.drain_agent(now, drain, &mut actions)?;
            }
            call::Type::ReactivateAgent => {
                let id = call
                    .reactivate_agent
                    .ok_or_else(|| missing("reactivate_agent"))?
                    .agent_id
                    .value;
                let agent = self.agents.get_mut(&id).ok_or_else(|| unknown_agent(&id))?;
                if agent.deactivated {
                    tracing::info!(agent_id = %id, "operator reactivates the agent");
                    agent.deactivated = false;
                    agent.drain = None;
                    agent.active = agent.link.is_some();
                    if agent.active {
                        self.allocator.activate_agent(&id);
                        self.allocation_wanted = true;
                    }
                }
            }
            call::Type::ReserveResources => {
                let reserve = call
                    .reserve_resources
                    .ok_or_else(|| missing("reserve_resources"))?;
                self.reserve_resources(now, reserve, &mut actions)?;
            }
            call::Type::UnreserveResources => {
                let unreserve = call
                    .unreserve_resources
                    .ok_or_else(|| missing("unreserve_resources"))?;
                self.unreserve_resources(now, unreserve, &mut actions)?;
            }
            call::Type::CreateVolumes => {
                let create = call
                    .create_volumes
                    .ok_or_else(|| missing("create_volumes"))?;
                self.create_volumes(now, create, &mut actions)?;
            }
            call::Type::DestroyVolumes => {
                let destroy = call
                    .destroy_volumes
                    .ok_or_else(|| missing("destroy_volumes"))?;
                self.destroy_volumes(now, destroy, &mut actions)?;
            }
            call::Type::Unknown => {
                return Err(CallError::BadRequest(
                    "Expecting 'type' to be present".into(),
                ))
            }
            other => {
                return Err(CallError::NotImplemented(format!(
                    "call {} is not supported by this master yet",
                    other.as_str_name()
                )))
            }
        }
        Ok(actions)
    }
}

impl Master {
    /// Takes an agent out of the offers until REACTIVATE_AGENT: it is
    /// offered no more and what it has on offer is rescinded.
    pub(super) fn deactivate(&mut self, now: Duration, agent_id: &str, actions: &mut Vec<Action>) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.deactivated = true;
            agent.active = false;
        }
        self.allocator.deactivate_agent(agent_id);
        self.rescind_agent_offers(agent_id, now, actions);
    }
}

fn unknown_agent(id: &str) -> CallError {
    CallError::BadRequest(format!("No agent found with specified ID '{id}'"))
}
