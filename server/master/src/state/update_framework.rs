//! UPDATE_FRAMEWORK, and the role and suppression a framework subscribes
//! with (`suppressed_roles` of SUBSCRIBE and of UPDATE_FRAMEWORK).
//!
//! A module of its own because changing a subscribed framework's
//! `FrameworkInfo` touches three things at once: the registry (the new info
//! must survive a failover), the allocator (role and suppression), and the
//! outstanding offers (those made to a role the framework left). SUBSCRIBE
//! shares the role and suppression half through [`Master::apply_roles`].
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
//! This master offers to one role per framework ([`super::framework_role`]:
//! the first of `roles`). A role change moves the framework to the new role
//! in the allocator; its running tasks stay accounted to the role they were
//! launched in until they end, as in Mesos; offers made to the old role are
//! rescinded and the old role's filters dropped. Offer constraints are not
//! supported: they are ignored, with a warning.

use std::collections::BTreeSet;
use std::time::Duration;

use meseta_proto::scheduler::call;
use meseta_proto::v1;

use super::{framework_role, Action, CallError, Master};
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
        let suppressed = role_suppressed(&info, &update.suppressed_roles)?;
        if update.offer_constraints.is_some() {
            tracing::warn!(
                framework_id,
                "UPDATE_FRAMEWORK carries offer constraints, which this master does not support; ignoring them"
            );
        }

        let old_role = framework.role();
        let was_suppressed = framework.suppressed;
        if framework.info != info {
            actions.push(Action::Persist(ops::save_framework(&info)));
        }
        tracing::info!(
            framework_id,
            name = %info.name,
            role = %framework_role(&info),
            suppressed,
            "framework updated"
        );
        self.allocator
            .set_gpu_capable(framework_id, super::gpu_capable(&info));
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.info = info;
        }
        self.apply_roles(
            now,
            framework_id,
            &old_role,
            was_suppressed,
            suppressed,
            actions,
        );
        self.observe_framework(framework_id, false, actions);
        Ok(())
    }

    /// Brings the allocator in line with a subscribed framework whose role
    /// was `old_role` and whose suppression was `was_suppressed`: it is now in
    /// the role of its (already replaced) info, suppressed if `suppressed`.
    pub(super) fn apply_roles(
        &mut self,
        now: Duration,
        framework_id: &str,
        old_role: &str,
        was_suppressed: bool,
        suppressed: bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        framework.suppressed = suppressed;
        let role = framework.role();
        if role != old_role {
            tracing::info!(
                framework_id,
                old_role,
                role,
                "framework moves to a new role"
            );
            self.rescind_offers_outside_role(framework_id, &role, now, actions);
            // Filters were set for the old role, which the framework left.
            self.allocator.revive(framework_id);
            self.allocator
                .add_framework(framework_id, &role, suppressed);
            self.allocation_wanted = true;
        } else if was_suppressed && !suppressed {
            // A role leaving the suppressed set is revived, filters included.
            self.allocator.revive(framework_id);
            self.allocation_wanted = true;
        } else if suppressed && !was_suppressed {
            self.allocator.suppress(framework_id);
        }
    }

    /// Rescinds the framework's outstanding offers made to another role.
    pub(super) fn rescind_offers_outside_role(
        &mut self,
        framework_id: &str,
        role: &str,
        now: Duration,
        actions: &mut Vec<Action>,
    ) {
        let mut stale: Vec<String> = self
            .frameworks
            .get(framework_id)
            .map(|f| {
                f.offers
                    .iter()
                    .filter(|id| self.offers.get(*id).is_some_and(|o| o.role != role))
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

/// The roles a framework subscribes to: `roles`, else the legacy `role`,
/// else `*`.
fn subscribed_roles(info: &v1::FrameworkInfo) -> BTreeSet<String> {
    if !info.roles.is_empty() {
        return info.roles.iter().cloned().collect();
    }
    #[allow(deprecated)]
    let role = info.role.clone().unwrap_or_else(|| "*".to_string());
    BTreeSet::from([role])
}

/// Checks the framework's roles (valid names, none twice) and its
/// `suppressed_roles` against them, and says whether the role it is offered
/// resources for is among those suppressed.
pub(super) fn role_suppressed(
    info: &v1::FrameworkInfo,
    suppressed_roles: &[String],
) -> Result<bool, CallError> {
    check_role_names(info)?;
    let roles = subscribed_roles(info);
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
    let role = framework_role(info);
    Ok(suppressed_roles.contains(&role))
}

/// Refuses a role name Mesos refuses, and a role listed twice.
fn check_role_names(info: &v1::FrameworkInfo) -> Result<(), CallError> {
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
