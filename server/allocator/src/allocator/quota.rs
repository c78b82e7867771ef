//! Setting a role's quota, and the headroom a cycle starts from (see
//! [`crate::quota`] for what they mean).

use super::Allocator;
use crate::quota::{Guarantee, Headroom, Quota, RoleQuota};

impl Allocator {
    /// Sets a role's guarantees and limits (the default `Quota`, nothing
    /// guaranteed and nothing limited, removes them). Offers already made
    /// stay; later cycles honour the new quota.
    pub fn set_quota(&mut self, role: &str, quota: &Quota) {
        let quota = RoleQuota::new(quota);
        self.update_role(role, |r| r.quota = quota);
    }

    /// The guarantee that counts for role `idx` in the headroom: that of
    /// the topmost role with quota at or above it, with what that role's
    /// subtree consumes.
    pub(super) fn guarantee_of(&self, idx: u32) -> Guarantee<'_> {
        self.chain(idx)
            .filter_map(|r| Some((r.quota.as_ref()?, r.consumed())))
            .last()
    }

    /// The headroom at the start of a cycle: `None` when no role is short
    /// of a guarantee (the common case, which then costs nothing more).
    pub(super) fn headroom(&self) -> Option<Headroom> {
        let mut headroom = Headroom::default();
        let mut short = false;
        for (idx, role) in self.roles.iter() {
            let Some(quota) = &role.quota else {
                continue;
            };
            if self.chain(idx).skip(1).any(|above| above.quota.is_some()) {
                // Within an ancestor's guarantee, which is counted instead.
                continue;
            }
            for (slot, lack) in quota.lacking(&role.consumed()) {
                headroom.require(slot, lack);
                short |= lack > 0;
            }
        }
        if !short {
            return None;
        }
        for (_, agent) in self.agents.iter() {
            if agent.active {
                headroom.make_available(&agent.free);
            }
        }
        Some(headroom)
    }
}
