//! Framework lifecycle, roles and weights, suppress and revive.
//!
//! Every change here ends in `rekey`, which puts the framework in (or takes
//! it out of) its role's DRF members according to whether it is offerable,
//! and re-keys the role. Deactivation, removal and revive also drop the
//! framework's offer filters: a scheduler that fails over or revives wants
//! to see everything again.

use super::{Allocator, Framework};
use crate::drf::{Role, Standing};
use crate::table::IdxSet;

impl Allocator {
    /// Registers a framework in `role` (active; `suppressed` as given).
    /// Re-adding a known framework updates its role and suppression and
    /// activates it; resources it already holds move with it to the new role.
    pub fn add_framework(&mut self, framework_id: &str, role: &str, suppressed: bool) {
        let fw = self.framework_slot(framework_id);
        self.move_to_role(fw, role);
        if let Some(framework) = self.frameworks.get_mut(fw) {
            framework.registered = true;
            framework.active = true;
            framework.suppressed = suppressed;
        }
        self.rekey(fw);
    }

    /// Unregisters a framework and drops its filters. Resources it still
    /// holds are *not* returned: they stay allocated (and counted in its
    /// role's share) until the master recovers them with
    /// [`Allocator::recover`] or [`Allocator::recover_all`].
    pub fn remove_framework(&mut self, framework_id: &str) {
        let Some(fw) = self.frameworks.lookup(framework_id) else {
            return;
        };
        self.filters.clear_framework(fw);
        if let Some(framework) = self.frameworks.get_mut(fw) {
            framework.registered = false;
        }
        self.rekey(fw);
        self.drop_if_vacant(fw);
    }

    /// Makes a framework eligible for offers again.
    pub fn activate_framework(&mut self, framework_id: &str) {
        self.update_framework(framework_id, |f| f.active = true);
    }

    /// Stops offers to a framework (scheduler disconnected) and drops its filters.
    pub fn deactivate_framework(&mut self, framework_id: &str) {
        self.update_framework(framework_id, |f| f.active = false);
        if let Some(fw) = self.frameworks.lookup(framework_id) {
            self.filters.clear_framework(fw);
        }
    }

    /// Stops offers to a framework until [`Allocator::revive`].
    pub fn suppress(&mut self, framework_id: &str) {
        self.update_framework(framework_id, |f| f.suppressed = true);
    }

    /// Unsuppresses a framework and clears all of its filters.
    pub fn revive(&mut self, framework_id: &str) {
        self.update_framework(framework_id, |f| f.suppressed = false);
        if let Some(fw) = self.frameworks.lookup(framework_id) {
            self.filters.clear_framework(fw);
        }
    }

    /// Records whether a framework declared the `GPU_RESOURCES` capability
    /// (without it, agents with GPUs are not offered to it while
    /// [`AllocatorConfig::filter_gpu_resources`](crate::AllocatorConfig)
    /// is on). Frameworks start without it.
    pub fn set_gpu_capable(&mut self, framework_id: &str, capable: bool) {
        if let Some(framework) = self
            .frameworks
            .lookup(framework_id)
            .and_then(|fw| self.frameworks.get_mut(fw))
        {
            framework.gpu_capable = capable;
        }
    }

    /// Sets a role's weight (its share is divided by it). Weights that are
    /// not finite and positive are ignored, as Mesos rejects them.
    pub fn set_weight(&mut self, role: &str, weight: f64) {
        if !(weight.is_finite() && weight > 0.0) {
            return;
        }
        let idx = self.role_slot(role);
        if let Some(r) = self.roles.get_mut(idx) {
            r.weight = weight;
            self.drf.place_role(idx, r);
            if r.is_disposable() {
                self.roles.remove(role);
            }
        }
    }

    /// A role's weight (1 unless set).
    pub fn weight(&self, role: &str) -> f64 {
        self.roles.by_id(role).map_or(1.0, |r| r.weight)
    }

    fn update_framework(&mut self, framework_id: &str, change: impl FnOnce(&mut Framework)) {
        let Some(fw) = self.frameworks.lookup(framework_id) else {
            return;
        };
        if let Some(framework) = self.frameworks.get_mut(fw) {
            change(framework);
        }
        self.rekey(fw);
    }

    /// The slot of `framework_id`, creating an unregistered one in role `*`.
    pub(super) fn framework_slot(&mut self, framework_id: &str) -> u32 {
        if let Some(fw) = self.frameworks.lookup(framework_id) {
            return fw;
        }
        let role = self.role_slot("*");
        if let Some(r) = self.roles.get_mut(role) {
            r.refs += 1;
        }
        let framework = Framework {
            id: framework_id.to_string(),
            role,
            registered: false,
            active: true,
            suppressed: false,
            gpu_capable: false,
            standing: Standing::default(),
            agents: IdxSet::default(),
        };
        self.frameworks.insert(framework_id, framework)
    }

    fn role_slot(&mut self, role: &str) -> u32 {
        match self.roles.lookup(role) {
            Some(idx) => idx,
            None => self.roles.insert(role, Role::new(role)),
        }
    }

    /// Moves framework slot `fw`, with its allocation, to role `role`.
    fn move_to_role(&mut self, fw: u32, role: &str) {
        let new = self.role_slot(role);
        let Some(framework) = self.frameworks.get_mut(fw) else {
            return;
        };
        let old = framework.role;
        if old == new {
            return;
        }
        if let Some(r) = self.roles.get_mut(old) {
            self.drf
                .place_member(&mut r.members, fw, &mut framework.standing, false);
            r.standing
                .allocated
                .subtract_scalars(&framework.standing.allocated);
            r.refs = r.refs.saturating_sub(1);
            self.drf.place_role(old, r);
            if r.is_disposable() {
                let name = r.name.clone();
                self.roles.remove(&name);
            }
        }
        if let Some(r) = self.roles.get_mut(new) {
            r.standing
                .allocated
                .add_scalars(&framework.standing.allocated);
            r.refs += 1;
        }
        framework.role = new;
    }

    /// Frees slot `fw` if it is unregistered and holds nothing.
    pub(super) fn drop_if_vacant(&mut self, fw: u32) {
        let vacant = self
            .frameworks
            .get(fw)
            .is_some_and(|f| !f.registered && f.agents.is_empty());
        if !vacant {
            return;
        }
        let Some(id) = self.frameworks.get(fw).map(|f| f.id.clone()) else {
            return;
        };
        self.rekey(fw);
        if let Some((_, framework)) = self.frameworks.remove(&id) {
            self.filters.clear_framework(fw);
            if let Some(r) = self.roles.get_mut(framework.role) {
                r.refs = r.refs.saturating_sub(1);
                if r.is_disposable() {
                    let name = r.name.clone();
                    self.roles.remove(&name);
                }
            }
        }
    }
}
