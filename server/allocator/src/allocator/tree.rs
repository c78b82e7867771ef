//! The role tree: roles by name (`eng/ml` below `eng`), created with the
//! roles above them and dropped with those no longer needed, and re-keyed
//! from a changed role up to the top (see [`crate::drf`] for the order).

use super::Allocator;
use crate::drf::Role;

impl Allocator {
    /// The slot of role `name`, creating it and the roles above it.
    pub(super) fn role_slot(&mut self, name: &str) -> u32 {
        if let Some(idx) = self.roles.lookup(name) {
            return idx;
        }
        let parent = name.rfind('/').map(|cut| self.role_slot(&name[..cut]));
        let idx = self.roles.insert(name, Role::new(name, parent));
        if let Some(p) = parent {
            if let Some(r) = self.roles.get_mut(p) {
                r.child_roles += 1;
            }
            // Its own frameworks now take part among its children.
            self.place_roles_from(p);
        }
        idx
    }

    /// Changes role `name` (creating it), re-keys it up the tree, and drops
    /// it if it no longer carries anything.
    pub(super) fn update_role(&mut self, name: &str, change: impl FnOnce(&mut Role)) {
        let idx = self.role_slot(name);
        if let Some(role) = self.roles.get_mut(idx) {
            change(role);
        }
        self.place_roles_from(idx);
        self.dispose_roles_from(idx);
    }

    /// Role `idx` and the roles above it, nearest first.
    pub(super) fn chain(&self, idx: u32) -> impl Iterator<Item = &Role> {
        let mut next = self.roles.get(idx);
        std::iter::from_fn(move || {
            let role = next?;
            next = role.parent.and_then(|p| self.roles.get(p));
            Some(role)
        })
    }

    /// Drops role `idx`, then the roles above it, while they are
    /// disposable (see [`Role::is_disposable`]).
    pub(super) fn dispose_roles_from(&mut self, idx: u32) {
        let mut next = Some(idx);
        while let Some(idx) = next {
            let Some(role) = self.roles.get(idx) else {
                return;
            };
            if !role.is_disposable() {
                return;
            }
            next = role.parent;
            let name = role.name.clone();
            self.place_roles_from(idx);
            self.roles.remove(&name);
            if let Some(p) = next {
                if let Some(parent) = self.roles.get_mut(p) {
                    parent.child_roles = parent.child_roles.saturating_sub(1);
                }
                self.place_roles_from(p);
            }
        }
    }

    /// Re-keys role `idx` and every role above it, after what it holds or
    /// can be offered changed.
    pub(super) fn place_roles_from(&mut self, idx: u32) {
        let mut next = Some(idx);
        while let Some(idx) = next {
            next = self.place_role(idx);
        }
    }

    /// Re-keys one role: its own frameworks' entry among its children, and
    /// its entry in its parent's order (or the top order) and in `short`.
    /// Returns its parent.
    pub(super) fn place_role(&mut self, idx: u32) -> Option<u32> {
        let (min_cpus, min_mem) = (self.min_cpus_milli, self.min_mem_milli);
        let role = self.roles.get_mut(idx)?;
        if let Some(old) = role.own.key.take() {
            role.children.remove(&old);
        }
        if !role.members.is_empty() && role.child_roles > 0 {
            let key = self.drf.key(&role.own, 1.0, idx);
            role.children.insert(key);
            role.own.key = Some(key);
        }
        let old = role.subtree.key.take();
        let new = (!role.out_of_order(min_cpus, min_mem))
            .then(|| self.drf.key(&role.subtree, role.weight, idx));
        role.subtree.key = new;
        let short = role
            .quota
            .as_ref()
            .is_some_and(|q| q.short(&role.consumed()));
        let parent = role.parent;
        if let Some(old) = old {
            self.drf.short.remove(&old);
        }
        if let Some(key) = new.filter(|_| short) {
            self.drf.short.insert(key);
        }
        let siblings = match parent {
            Some(p) => &mut self.roles.get_mut(p)?.children,
            None => &mut self.drf.order,
        };
        if let Some(old) = old {
            siblings.remove(&old);
        }
        if let Some(key) = new {
            siblings.insert(key);
        }
        parent
    }

    /// Roles from the deepest up, so that a role is placed after every
    /// role below it.
    pub(super) fn roles_bottom_up(&self) -> Vec<u32> {
        let mut roles: Vec<(usize, u32)> = self
            .roles
            .iter()
            .map(|(idx, role)| (role.name.matches('/').count(), idx))
            .collect();
        roles.sort_unstable_by(|a, b| b.cmp(a));
        roles.into_iter().map(|(_, idx)| idx).collect()
    }
}
