//! Offer constraints (Mesos 1.11): SUBSCRIBE and UPDATE_FRAMEWORK may say,
//! per role, on which agents the framework wants offers. They are checked
//! when given (only the framework's roles, every constraint well formed,
//! regular expressions that compile within bounds: otherwise the call is
//! refused with the reason and nothing changes), kept in the framework's
//! record and handed to the allocator, which skips agents they exclude
//! (see `meseta_allocator::OfferConstraints`). They are not in the
//! registry: after a failover a framework re-subscribes with them.

use meseta_allocator::OfferConstraints;
use meseta_proto::scheduler;
use meseta_proto::v1;

use super::{framework_roles, CallError, Master};

/// `constraints` if they suit a framework with `info`, or why not.
pub(super) fn checked(
    info: &v1::FrameworkInfo,
    constraints: Option<scheduler::OfferConstraints>,
) -> Result<Option<scheduler::OfferConstraints>, CallError> {
    let Some(constraints) = constraints else {
        return Ok(None);
    };
    let roles = framework_roles(info);
    for (role, role_constraints) in &constraints.role_constraints {
        if !roles.contains(role) {
            return Err(CallError::BadRequest(format!(
                "Offer constraints are given for role '{role}', which is not among the framework's roles {roles:?}"
            )));
        }
        OfferConstraints::compile(role_constraints).map_err(|reason| {
            CallError::BadRequest(format!(
                "Offer constraints for role '{role}' are invalid: the role {reason}"
            ))
        })?;
    }
    Ok((!constraints.role_constraints.is_empty()).then_some(constraints))
}

impl Master {
    /// Gives the allocator the framework's constraints in each of its
    /// roles (none where it set none).
    pub(super) fn apply_offer_constraints(&mut self, framework_id: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let constraints = framework
            .offer_constraints
            .as_ref()
            .map(|c| &c.role_constraints);
        for role in framework.roles() {
            let compiled = constraints
                .and_then(|c| c.get(&role))
                .and_then(|c| OfferConstraints::compile(c).ok());
            self.allocator
                .set_offer_constraints(framework_id, &role, compiled);
        }
    }
}
