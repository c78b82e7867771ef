//! Framework lifecycle, roles and weights, suppress and revive.
//!
//! A framework is a client slot per role it is subscribed to (see the
//! module above). Every change here ends in `rekey`, which puts a client in
//! (or takes it out of) its role's DRF members according to whether it is
//! offerable, and re-keys the role. Deactivation, removal and revive also
//! drop offer filters: a scheduler that fails over or revives wants to see
//! everything again.

use super::{client_key, Allocator, Framework};
use crate::drf::Standing;
use crate::table::IdxSet;
use crate::Capabilities;

impl Allocator {
    /// Registers a framework in one role (`suppressed` or not); see
    /// [`Allocator::add_framework_in_roles`].
    pub fn add_framework(&mut self, framework_id: &str, role: &str, suppressed: bool) {
        let suppressed_roles: &[&str] = if suppressed { &[role] } else { &[] };
        self.add_framework_in_roles(framework_id, &[role], suppressed_roles);
    }

    /// Registers a framework subscribed to `roles` (active; offers to the
    /// roles in `suppressed` stopped), or updates a known one. What the
    /// framework holds stays in the role it was allocated in: a role it
    /// leaves keeps counting it (and is offered nothing more) until the
    /// master recovers it, as Mesos accounts tasks to the role they were
    /// launched under.
    pub fn add_framework_in_roles(
        &mut self,
        framework_id: &str,
        roles: &[&str],
        suppressed: &[&str],
    ) {
        let capabilities = self
            .clients_of(framework_id)
            .first()
            .and_then(|&c| self.frameworks.get(c))
            .map(|f| f.capabilities);
        let left: Vec<u32> = self
            .clients_of(framework_id)
            .iter()
            .copied()
            .filter(|&c| self.role_of(c).is_some_and(|name| !roles.contains(&name)))
            .collect();
        for client in left {
            self.unregister(client);
        }
        for role in roles {
            let client = self.client_slot(framework_id, role);
            self.update_client(client, |framework| {
                framework.registered = true;
                framework.active = true;
                framework.suppressed = suppressed.contains(role);
                if let Some(capabilities) = capabilities {
                    framework.capabilities = capabilities;
                }
            });
        }
    }

    /// Unregisters a framework (in every role) and drops its filters.
    /// Resources it still holds are *not* returned: they stay allocated
    /// (and counted in their roles' shares) until the master recovers them
    /// with [`Allocator::recover`] or [`Allocator::recover_all`].
    pub fn remove_framework(&mut self, framework_id: &str) {
        for client in self.clients_of(framework_id).to_vec() {
            self.unregister(client);
        }
    }

    /// Makes a framework eligible for offers again.
    pub fn activate_framework(&mut self, framework_id: &str) {
        self.update_framework(framework_id, |f| f.active = true);
    }

    /// Stops offers to a framework (scheduler disconnected) and drops its filters.
    pub fn deactivate_framework(&mut self, framework_id: &str) {
        self.update_framework(framework_id, |f| f.active = false);
        self.clear_filters(framework_id);
    }

    /// Stops offers to a framework, in every role, until [`Allocator::revive`].
    pub fn suppress(&mut self, framework_id: &str) {
        self.update_framework(framework_id, |f| f.suppressed = true);
    }

    /// Unsuppresses a framework in every role and clears all of its filters.
    pub fn revive(&mut self, framework_id: &str) {
        self.update_framework(framework_id, |f| f.suppressed = false);
        self.clear_filters(framework_id);
    }

    /// Stops offers to a framework in one role until [`Allocator::revive_role`].
    pub fn suppress_role(&mut self, framework_id: &str, role: &str) {
        if let Some(client) = self.client_of(framework_id, role) {
            self.update_client(client, |f| f.suppressed = true);
        }
    }

    /// Unsuppresses a framework in one role and clears its filters there.
    pub fn revive_role(&mut self, framework_id: &str, role: &str) {
        if let Some(client) = self.client_of(framework_id, role) {
            self.filters.clear_framework(client);
            self.update_client(client, |f| f.suppressed = false);
        }
    }

    /// Records the capabilities a framework declared (in every role);
    /// frameworks start with none.
    pub fn set_capabilities(&mut self, framework_id: &str, capabilities: Capabilities) {
        for client in self.clients_of(framework_id).to_vec() {
            if let Some(framework) = self.frameworks.get_mut(client) {
                framework.capabilities = capabilities;
            }
        }
    }

    /// Sets a role's weight (its share is divided by it). Weights that are
    /// not finite and positive are ignored, as Mesos rejects them.
    pub fn set_weight(&mut self, role: &str, weight: f64) {
        if !(weight.is_finite() && weight > 0.0) {
            return;
        }
        self.update_role(role, |r| r.weight = weight);
    }

    /// A role's weight (1 unless set).
    pub fn weight(&self, role: &str) -> f64 {
        self.roles.by_id(role).map_or(1.0, |r| r.weight)
    }

    /// Changes every client of a framework and re-keys them.
    fn update_framework(&mut self, framework_id: &str, change: impl Fn(&mut Framework)) {
        for client in self.clients_of(framework_id).to_vec() {
            self.update_client(client, &change);
        }
    }

    /// Changes client slot `client` and re-keys it.
    fn update_client(&mut self, client: u32, change: impl FnOnce(&mut Framework)) {
        if let Some(framework) = self.frameworks.get_mut(client) {
            change(framework);
        }
        self.rekey(client);
    }

    /// Drops the offer filters of a framework in every role.
    fn clear_filters(&mut self, framework_id: &str) {
        for client in self.clients_of(framework_id).to_vec() {
            self.filters.clear_framework(client);
        }
    }

    /// Takes client slot `client` out of the offers (its framework left
    /// the role, or went away) and drops its filters; freed if it holds
    /// nothing.
    fn unregister(&mut self, client: u32) {
        self.filters.clear_framework(client);
        if let Some(framework) = self.frameworks.get_mut(client) {
            framework.registered = false;
        }
        self.rekey(client);
        self.drop_if_vacant(client);
    }

    /// The client slot of `framework_id` in `role`, creating an
    /// unregistered one.
    pub(super) fn client_slot(&mut self, framework_id: &str, role: &str) -> u32 {
        let key = client_key(framework_id, role);
        if let Some(client) = self.frameworks.lookup(&key) {
            return client;
        }
        let role = self.role_slot(role);
        if let Some(r) = self.roles.get_mut(role) {
            r.refs += 1;
        }
        let framework = Framework {
            key: key.clone(),
            framework_id: framework_id.to_string(),
            role,
            registered: false,
            active: true,
            suppressed: false,
            capabilities: Capabilities::default(),
            standing: Standing::default(),
            agents: IdxSet::default(),
            constraints: None,
        };
        let client = self.frameworks.insert(&key, framework);
        self.by_framework
            .entry(framework_id.to_string())
            .or_default()
            .push(client);
        client
    }

    /// Frees client slot `fw` if it is unregistered and holds nothing.
    pub(super) fn drop_if_vacant(&mut self, fw: u32) {
        let vacant = self
            .frameworks
            .get(fw)
            .is_some_and(|f| !f.registered && f.agents.is_empty());
        if !vacant {
            return;
        }
        let Some(key) = self.frameworks.get(fw).map(|f| f.key.clone()) else {
            return;
        };
        self.rekey(fw);
        if let Some((_, framework)) = self.frameworks.remove(&key) {
            self.filters.clear_framework(fw);
            if let Some(clients) = self.by_framework.get_mut(&framework.framework_id) {
                clients.retain(|&c| c != fw);
                if clients.is_empty() {
                    self.by_framework.remove(&framework.framework_id);
                }
            }
            if let Some(r) = self.roles.get_mut(framework.role) {
                r.refs = r.refs.saturating_sub(1);
            }
            self.dispose_roles_from(framework.role);
        }
    }
}
