//! Hierarchical Dominant Resource Fairness, kept sorted incrementally.
//!
//! A client's *dominant share* is the largest, over the fair-share resources
//! (by default cpus, mem, disk, gpus), of `allocated / cluster total`.
//! Roles form a tree by name (`eng` above `eng/ml` and `eng/web`). The
//! allocator walks it from the top: at each level to the role with the
//! lowest `dominant share / weight` of its whole subtree, then down; a
//! role's own frameworks take part among its children as one entry (Mesos's
//! virtual leaf); within them, the framework with the lowest share first.
//! So `eng` and `ops` split the cluster by their weights, and `eng`'s part
//! is split between `eng/ml` and `eng/web` by theirs.
//!
//! Instead of sorting every client on every offer (what makes Mesos's
//! allocator cycle cost O(agents × frameworks log frameworks)), each client
//! keeps its [`Key`] in a `BTreeSet`: the top roles in [`Drf::order`], each
//! role's children (and own entry) in [`Role::children`], its offerable
//! frameworks in [`Role::members`]. When a client's allocation changes it
//! and its roles up the tree are re-keyed in O(depth × log n); the lowest
//! client is the first element. Each client remembers the key it was
//! inserted with ([`Standing::key`]) so it can always be found and removed.
//!
//! Only offerable frameworks (registered, active, not suppressed) are
//! members, and only roles with something offerable below them (and room
//! under their quota limits) are in their parent's order, so the allocation
//! loop never has to skip over clients that cannot receive offers. A
//! role's share still counts every allocation below it. Roles short of a
//! quota guarantee are also in [`Drf::short`], the first stage's order.
//!
//! Shares are relative to the cluster total, so adding or removing an agent
//! changes every share: that marks the order [`Drf::stale`] and the
//! allocator rebuilds it once at the start of the next cycle.
//!
//! Ties are broken by the number of grants received so far (fewer first),
//! then by slot index, so equal clients take turns.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::quota::RoleQuota;
use crate::resources::{Resources, ScalarSlot};

/// A client's position: compared by share, then grants, then slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    /// Bits of a non-negative finite `f64`: their integer order is the
    /// numeric order.
    share: u64,
    grants: u64,
    pub(crate) idx: u32,
}

impl Key {
    fn new(share: f64, grants: u64, idx: u32) -> Key {
        let share = if share.is_finite() && share > 0.0 {
            share
        } else {
            0.0
        };
        Key {
            share: share.to_bits(),
            grants,
            idx,
        }
    }
}

/// What the sorter tracks for one client (a framework or a role).
#[derive(Debug, Default)]
pub(crate) struct Standing {
    /// Scalars allocated, summed over agents.
    pub(crate) allocated: Resources,
    /// How many offers this client has received.
    pub(crate) grants: u64,
    /// The key under which it sits in its set, if it is in one.
    pub(crate) key: Option<Key>,
}

/// A role: a node of the role tree (`eng` above `eng/ml`), with a weight,
/// its own frameworks in DRF order, and two standings: its own frameworks'
/// (`own`, as one entry among its children: Mesos's virtual leaf) and its
/// whole subtree's (`subtree`, compared with its siblings).
#[derive(Debug)]
pub(crate) struct Role {
    pub(crate) name: String,
    pub(crate) weight: f64,
    /// What its own frameworks hold; keyed in `children` under its own slot.
    pub(crate) own: Standing,
    /// What its subtree holds (itself included); keyed in its parent's
    /// `children` (in [`Drf::order`] at the top).
    pub(crate) subtree: Standing,
    /// Offerable frameworks of this role, lowest share first.
    pub(crate) members: BTreeSet<Key>,
    /// Its child roles that can be offered, and its own frameworks as one
    /// entry (the key whose slot is its own), lowest weighted share first.
    /// Empty for a role without child roles (most): its members are walked
    /// directly.
    pub(crate) children: BTreeSet<Key>,
    /// The role above it, if any.
    pub(crate) parent: Option<u32>,
    /// Child roles (in any state) below it.
    pub(crate) child_roles: u32,
    /// Framework slots (in any state) that belong to this role.
    pub(crate) refs: u32,
    /// Its guarantees and limits, if an operator set any.
    pub(crate) quota: Option<RoleQuota>,
    /// Scalars reserved for it or a role below it that no framework holds
    /// (free on their agents): part of its quota consumption.
    pub(crate) idle_reserved: Resources,
}

impl Role {
    pub(crate) fn new(name: &str, parent: Option<u32>) -> Role {
        Role {
            name: name.to_string(),
            weight: 1.0,
            own: Standing::default(),
            subtree: Standing::default(),
            members: BTreeSet::new(),
            children: BTreeSet::new(),
            parent,
            child_roles: 0,
            refs: 0,
            quota: None,
            idle_reserved: Resources::default(),
        }
    }

    /// Its subtree's quota consumption, as Mesos counts it since 1.9: what
    /// its frameworks hold (offered or in use) plus what is reserved for it
    /// and not held. Reservations count whether used or not, so a role's
    /// reservations go toward its guarantee and against its limit.
    pub(crate) fn consumed(&self) -> Cow<'_, Resources> {
        if self.idle_reserved.is_empty() {
            Cow::Borrowed(&self.subtree.allocated)
        } else {
            let mut consumed = self.subtree.allocated.clone();
            consumed.add_scalars(&self.idle_reserved);
            Cow::Owned(consumed)
        }
    }

    /// Nothing refers to it and it carries no information worth keeping.
    pub(crate) fn is_disposable(&self) -> bool {
        self.refs == 0
            && self.child_roles == 0
            && self.weight == 1.0
            && self.quota.is_none()
            && self.subtree.allocated.is_empty()
            && self.idle_reserved.is_empty()
    }

    /// Whether it has nothing that could be offered, or its limits leave
    /// it nothing allocatable and nothing reserved for it is free: then it
    /// is left out of its parent's order.
    pub(crate) fn out_of_order(&self, min_cpus: i64, min_mem: i64) -> bool {
        let offerable = if self.child_roles == 0 {
            &self.members
        } else {
            &self.children
        };
        offerable.is_empty()
            || self
                .quota
                .as_ref()
                .is_some_and(|q| q.saturated(&self.consumed(), min_cpus, min_mem))
                && self.idle_reserved.is_empty()
    }
}

/// The cluster totals the shares are computed against, and the role order.
#[derive(Debug)]
pub(crate) struct Drf {
    slots: Vec<ScalarSlot>,
    /// Scalars of every agent (active or not), as the share denominator.
    pub(crate) total: Resources,
    /// Roles with at least one member and room under their limits,
    /// lowest weighted share first.
    pub(crate) order: BTreeSet<Key>,
    /// The roles of `order` short of a quota guarantee.
    pub(crate) short: BTreeSet<Key>,
    /// The total changed since the keys were computed.
    pub(crate) stale: bool,
}

impl Drf {
    pub(crate) fn new(fair_share_resources: &[String]) -> Drf {
        let mut slots: Vec<ScalarSlot> = Vec::new();
        for name in fair_share_resources {
            let slot = ScalarSlot::of(name);
            if !slots.contains(&slot) {
                slots.push(slot);
            }
        }
        Drf {
            slots,
            total: Resources::new(),
            order: BTreeSet::new(),
            short: BTreeSet::new(),
            stale: false,
        }
    }

    /// `max(allocated / total)` over the fair-share resources the cluster has.
    pub(crate) fn share(&self, allocated: &Resources) -> f64 {
        let mut share = 0.0_f64;
        for slot in &self.slots {
            let total = self.total.slot_milli(slot);
            if total > 0 {
                share = share.max(allocated.slot_milli(slot) as f64 / total as f64);
            }
        }
        share
    }

    /// Re-keys a framework among its role's `members`; it is (re)inserted
    /// only when `offerable`.
    pub(crate) fn place_member(
        &self,
        members: &mut BTreeSet<Key>,
        idx: u32,
        standing: &mut Standing,
        offerable: bool,
    ) {
        if let Some(old) = standing.key.take() {
            members.remove(&old);
        }
        if offerable {
            let key = self.key(standing, 1.0, idx);
            members.insert(key);
            standing.key = Some(key);
        }
    }

    /// The key a standing sorts under, at `weight`.
    pub(crate) fn key(&self, standing: &Standing, weight: f64, idx: u32) -> Key {
        Key::new(
            self.share(&standing.allocated) / weight,
            standing.grants,
            idx,
        )
    }

    /// Empties both orders (before every key is computed again).
    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.short.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{Drf, Key, Role, Standing};
    use crate::Resources;

    #[test]
    fn drf_share_is_max_over_fair_resources() {
        let mut drf = Drf::new(&["cpus".into(), "mem".into(), "cpus".into()]);
        drf.total = Resources::new()
            .with_scalar("cpus", 10.0)
            .with_scalar("mem", 100.0);
        let alloc = Resources::new()
            .with_scalar("cpus", 1.0)
            .with_scalar("mem", 50.0)
            .with_scalar("disk", 99.0);
        assert_eq!(drf.share(&alloc), 0.5);
    }

    #[test]
    fn drf_keys_order_by_share_then_grants() {
        assert!(Key::new(0.1, 9, 9) < Key::new(0.2, 0, 0));
        assert!(Key::new(0.1, 1, 9) < Key::new(0.1, 2, 0));
        assert!(Key::new(f64::NAN, 0, 0) == Key::new(0.0, 0, 0));
    }

    #[test]
    fn drf_member_leaves_the_set_when_not_offerable() {
        let drf = Drf::new(&["cpus".into()]);
        let mut role = Role::new("r", None);
        let mut fw = Standing::default();
        drf.place_member(&mut role.members, 0, &mut fw, true);
        assert_eq!(role.members.len(), 1);
        drf.place_member(&mut role.members, 0, &mut fw, false);
        assert!(role.members.is_empty());
        assert!(fw.key.is_none());
    }
}
