//! Dynamic reservations: the RESERVE and UNRESERVE offer operations and the
//! operator's RESERVE_RESOURCES and UNRESERVE_RESOURCES.
//!
//! A reservation changes resources' form, not their amount: `from` (what
//! the resources were) becomes `to` (the same amounts with one more, or
//! one fewer, reservation on their `reservations` stack). The allocator
//! converts them in place (in the offer being answered, or in the agent's
//! free pool for an operator), the master's view of the agent follows, and
//! the agent is sent its new total to keep: agents are where reservations
//! live, so they survive agent restarts and master failovers alike (a
//! restarted master learns them from the agents as they register again).
//!
//! Checked as Mesos checks them, each refusal saying why and changing
//! nothing: a reservation stacks a DYNAMIC reservation for a valid role
//! (in an offer: the offer's role) by the framework's own principal, a
//! refinement only narrows a role to one below it; an UNRESERVE pops a
//! dynamic reservation made by the same principal; whatever is converted
//! must be in the offer (or, for an operator, free on the agent).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use meseta_allocator::Resources;
use meseta_proto::cluster::{master_message, CheckpointResources, MasterMessage};
use meseta_proto::master::call as operator;
use meseta_proto::roles;
use meseta_proto::v1::{self, offer::operation, resource::reservation_info::Type as Kind};

use super::{Action, CallError, Master};

/// What a reservation operation converts: `from` becomes `to`.
pub(super) struct Conversion {
    pub from: Resources,
    pub to: Resources,
    /// `to` in Mesos form, for OPERATION_FINISHED's `converted_resources`.
    pub converted: Vec<v1::Resource>,
}

impl Master {
    /// RESERVE inside an ACCEPT on `agent_id`: converts part of the offers'
    /// `remaining` resources in the reservation's role.
    pub(super) fn reserve_in_offer(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        reserve: operation::Reserve,
        remaining: &mut BTreeMap<String, Resources>,
        actions: &mut Vec<Action>,
    ) -> Result<Conversion, String> {
        let principal = self.principal_of(framework_id);
        let conversion = reserving(&reserve.resources, &reserve.source, principal.as_deref())?;
        let role = last_role(&reserve.resources)?;
        let offered = remaining.get_mut(&role).ok_or_else(|| {
            format!("Cannot reserve for role '{role}': none of the accepted offers was made to it")
        })?;
        self.convert_offered(framework_id, &role, agent_id, offered, &conversion)?;
        self.apply_to_agent(agent_id, &conversion, actions);
        Ok(conversion)
    }

    /// UNRESERVE inside an ACCEPT on `agent_id`.
    pub(super) fn unreserve_in_offer(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        unreserve: operation::Unreserve,
        remaining: &mut BTreeMap<String, Resources>,
        actions: &mut Vec<Action>,
    ) -> Result<Conversion, String> {
        let principal = self.principal_of(framework_id);
        let conversion = unreserving(&unreserve.resources, principal.as_deref())?;
        let (role, offered) = remaining
            .iter_mut()
            .find(|(_, offered)| offered.contains(&conversion.from))
            .ok_or_else(|| {
                format!(
                    "Cannot unreserve {}: not in the accepted offers",
                    describe(&conversion.from)
                )
            })?;
        let role = role.clone();
        self.convert_offered(framework_id, &role, agent_id, offered, &conversion)?;
        self.apply_to_agent(agent_id, &conversion, actions);
        Ok(conversion)
    }

    /// RESERVE_RESOURCES: reserves resources that are free on the agent
    /// (its outstanding offers are rescinded first).
    pub(super) fn reserve_resources(
        &mut self,
        now: Duration,
        call: operator::ReserveResources,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let conversion =
            reserving(&call.resources, &call.source, None).map_err(CallError::BadRequest)?;
        self.convert_free(now, &call.agent_id.value, &conversion, actions)
    }

    /// UNRESERVE_RESOURCES: undoes dynamic reservations that are free on
    /// the agent.
    pub(super) fn unreserve_resources(
        &mut self,
        now: Duration,
        call: operator::UnreserveResources,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let conversion = unreserving(&call.resources, None).map_err(CallError::BadRequest)?;
        self.convert_free(now, &call.agent_id.value, &conversion, actions)
    }

    pub(super) fn principal_of(&self, framework_id: &str) -> Option<String> {
        self.frameworks
            .get(framework_id)
            .and_then(|f| f.info.principal.clone())
    }

    pub(super) fn convert_offered(
        &mut self,
        framework_id: &str,
        role: &str,
        agent_id: &str,
        offered: &mut Resources,
        conversion: &Conversion,
    ) -> Result<(), String> {
        let held = offered.contains(&conversion.from)
            && self.allocator.convert_allocated(
                framework_id,
                role,
                agent_id,
                &conversion.from,
                &conversion.to,
            );
        if !held {
            return Err(format!(
                "{} is not in the accepted offers (left: {})",
                describe(&conversion.from),
                describe(offered)
            ));
        }
        offered.subtract(&conversion.from);
        offered.add(&conversion.to);
        Ok(())
    }

    pub(super) fn convert_free(
        &mut self,
        now: Duration,
        agent_id: &str,
        conversion: &Conversion,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        if !self.agents.contains_key(agent_id) {
            return Err(CallError::BadRequest(format!(
                "No agent found with specified ID '{agent_id}'"
            )));
        }
        if !self.agents[agent_id].total.contains(&conversion.from) {
            return Err(CallError::Conflict(format!(
                "Agent {agent_id} does not have {} (it has {})",
                describe(&conversion.from),
                describe(&self.agents[agent_id].total)
            )));
        }
        self.rescind_agent_offers(agent_id, now, actions);
        if !self
            .allocator
            .convert_free(agent_id, &conversion.from, &conversion.to)
        {
            return Err(CallError::Conflict(format!(
                "{} is in use by tasks on agent {agent_id}",
                describe(&conversion.from)
            )));
        }
        tracing::info!(agent_id, from = %conversion.from, to = %conversion.to, "operator changed reservations");
        self.apply_to_agent(agent_id, conversion, actions);
        self.allocation_wanted = true;
        Ok(())
    }

    /// The master's view of the agent follows the conversion, and the agent
    /// is sent its new total to keep.
    pub(super) fn apply_to_agent(
        &mut self,
        agent_id: &str,
        conversion: &Conversion,
        actions: &mut Vec<Action>,
    ) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        agent.total.subtract(&conversion.from);
        agent.total.add(&conversion.to);
        let total = agent_resources(&agent.total);
        Arc::make_mut(&mut agent.info).resources = total.clone();
        self.send_agent(agent_id, checkpoint(total), actions);
    }

    /// A known agent registered again with other resources than the
    /// master's view: it missed a reservation change (its stream broke
    /// first); it is sent the master's view again.
    pub(super) fn resend_reservations(
        &mut self,
        agent_id: &str,
        reported: &[v1::Resource],
        actions: &mut Vec<Action>,
    ) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        if Resources::from_mesos(reported) == agent.total {
            return;
        }
        tracing::warn!(agent_id, reported = %Resources::from_mesos(reported), master = %agent.total, "agent re-registered with other resources than the master's; sending it the master's");
        let total = agent_resources(&agent.total);
        Arc::make_mut(&mut agent.info).resources = total.clone();
        self.send_agent(agent_id, checkpoint(total), actions);
    }
}

fn checkpoint(total: Vec<v1::Resource>) -> MasterMessage {
    MasterMessage {
        kind: Some(master_message::Kind::CheckpointResources(
            CheckpointResources { total },
        )),
    }
}

/// An agent's resources in Mesos form, as `AgentInfo.resources` holds them
/// (no allocation).
pub(super) fn agent_resources(total: &Resources) -> Vec<v1::Resource> {
    let mut list = total.to_mesos("*");
    for r in &mut list {
        r.allocation_info = None;
    }
    list
}

pub(super) fn describe(resources: &Resources) -> String {
    if resources.is_empty() {
        "nothing".into()
    } else {
        resources.to_string()
    }
}

/// The entries in the post-refinement form: a pre-refinement `role` (and
/// `reservation`) becomes a stack of one.
#[allow(deprecated)]
pub(super) fn refined(resources: &[v1::Resource]) -> Vec<v1::Resource> {
    resources
        .iter()
        .cloned()
        .map(|mut r| {
            if r.reservations.is_empty() {
                if let Some(role) = r.role.take().filter(|role| role != "*") {
                    let dynamic = r.reservation.take();
                    r.reservations = vec![v1::resource::ReservationInfo {
                        r#type: Some(if dynamic.is_some() {
                            Kind::Dynamic
                        } else {
                            Kind::Static
                        } as i32),
                        role: Some(role),
                        principal: dynamic.as_ref().and_then(|d| d.principal.clone()),
                        labels: dynamic.and_then(|d| d.labels),
                    }];
                }
            }
            r
        })
        .collect()
}

/// The role every entry is now reserved for (they must agree).
fn last_role(resources: &[v1::Resource]) -> Result<String, String> {
    let mut roles = refined(resources)
        .iter()
        .filter_map(|r| r.reservations.last().and_then(|last| last.role.clone()))
        .collect::<Vec<_>>();
    roles.dedup();
    match roles.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err("A RESERVE operation reserves for one role at a time".into()),
    }
}

/// Checks a RESERVE: every entry's stack ends in a DYNAMIC reservation
/// (by `principal`, when the caller has one) that refines the one below
/// it; `source`, when given, holds the same amounts unreserved-by-one.
fn reserving(
    resources: &[v1::Resource],
    source: &[v1::Resource],
    principal: Option<&str>,
) -> Result<Conversion, String> {
    if resources.is_empty() {
        return Err("A RESERVE operation needs resources to reserve".into());
    }
    let entries = refined(resources);
    let mut popped = Vec::with_capacity(entries.len());
    for r in &entries {
        let Some(last) = r.reservations.last() else {
            return Err(format!(
                "Resource {} has no reservation to make",
                meseta_proto::resources::describe(std::slice::from_ref(r))
            ));
        };
        if last.r#type != Some(Kind::Dynamic as i32) {
            return Err("A RESERVE operation can only make DYNAMIC reservations".into());
        }
        let role = last.role.as_deref().unwrap_or_default();
        roles::validate(role)?;
        if role == "*" {
            return Err("Resources cannot be reserved for role '*'".into());
        }
        if let Some(expected) = principal {
            if last.principal.as_deref() != Some(expected) {
                return Err(format!(
                    "A reservation by principal '{}' does not match the framework's principal '{expected}'",
                    last.principal.as_deref().unwrap_or_default()
                ));
            }
        }
        let mut below = r.clone();
        below.reservations.pop();
        if let Some(previous) = below.reservations.last() {
            let previous = previous.role.as_deref().unwrap_or_default();
            if previous == role || !roles::is_within(role, previous) {
                return Err(format!(
                    "A reservation for '{role}' cannot refine one for '{previous}': only a role below it can"
                ));
            }
        }
        popped.push(below);
    }
    let to = Resources::from_mesos(&entries);
    let from = if source.is_empty() {
        Resources::from_mesos(&popped)
    } else {
        let given = Resources::from_mesos(&refined(source));
        if given != Resources::from_mesos(&popped) {
            return Err(
                "A RESERVE operation's source must be its resources without their last reservation"
                    .into(),
            );
        }
        given
    };
    Ok(Conversion {
        from,
        to,
        converted: entries,
    })
}

/// Checks an UNRESERVE: every entry's last reservation is DYNAMIC (static
/// reservations are the agent's flags) and, when the caller has a
/// principal, was made by it.
fn unreserving(resources: &[v1::Resource], principal: Option<&str>) -> Result<Conversion, String> {
    if resources.is_empty() {
        return Err("An UNRESERVE operation needs resources to unreserve".into());
    }
    let entries = refined(resources);
    let mut popped = Vec::with_capacity(entries.len());
    for r in &entries {
        let Some(last) = r.reservations.last() else {
            return Err("An UNRESERVE operation needs reserved resources".into());
        };
        if last.r#type != Some(Kind::Dynamic as i32) {
            return Err(format!(
                "Cannot unreserve a static reservation for '{}' (it comes from the agent's --resources)",
                last.role.as_deref().unwrap_or_default()
            ));
        }
        if let (Some(expected), Some(made_by)) = (principal, last.principal.as_deref()) {
            if made_by != expected {
                return Err(format!(
                    "A reservation made by principal '{made_by}' cannot be unreserved by principal '{expected}'"
                ));
            }
        }
        let mut below = r.clone();
        below.reservations.pop();
        popped.push(below);
    }
    Ok(Conversion {
        from: Resources::from_mesos(&entries),
        to: Resources::from_mesos(&popped),
        converted: popped,
    })
}
