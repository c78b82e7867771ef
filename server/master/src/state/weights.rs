//! Role weights: a role of weight 2 gets twice the fair share of a role of
//! weight 1 (the allocator divides each role's dominant share by it).
//!
//! The weights live in the registry, so that every leader applies the same
//! ones. `--weights` only seeds a cluster whose registry has never held
//! any: the first leader writes them there, and from then on operators
//! change them at run time (UPDATE_WEIGHTS, `PUT /weights`), as in Mesos
//! 1.0 and later.

use std::collections::BTreeMap;

use meseta_proto::master::call;
use meseta_proto::roles;

use super::{Action, CallError, Master};
use crate::registry::ops;

impl Master {
    /// The weights set, by role; a role not listed weighs 1.
    pub fn weights(&self) -> &BTreeMap<String, f64> {
        &self.weights
    }

    /// A role's weight.
    pub fn weight_of(&self, role: &str) -> f64 {
        self.weights.get(role).copied().unwrap_or(1.0)
    }

    /// Takes the registry's weights; if it has never held any, the flag's,
    /// which are then persisted.
    pub(super) fn recover_weights(
        &mut self,
        stored: BTreeMap<String, f64>,
        actions: &mut Vec<Action>,
    ) {
        let flag = self.settings.weights.clone();
        let weights = if stored.is_empty() {
            for (role, weight) in &flag {
                actions.push(Action::Persist(ops::set_weight(role, *weight)));
            }
            if !flag.is_empty() {
                tracing::info!(
                    ?flag,
                    "the registry holds no weights yet: --weights seeds it"
                );
            }
            flag
        } else {
            if !flag.is_empty() && flag != stored {
                tracing::warn!(
                    ?flag,
                    registry = ?stored,
                    "--weights is ignored: the registry's weights (set by an operator) are in force"
                );
            }
            stored
        };
        for (role, weight) in weights {
            self.set_weight(&role, weight);
        }
    }

    /// UPDATE_WEIGHTS: every weight is checked before any is set.
    pub(super) fn update_weights(
        &mut self,
        update: call::UpdateWeights,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let weights = checked(&update)?;
        for (role, weight) in weights {
            tracing::info!(role, weight, "operator sets the role's weight");
            actions.push(Action::Persist(ops::set_weight(&role, weight)));
            self.set_weight(&role, weight);
        }
        self.allocation_wanted = true;
        Ok(())
    }

    fn set_weight(&mut self, role: &str, weight: f64) {
        self.allocator.set_weight(role, weight);
        self.weights.insert(role.to_string(), weight);
    }
}

/// The weights of an UPDATE_WEIGHTS call, or why it is refused.
fn checked(update: &call::UpdateWeights) -> Result<BTreeMap<String, f64>, CallError> {
    let bad = CallError::BadRequest;
    let mut weights = BTreeMap::new();
    for info in &update.weight_infos {
        let role = info
            .role
            .as_deref()
            .ok_or_else(|| bad("every weight needs its 'role'".into()))?;
        roles::validate(role).map_err(bad)?;
        roles::check_weight(role, info.weight).map_err(bad)?;
        if weights.insert(role.to_string(), info.weight).is_some() {
            return Err(bad(format!("role '{role}' is given a weight twice")));
        }
    }
    Ok(weights)
}
