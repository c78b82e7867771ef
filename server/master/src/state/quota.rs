//! Role quotas: what an operator guarantees a role and limits it to
//! (UPDATE_QUOTA, and the older SET_QUOTA/REMOVE_QUOTA and `/quota`).
//!
//! An update is checked whole before anything changes, as Mesos does: every
//! role valid and not `*`, amounts finite and not negative, a guarantee
//! within its limit, a child role's guarantees within its parent's and its
//! limits within its parent's limits; and, unless `force`d, the guarantees
//! of the top-level roles must fit in the cluster as it is (the capacity
//! check: a guarantee no cluster can meet holds resources back from
//! everyone). Quotas live in the registry, so a new leader enforces the
//! same ones; the allocator does the enforcing (see its `quota` module).
//! Raising a guarantee rescinds outstanding offers, so that the resources
//! they tie up can be laid away for it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use meseta_allocator::Quota;
use meseta_proto::master::call;
use meseta_proto::quota::{QuotaConfig, QuotaInfo, QuotaRequest, QuotaStatus};
use meseta_proto::{roles, v1};

use super::{Action, CallError, Master};
use crate::registry::ops;

type Amounts = HashMap<String, v1::value::Scalar>;

impl Master {
    /// The quotas set, by role.
    pub fn quotas(&self) -> &BTreeMap<String, QuotaConfig> {
        &self.quotas
    }

    /// GET_QUOTA's and `GET /quota`'s answer: every quota, in the 1.9+
    /// form and, for older clients, the guarantees as `infos`.
    #[allow(deprecated)] // `infos`, which older clients read
    pub fn quota_status(&self) -> QuotaStatus {
        QuotaStatus {
            infos: self.quotas.values().map(quota_info).collect(),
            configs: self.quotas.values().cloned().collect(),
        }
    }

    /// Takes the registry's quotas.
    pub(super) fn recover_quotas(&mut self, stored: BTreeMap<String, QuotaConfig>) {
        for config in stored.into_values() {
            self.apply_quota(config);
        }
    }

    /// UPDATE_QUOTA: all of the configs, or none.
    pub(super) fn update_quota(
        &mut self,
        now: Duration,
        update: call::UpdateQuota,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let mut seen = std::collections::BTreeSet::new();
        for config in &update.quota_configs {
            if !seen.insert(config.role.as_str()) {
                return Err(CallError::BadRequest(format!(
                    "Invalid QuotaConfig: role '{}' appears more than once",
                    config.role
                )));
            }
        }
        self.set_quotas(
            now,
            update.quota_configs,
            update.force.unwrap_or(false),
            actions,
        )
    }

    /// SET_QUOTA (deprecated): a guarantee that is also the limit, for a
    /// role without quota.
    pub(super) fn set_quota_request(
        &mut self,
        now: Duration,
        request: QuotaRequest,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let role = request.role.clone().unwrap_or_default();
        if self.quotas.contains_key(&role) {
            return Err(CallError::BadRequest(format!(
                "Quota cannot be set for role '{role}' which already has quota"
            )));
        }
        let mut amounts = Amounts::new();
        for resource in &request.guarantee {
            if resource.r#type != v1::value::Type::Scalar as i32 || resource.scalar.is_none() {
                return Err(CallError::BadRequest(format!(
                    "Invalid QuotaRequest: '{}' is not a scalar resource; quota applies to scalars only",
                    resource.name
                )));
            }
            if resource.reservation.is_some() || !resource.reservations.is_empty() {
                return Err(CallError::BadRequest(format!(
                    "Invalid QuotaRequest: '{}' is reserved; quota applies to unreserved resources",
                    resource.name
                )));
            }
            let value = resource.scalar.as_ref().map_or(0.0, |s| s.value);
            let entry = amounts.entry(resource.name.clone()).or_default();
            entry.value += value;
        }
        let config = QuotaConfig {
            role,
            guarantees: amounts.clone(),
            limits: amounts,
        };
        self.set_quotas(now, vec![config], request.force.unwrap_or(false), actions)
    }

    /// REMOVE_QUOTA (deprecated), `DELETE /quota/<role>`.
    pub(super) fn remove_quota(
        &mut self,
        now: Duration,
        role: &str,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        if !self.quotas.contains_key(role) {
            return Err(CallError::BadRequest(format!(
                "Failed to remove quota: role '{role}' has no quota set"
            )));
        }
        let default = QuotaConfig {
            role: role.to_string(),
            ..Default::default()
        };
        self.set_quotas(now, vec![default], true, actions)
    }

    /// Checks `configs` against each other and the quotas in force, then
    /// persists and applies them.
    fn set_quotas(
        &mut self,
        now: Duration,
        configs: Vec<QuotaConfig>,
        force: bool,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let mut after = self.quotas.clone();
        for config in &configs {
            check_config(config).map_err(CallError::BadRequest)?;
            if is_default(config) {
                after.remove(&config.role);
            } else {
                after.insert(config.role.clone(), config.clone());
            }
        }
        check_hierarchy(&after).map_err(CallError::BadRequest)?;
        let raised = configs.iter().any(|c| self.raises_guarantee(c));
        if raised && !force {
            self.check_capacity(&after)?;
        }
        for config in configs {
            tracing::info!(
                role = %config.role,
                guarantees = ?sorted_amounts(&config.guarantees),
                limits = ?sorted_amounts(&config.limits),
                "operator sets the role's quota"
            );
            actions.push(Action::Persist(ops::set_quota(&config)));
            self.apply_quota(config);
        }
        if raised {
            let mut offers: Vec<String> = self.offers.keys().cloned().collect();
            offers.sort_unstable();
            for offer_id in offers {
                self.rescind_offer(&offer_id, now, actions);
            }
        }
        self.allocation_wanted = true;
        Ok(())
    }

    fn apply_quota(&mut self, config: QuotaConfig) {
        self.allocator
            .set_quota(&config.role, &allocator_quota(&config));
        if is_default(&config) {
            self.quotas.remove(&config.role);
        } else {
            self.quotas.insert(config.role.clone(), config);
        }
    }

    fn raises_guarantee(&self, config: &QuotaConfig) -> bool {
        let before = self.quotas.get(&config.role);
        config.guarantees.iter().any(|(name, amount)| {
            let old = before
                .and_then(|q| q.guarantees.get(name))
                .map_or(0.0, |s| s.value);
            amount.value > old
        })
    }

    /// The capacity check: the guarantees fit in the cluster's total (a
    /// role's counted once, at the topmost role with quota).
    fn check_capacity(&self, quotas: &BTreeMap<String, QuotaConfig>) -> Result<(), CallError> {
        let mut wanted: BTreeMap<&str, f64> = BTreeMap::new();
        let topmost = |c: &&QuotaConfig| roles::ancestors(&c.role).all(|a| !quotas.contains_key(a));
        for config in quotas.values().filter(topmost) {
            for (name, amount) in &config.guarantees {
                *wanted.entry(name.as_str()).or_default() += amount.value;
            }
        }
        let total = self.allocator.total();
        for (name, amount) in wanted {
            let have = total.scalar(name);
            if amount > have + 1e-9 {
                return Err(CallError::Conflict(format!(
                    "Total quota guarantees of {amount} {name} exceed the cluster's {have} {name}; \
                     set 'force' to set them anyway"
                )));
            }
        }
        Ok(())
    }
}

/// Nothing guaranteed, nothing limited: the same as no quota.
fn is_default(config: &QuotaConfig) -> bool {
    config.guarantees.is_empty() && config.limits.is_empty()
}

/// A quota's amounts by resource name, in name order.
pub fn sorted_amounts(amounts: &Amounts) -> BTreeMap<&str, f64> {
    amounts.iter().map(|(n, s)| (n.as_str(), s.value)).collect()
}

/// One config on its own: its role, its amounts, guarantees within limits.
fn check_config(config: &QuotaConfig) -> Result<(), String> {
    let role = &config.role;
    roles::validate(role).map_err(|e| format!("Invalid QuotaConfig: {e}"))?;
    if role == "*" {
        return Err("Invalid QuotaConfig: quota cannot be set for the default role '*'".into());
    }
    for (kind, amounts) in [("guarantee", &config.guarantees), ("limit", &config.limits)] {
        for (name, amount) in amounts {
            if name.is_empty() {
                return Err(format!(
                    "Invalid QuotaConfig: role '{role}' has a {kind} without a resource name"
                ));
            }
            if !amount.value.is_finite() || amount.value < 0.0 {
                return Err(format!(
                    "Invalid QuotaConfig: role '{role}' has a {kind} of {} {name}; amounts must be finite and not negative",
                    amount.value
                ));
            }
        }
    }
    for (name, guarantee) in &config.guarantees {
        if let Some(limit) = config.limits.get(name) {
            if guarantee.value > limit.value {
                return Err(format!(
                    "Invalid QuotaConfig: role '{role}' is guaranteed {} {name} but limited to {}; \
                     a guarantee cannot exceed its limit",
                    guarantee.value, limit.value
                ));
            }
        }
    }
    Ok(())
}

/// Across roles: the guarantees of the roles under a role with quota fit
/// in its own (each counted at the nearest ancestor that has quota), and no
/// role is limited above an ancestor.
fn check_hierarchy(quotas: &BTreeMap<String, QuotaConfig>) -> Result<(), String> {
    let mut below: BTreeMap<&str, BTreeMap<&str, f64>> = BTreeMap::new();
    for (role, config) in quotas {
        if let Some(nearest) = roles::ancestors(role).find(|a| quotas.contains_key(*a)) {
            let sums = below.entry(nearest).or_default();
            for (name, amount) in &config.guarantees {
                *sums.entry(name.as_str()).or_default() += amount.value;
            }
        }
        for ancestor in roles::ancestors(role) {
            let Some(above) = quotas.get(ancestor) else {
                continue;
            };
            for (name, limit) in &config.limits {
                if let Some(theirs) = above.limits.get(name) {
                    if limit.value > theirs.value {
                        return Err(format!(
                            "Invalid QuotaConfig: role '{role}' is limited to {} {name}, above the \
                             {} {name} of its ancestor '{ancestor}'",
                            limit.value, theirs.value
                        ));
                    }
                }
            }
        }
    }
    for (parent, sums) in below {
        let own = quotas.get(parent).map(|c| &c.guarantees);
        for (name, sum) in sums {
            let have = own.and_then(|g| g.get(name)).map_or(0.0, |s| s.value);
            if sum > have + 1e-9 {
                return Err(format!(
                    "Invalid QuotaConfig: the roles under '{parent}' are guaranteed {sum} {name} \
                     together, more than its own guarantee of {have} {name}"
                ));
            }
        }
    }
    Ok(())
}

/// The allocator's form of a config.
fn allocator_quota(config: &QuotaConfig) -> Quota {
    let list = |amounts: &Amounts| {
        amounts
            .iter()
            .map(|(name, amount)| (name.clone(), amount.value))
            .collect()
    };
    Quota {
        guarantees: list(&config.guarantees),
        limits: list(&config.limits),
    }
}

/// The pre-1.9 form: the guarantees as resources.
fn quota_info(config: &QuotaConfig) -> QuotaInfo {
    QuotaInfo {
        role: Some(config.role.clone()),
        principal: None,
        guarantee: sorted_amounts(&config.guarantees)
            .into_iter()
            .map(|(name, value)| v1::Resource {
                name: name.to_string(),
                r#type: v1::value::Type::Scalar as i32,
                scalar: Some(v1::value::Scalar { value }),
                ..Default::default()
            })
            .collect(),
    }
}
