//! UPDATE_FRAMEWORK, and the role and suppression a framework subscribes
//! with (`suppressed_roles` of SUBSCRIBE and of UPDATE_FRAMEWORK).
//!
//! A module of its own because changing a subscribed framework's
//! `FrameworkInfo` touches three things at once: the registry (the new info
//! must survive a failover), the allocator (role and suppression), and the
//! outstanding offers (those made to a role the framework left). SUBSCRIBE
//! and recovery share the allocator half through [`Master::place_in_roles`].
//!
//! Semantics, as in Mesos 1.11 (`docs/scheduler-http-api.md`, and the
//! hierarchical allocator's `updateFramework`):
//! * `framework_info.id` must equal the call's `framework_id`;
//! * `principal`, `user` and `checkpoint` may not change; such a call is
//!   refused (HTTP 400) and nothing changes: every check runs before the
//!   first mutation;
//! * `suppressed_roles` must be a subset of the new roles, and replaces the
//!   set of suppressed roles: a role in it is suppressed (its outstanding
//!   offers stay), a role leaving it is revived (its offer filters are
//!   cleared, as Mesos's allocator does), a role that stays unsuppressed
//!   keeps its filters (unlike REVIVE);
//! * every other field (name, failover timeout, capabilities, labels,
//!   webui_url, hostname, roles) is replaced; the shell answers `200 OK`
//!   once the new info is persisted.
//!
//! A framework is offered resources for each of its roles
//! ([`super::framework_roles`]). Changing roles moves the framework to the
//! new ones in the allocator; its running tasks stay accounted to the role
//! they were launched in until they end, as in Mesos; offers made to a role
//! it left are rescinded and that role's filters dropped. New offer
//! constraints replace the old (see [`super::offer_constraints`]) and
//! rescind the framework's outstanding offers.

use std::collections::BTreeSet;
use std::time::Duration;

use meseta_proto::scheduler::call;
use meseta_proto::v1;

use super::{framework_roles, Action, CallError, Master};
use crate::registry::ops;

impl Master {
    /// UPDATE_FRAMEWORK from the subscribed framework `framework_id`.
    pub(super) fn update_framework(
        &mut self,
        now: Duration,
        framework_id: &str,
        update: Option<call::UpdateFramework>,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let update = update.ok_or_else(|| {
            CallError::BadRequest("Expecting 'update_framework' to be present".into())
        })?;
        let framework = self.frameworks.get(framework_id).ok_or_else(|| {
            CallError::Forbidden(format!("Framework {framework_id} is not subscribed"))
        })?;
        let info = update.framework_info;
        check_update(framework_id, &framework.info, &info)?;
        let suppressed = checked_suppressed_roles(&info, &update.suppressed_roles)?;
        let constraints = super::offer_constraints::checked(&info, update.offer_constraints)?;
        let constraints_changed = framework.offer_constraints != constraints;

        let old_roles = framework.roles();
        let was_suppressed = framework.suppressed_roles.clone();
        if framework.info != info {
            actions.push(Action::Persist(ops::save_framework(&info)));
        }
        tracing::info!(
            framework_id,
            name = %info.name,
            roles = ?framework_roles(&info),
            ?suppressed,
            "framework updated"
        );
        self.allocator
            .set_capabilities(framework_id, super::allocator_capabilities(&info));
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.info = info;
            framework.offer_constraints = constraints;
        }
        if constraints_changed {
            // Offers made under the old constraints may not suit the new.
            self.rescind_framework_offers(framework_id, now, actions);
        }
        self.apply_roles(
            now,
            framework_id,
            &old_roles,
            &was_suppressed,
            suppressed,
            actions,
        );
        self.observe_framework(framework_id, false, actions);
        Ok(())
    }

    /// Brings the allocator in line with a subscribed framework whose roles
    /// were `old_roles`, of which `was_suppressed` suppressed: it is now in
    /// the roles of its (already replaced) info, those in `suppressed`
    /// suppressed. A role that leaves the suppressed set is revived, its
    /// filters cleared; offers made to a role it left are rescinded.
    fn apply_roles(
        &mut self,
        now: Duration,
        framework_id: &str,
        old_roles: &[String],
        was_suppressed: &BTreeSet<String>,
        suppressed: BTreeSet<String>,
        actions: &mut Vec<Action>,
    ) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let roles = framework.roles();
        framework.suppressed_roles = suppressed;
        if roles != old_roles {
            tracing::info!(framework_id, ?old_roles, ?roles, "framework changes roles");
            self.rescind_offers_outside_roles(framework_id, &roles, now, actions);
            self.allocation_wanted = true;
        }
        let suppressed = &self.frameworks[framework_id].suppressed_roles;
        let revived: Vec<String> = was_suppressed
            .iter()
            .filter(|role| !suppressed.contains(*role) && roles.contains(*role))
            .cloned()
            .collect();
        self.place_in_roles(framework_id);
        for role in revived {
            self.allocator.revive_role(framework_id, &role);
            self.allocation_wanted = true;
        }
    }

    /// Tells the allocator the framework's roles and which of them are
    /// suppressed, as its record says (this also activates it there).
    pub(super) fn place_in_roles(&mut self, framework_id: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let roles = framework.roles();
        let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
        let suppressed: Vec<&str> = framework
            .suppressed_roles
            .iter()
            .map(String::as_str)
            .collect();
        self.allocator
            .add_framework_in_roles(framework_id, &roles, &suppressed);
        self.apply_offer_constraints(framework_id);
    }

    /// Rescinds the framework's outstanding offers made to a role not in
    /// `roles`.
    pub(super) fn rescind_offers_outside_roles(
        &mut self,
        framework_id: &str,
        roles: &[String],
        now: Duration,
        actions: &mut Vec<Action>,
    ) {
        let mut stale: Vec<String> = self
            .frameworks
            .get(framework_id)
            .map(|f| {
                f.offers
                    .iter()
                    .filter(|id| {
                        self.offers
                            .get(*id)
                            .is_some_and(|o| !roles.contains(&o.role))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        stale.sort_unstable();
        for offer_id in stale {
            self.rescind_offer(&offer_id, now, actions);
        }
    }
}

/// Checks the framework's roles (valid names, none twice) and its
/// `suppressed_roles` against them; the roles to suppress.
pub(super) fn checked_suppressed_roles(
    info: &v1::FrameworkInfo,
    suppressed_roles: &[String],
) -> Result<BTreeSet<String>, CallError> {
    check_role_names(info)?;
    let roles = framework_roles(info);
    let unknown: Vec<&str> = suppressed_roles
        .iter()
        .filter(|r| !roles.contains(*r))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(CallError::BadRequest(format!(
            "Suppressed roles {unknown:?} are not among the framework's roles {roles:?}"
        )));
    }
    Ok(suppressed_roles.iter().cloned().collect())
}

/// Refuses a role name Mesos refuses, a role listed twice, and the field
/// that does not go with the framework's MULTI_ROLE capability (`roles`
/// with it, the older `role` without).
fn check_role_names(info: &v1::FrameworkInfo) -> Result<(), CallError> {
    let multi_role = super::has_capability(info, v1::framework_info::capability::Type::MultiRole);
    #[allow(deprecated)]
    let has_role = info.role.is_some();
    if multi_role && has_role {
        return Err(CallError::BadRequest(
            "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable".into(),
        ));
    }
    if !multi_role && !info.roles.is_empty() {
        return Err(CallError::BadRequest(
            "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
                .into(),
        ));
    }
    #[allow(deprecated)]
    let legacy = info.role.iter();
    for role in info.roles.iter().chain(legacy) {
        meseta_proto::roles::validate(role).map_err(CallError::BadRequest)?;
    }
    let mut seen = BTreeSet::new();
    if let Some(twice) = info.roles.iter().find(|role| !seen.insert(role.as_str())) {
        return Err(CallError::BadRequest(format!(
            "role '{twice}' appears twice in 'roles'"
        )));
    }
    Ok(())
}

/// Validates an UPDATE_FRAMEWORK's new info against the current one.
fn check_update(
    framework_id: &str,
    current: &v1::FrameworkInfo,
    new: &v1::FrameworkInfo,
) -> Result<(), CallError> {
    let new_id = new.id.as_ref().map(|id| id.value.as_str());
    if new_id != Some(framework_id) {
        return Err(CallError::BadRequest(format!(
            "'update_framework.framework_info.id' ({}) differs from 'framework_id' ({framework_id})",
            new_id.unwrap_or("unset")
        )));
    }
    if new.name.is_empty() {
        return Err(CallError::BadRequest(
            "FrameworkInfo.name must be set".into(),
        ));
    }
    let mut changed = Vec::new();
    if new.principal.as_deref().unwrap_or("") != current.principal.as_deref().unwrap_or("") {
        changed.push(format!(
            "'principal' ({:?} to {:?})",
            current.principal.as_deref().unwrap_or(""),
            new.principal.as_deref().unwrap_or("")
        ));
    }
    if new.user != current.user {
        changed.push(format!("'user' ({:?} to {:?})", current.user, new.user));
    }
    if new.checkpoint.unwrap_or(false) != current.checkpoint.unwrap_or(false) {
        changed.push(format!(
            "'checkpoint' ({} to {})",
            current.checkpoint.unwrap_or(false),
            new.checkpoint.unwrap_or(false)
        ));
    }
    if changed.is_empty() {
        Ok(())
    } else {
        Err(CallError::BadRequest(format!(
            "UPDATE_FRAMEWORK may not change {}; nothing was updated",
            changed.join(", ")
        )))
    }
}
