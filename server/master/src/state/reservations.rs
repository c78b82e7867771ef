//! Dynamic reservations: the RESERVE and UNRESERVE offer operations and the
//! operator's RESERVE_RESOURCES and UNRESERVE_RESOURCES; and the conversion
//! machinery they share with persistent volumes ([`super::volumes`]).
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
use meseta_proto::resources::to_refined;
use meseta_proto::roles;
use meseta_proto::scheduler::{event, Event};
use meseta_proto::v1::{
    self, offer::operation::Type as OpType, resource::reservation_info::Type as Kind,
};

use super::{Action, CallError, Master};

/// What a reservation operation converts: `from` becomes `to`.
pub(super) struct Conversion {
    pub from: Resources,
    pub to: Resources,
    /// `to` in Mesos form, for OPERATION_FINISHED's `converted_resources`.
    pub converted: Vec<v1::Resource>,
}

impl Master {
    /// RESERVE, UNRESERVE, CREATE or DESTROY inside an ACCEPT on `agent_id`:
    /// converts what is left of the offers (`remaining`, by role) in place,
    /// sends the agent its new resources, and answers an operation with an
    /// `id` (OPERATION_FINISHED with what it converted, or OPERATION_ERROR
    /// with why; no `uuid`: nothing to acknowledge).
    pub(super) fn convert_in_accept(
        &mut self,
        now: Duration,
        framework_id: &str,
        agent_id: &str,
        operation: v1::offer::Operation,
        remaining: &mut BTreeMap<String, Resources>,
        actions: &mut Vec<Action>,
    ) {
        let kind = operation
            .r#type
            .and_then(|t| OpType::try_from(t).ok())
            .unwrap_or(OpType::Unknown);
        let principal = self.principal_of(framework_id);
        let principal = principal.as_deref();
        let missing = || {
            let field = kind.as_str_name().to_lowercase();
            format!("Expecting '{field}' to be present")
        };
        let checked = match kind {
            OpType::Reserve => operation
                .reserve
                .ok_or_else(missing)
                .and_then(|op| reserving(&op.resources, &op.source, principal)),
            OpType::Unreserve => operation
                .unreserve
                .ok_or_else(missing)
                .and_then(|op| unreserving(&op.resources, principal)),
            OpType::Create => operation
                .create
                .ok_or_else(missing)
                .and_then(|op| self.creating(agent_id, &op.volumes, principal)),
            OpType::Destroy => operation.destroy.ok_or_else(missing).and_then(|op| {
                self.destroying(agent_id, &op.volumes)
                    .map_err(|e| e.to_string())
            }),
            _ => Err(format!("{} is not a conversion", kind.as_str_name())),
        };
        let outcome = checked.and_then(|conversion| {
            // A RESERVE is made in the offers of the role it reserves for;
            // the others convert what they name wherever it was offered.
            let role = match kind {
                OpType::Reserve => Some(last_role(&conversion.converted)?),
                _ => None,
            };
            self.convert_offered(
                framework_id,
                agent_id,
                role,
                remaining,
                &conversion,
                actions,
            )?;
            Ok(conversion.converted)
        });
        if let Err(message) = &outcome {
            tracing::warn!(framework_id, agent_id, operation = kind.as_str_name(), %message, "offer operation refused");
        }
        if let Some(operation_id) = operation.id {
            self.operation_feedback(now, framework_id, agent_id, operation_id, outcome, actions);
        }
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

    fn principal_of(&self, framework_id: &str) -> Option<String> {
        self.frameworks
            .get(framework_id)
            .and_then(|f| f.info.principal.clone())
    }

    /// Converts inside the accepted offers of `role` (or, without one, of
    /// the first role whose offers hold what is converted), in the
    /// allocator and on the agent.
    fn convert_offered(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: Option<String>,
        remaining: &mut BTreeMap<String, Resources>,
        conversion: &Conversion,
        actions: &mut Vec<Action>,
    ) -> Result<(), String> {
        let (role, offered) = match role {
            Some(role) => {
                let offered = remaining.get_mut(&role).ok_or_else(|| {
                    format!("Cannot reserve for role '{role}': none of the accepted offers was made to it")
                })?;
                (role, offered)
            }
            None => remaining
                .iter_mut()
                .find(|(_, offered)| offered.contains(&conversion.from))
                .map(|(role, offered)| (role.clone(), offered))
                .ok_or_else(|| {
                    format!(
                        "{} is not in the accepted offers",
                        describe(&conversion.from)
                    )
                })?,
        };
        let held = offered.contains(&conversion.from)
            && self.allocator.convert_allocated(
                framework_id,
                &role,
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
        self.apply_to_agent(agent_id, conversion, actions);
        Ok(())
    }

    /// Converts free resources of an agent (an operator's call). What its
    /// outstanding offers hold counts as free: they are rescinded, but only
    /// once the conversion is known to fit, so a refusal changes nothing.
    pub(super) fn convert_free(
        &mut self,
        now: Duration,
        agent_id: &str,
        conversion: &Conversion,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let Some(agent) = self.agents.get(agent_id) else {
            return Err(CallError::BadRequest(format!(
                "No agent found with specified ID '{agent_id}'"
            )));
        };
        if !agent.total.contains(&conversion.from) {
            return Err(CallError::Conflict(format!(
                "Agent {agent_id} does not have {} (it has {})",
                describe(&conversion.from),
                describe(&agent.total)
            )));
        }
        let mut available = self.allocator.free(agent_id).unwrap_or_default();
        for offer_id in self.agent_offers.get(agent_id).into_iter().flatten() {
            if let Some(offer) = self.offers.get(offer_id) {
                available.add(&offer.resources);
            }
        }
        if !available.contains(&conversion.from) {
            return Err(CallError::Conflict(format!(
                "{} is in use by tasks on agent {agent_id}",
                describe(&conversion.from)
            )));
        }
        self.rescind_agent_offers(agent_id, now, actions);
        if !self
            .allocator
            .convert_free(agent_id, &conversion.from, &conversion.to)
        {
            return Err(CallError::Conflict(format!(
                "{} is not free on agent {agent_id}",
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
    fn apply_to_agent(
        &mut self,
        agent_id: &str,
        conversion: &Conversion,
        actions: &mut Vec<Action>,
    ) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.total.subtract(&conversion.from);
            agent.total.add(&conversion.to);
            self.send_total(agent_id, actions);
        }
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
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let reported = Resources::from_mesos(reported);
        if reported != agent.total {
            tracing::warn!(agent_id, %reported, master = %agent.total, "agent re-registered with other resources than the master's; sending it the master's");
            self.send_total(agent_id, actions);
        }
    }

    /// Makes the agent's info say its total, and sends the agent that total.
    fn send_total(&mut self, agent_id: &str, actions: &mut Vec<Action>) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        let total = agent_resources(&agent.total);
        Arc::make_mut(&mut agent.info).resources = total.clone();
        self.send_agent(agent_id, checkpoint(total), actions);
    }

    fn operation_feedback(
        &mut self,
        now: Duration,
        framework_id: &str,
        agent_id: &str,
        operation_id: v1::OperationId,
        outcome: Result<Vec<v1::Resource>, String>,
        actions: &mut Vec<Action>,
    ) {
        let (state, message, converted_resources) = match outcome {
            Ok(converted) => (v1::OperationState::OperationFinished, None, converted),
            Err(message) => (
                v1::OperationState::OperationError,
                Some(message),
                Vec::new(),
            ),
        };
        let event = Event {
            r#type: Some(event::Type::UpdateOperationStatus as i32),
            update_operation_status: Some(event::UpdateOperationStatus {
                status: v1::OperationStatus {
                    operation_id: Some(operation_id),
                    state: state as i32,
                    message,
                    converted_resources,
                    agent_id: Some(v1::AgentId {
                        value: agent_id.to_string(),
                    }),
                    ..Default::default()
                },
            }),
            ..Default::default()
        };
        self.send(framework_id, event, now, actions);
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
fn agent_resources(total: &Resources) -> Vec<v1::Resource> {
    let mut list = total.to_mesos("*");
    for r in &mut list {
        r.allocation_info = None;
    }
    list
}

fn describe(resources: &Resources) -> String {
    if resources.is_empty() {
        "nothing".into()
    } else {
        resources.to_string()
    }
}

/// The role every entry (in the refined form) is now reserved for; they
/// must agree.
fn last_role(resources: &[v1::Resource]) -> Result<String, String> {
    let mut roles = resources
        .iter()
        .filter_map(|r| r.reservations.last().and_then(|last| last.role.clone()));
    let first = roles.next().unwrap_or_default();
    if roles.any(|role| role != first) {
        return Err("A RESERVE operation reserves for one role at a time".into());
    }
    Ok(first)
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
    let entries = to_refined(resources);
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
        let given = Resources::from_mesos(&to_refined(source));
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
    let entries = to_refined(resources);
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
