//! Quota: what a role is guaranteed, what it may never exceed, and the
//! headroom that keeps every guarantee satisfiable.
//!
//! A role's *consumption* is what its frameworks hold (offered or in use).
//! A cycle with quota runs in two stages, as Mesos's allocator does since
//! 1.9:
//! 1. roles still short of a guarantee are offered first, in DRF order;
//! 2. then every role, in DRF order.
//!
//! In both, an offer is cut down (never refused whole) so that
//! * the role's consumption stays within its limits, and
//! * what stays unallocated on the active agents still covers what the
//!   roles short of their guarantees lack (the *required headroom*): a role
//!   may take what it lacks itself plus whatever exceeds the headroom.
//!
//! Reservations are consumption of their role whether held or not (Mesos
//! 1.9's rule): they count toward its guarantee and against its limits from
//! the moment they are made, so offering a role what is reserved for it
//! changes neither, and neither cut touches the reserved part of an offer.
//! Free reserved resources are not headroom either: no other role can have
//! them.
//!
//! Only scalars are guaranteed or limited (ports and sets are not).

use std::borrow::Cow;

use crate::resources::{Resources, ScalarSlot};

/// A role's quota as an operator sets it (Mesos 1.9's `QuotaConfig`):
/// amounts guaranteed and upper limits, by scalar resource name.
///
/// A name absent from `limits` is not limited; a limit of 0 is a limit.
/// A name absent from `guarantees` is not guaranteed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quota {
    /// Amounts the role is guaranteed, e.g. `("cpus", 4.0)`.
    pub guarantees: Vec<(String, f64)>,
    /// Amounts the role may never exceed.
    pub limits: Vec<(String, f64)>,
}

/// A role's quota in the allocator's fixed point.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RoleQuota {
    guarantees: Vec<(ScalarSlot, i64)>,
    limits: Vec<(ScalarSlot, i64)>,
}

fn slots(amounts: &[(String, f64)]) -> Vec<(ScalarSlot, i64)> {
    amounts
        .iter()
        .map(|(name, amount)| (ScalarSlot::of(name), crate::resources::to_milli(*amount)))
        .collect()
}

impl RoleQuota {
    /// `None` for the default quota (nothing guaranteed, nothing limited).
    pub(crate) fn new(quota: &Quota) -> Option<RoleQuota> {
        let guarantees: Vec<_> = slots(&quota.guarantees)
            .into_iter()
            .filter(|(_, amount)| *amount > 0)
            .collect();
        let limits = slots(&quota.limits);
        (!guarantees.is_empty() || !limits.is_empty()).then_some(RoleQuota { guarantees, limits })
    }

    /// The guaranteed scalars, with what the role still lacks of each.
    pub(crate) fn lacking<'a>(
        &'a self,
        consumed: &'a Resources,
    ) -> impl Iterator<Item = (&'a ScalarSlot, i64)> + 'a {
        self.guarantees
            .iter()
            .map(move |(slot, amount)| (slot, (amount - consumed.slot_milli(slot)).max(0)))
    }

    /// What the role still lacks of the scalar in `slot`.
    pub(crate) fn lacks(&self, slot: &ScalarSlot, consumed: &Resources) -> i64 {
        self.guarantees
            .iter()
            .find(|(s, _)| s == slot)
            .map_or(0, |(_, amount)| (amount - consumed.slot_milli(slot)).max(0))
    }

    /// Whether some guarantee is not met yet.
    pub(crate) fn short(&self, consumed: &Resources) -> bool {
        self.lacking(consumed).any(|(_, lack)| lack > 0)
    }

    /// Cuts the unreserved part of `offer` down so that the role's
    /// consumption stays within its limits.
    pub(crate) fn cap_to_limits(&self, offer: &mut Resources, consumed: &Resources) {
        for (slot, limit) in &self.limits {
            let reserved = offer.reserved_slot_milli(slot);
            offer.cap_slot(slot, reserved + (limit - consumed.slot_milli(slot)).max(0));
        }
    }

    /// Whether its limits leave room for no allocatable offer (less than
    /// the minimum of cpus and of mem): the role need not be visited.
    pub(crate) fn saturated(&self, consumed: &Resources, min_cpus: i64, min_mem: i64) -> bool {
        let room = |name: &str| {
            let slot = ScalarSlot::of(name);
            self.limits
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, limit)| limit - consumed.slot_milli(&slot))
        };
        let full = |name, min| room(name).is_some_and(|left| left < min);
        full("cpus", min_cpus) && full("mem", min_mem)
    }
}

/// The quota a role's offers count against in the headroom, and what is
/// consumed against it (`None`: no guarantee covers the role).
pub(crate) type Guarantee<'a> = Option<(&'a RoleQuota, Cow<'a, Resources>)>;

/// What `guarantee` still lacks of the scalar in `slot`.
fn lack(guarantee: &Guarantee<'_>, slot: &ScalarSlot) -> i64 {
    guarantee
        .as_ref()
        .map_or(0, |(quota, consumed)| quota.lacks(slot, consumed))
}

/// One guaranteed scalar during a cycle: unallocated on the active agents,
/// and lacked by the roles short of their guarantees.
#[derive(Debug)]
struct Slack {
    slot: ScalarSlot,
    available: i64,
    required: i64,
}

/// The cluster's headroom over one cycle, for the scalars some role is
/// guaranteed. Built at the start of a cycle and kept current as it grants.
#[derive(Debug, Default)]
pub(crate) struct Headroom {
    slacks: Vec<Slack>,
}

impl Headroom {
    /// Counts `lack` of `slot` as required.
    pub(crate) fn require(&mut self, slot: &ScalarSlot, lack: i64) {
        match self.slacks.iter_mut().find(|s| s.slot == *slot) {
            Some(s) => s.required += lack,
            None => self.slacks.push(Slack {
                slot: slot.clone(),
                available: 0,
                required: lack,
            }),
        }
    }

    /// Counts an active agent's unallocated, unreserved resources as
    /// available.
    pub(crate) fn make_available(&mut self, free: &Resources) {
        for s in &mut self.slacks {
            s.available += free.slot_milli(&s.slot) - free.reserved_slot_milli(&s.slot);
        }
    }

    /// Cuts `offer` down to what a role may take without eating into other
    /// roles' guarantees; `guarantee` is the quota that covers the role and
    /// what is consumed against it, if any.
    pub(crate) fn cap(&self, offer: &mut Resources, guarantee: &Guarantee<'_>) {
        for s in &self.slacks {
            let own = lack(guarantee, &s.slot);
            let reserved = offer.reserved_slot_milli(&s.slot);
            offer.cap_slot(&s.slot, own + (s.available - s.required).max(0) + reserved);
        }
    }

    /// Accounts for `granted` going to a role covered by `guarantee` (as
    /// it stood before the grant). Its reserved part changes nothing: it
    /// was neither available nor lacked.
    pub(crate) fn take(&mut self, granted: &Resources, guarantee: &Guarantee<'_>) {
        for s in &mut self.slacks {
            let amount = granted.slot_milli(&s.slot) - granted.reserved_slot_milli(&s.slot);
            s.available -= amount;
            s.required -= amount.min(lack(guarantee, &s.slot));
        }
    }

    /// Whether nothing allocatable is left for roles that are not short of
    /// a guarantee: the headroom holds back every cpu and every MB beyond
    /// the minimums.
    pub(crate) fn exhausted(&self, min_cpus: i64, min_mem: i64) -> bool {
        let slack = |name: &str| {
            let slot = ScalarSlot::of(name);
            self.slacks
                .iter()
                .find(|s| s.slot == slot)
                .map(|s| s.available - s.required)
        };
        let none_left = |name, min| slack(name).is_some_and(|left| left < min);
        none_left("cpus", min_cpus) && none_left("mem", min_mem)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{Headroom, Quota, RoleQuota};
    use crate::resources::ScalarSlot;
    use crate::Resources;

    fn quota(guarantees: &[(&str, f64)], limits: &[(&str, f64)]) -> RoleQuota {
        let own = |list: &[(&str, f64)]| list.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        RoleQuota::new(&Quota {
            guarantees: own(guarantees),
            limits: own(limits),
        })
        .expect("a quota")
    }

    #[test]
    fn the_default_quota_is_no_quota() {
        assert_eq!(RoleQuota::new(&Quota::default()), None);
        let zero = Quota {
            guarantees: vec![("cpus".into(), 0.0)],
            limits: vec![],
        };
        assert_eq!(RoleQuota::new(&zero), None);
    }

    #[test]
    fn limits_cut_offers_and_a_zero_limit_is_a_limit() {
        let q = quota(&[], &[("cpus", 3.0), ("gpus", 0.0)]);
        let consumed = Resources::new().with_scalar("cpus", 2.0);
        let mut offer = Resources::new()
            .with_scalar("cpus", 8.0)
            .with_scalar("mem", 1024.0)
            .with_scalar("gpus", 1.0);
        q.cap_to_limits(&mut offer, &consumed);
        assert_eq!(offer.scalar("cpus"), 1.0);
        assert_eq!(offer.scalar("mem"), 1024.0);
        assert_eq!(offer.scalar("gpus"), 0.0);
    }

    #[test]
    fn headroom_lets_a_short_role_take_what_it_lacks_and_others_the_excess() {
        let q = quota(&[("cpus", 6.0)], &[]);
        let nothing = Resources::new();
        let covered = Some((&q, Cow::Borrowed(&nothing)));
        let mut headroom = Headroom::default();
        headroom.require(&ScalarSlot::of("cpus"), 6_000);
        headroom.make_available(&Resources::new().with_scalar("cpus", 8.0));
        // Another role may take only the 2 cpus beyond the guarantee.
        let mut other = Resources::new().with_scalar("cpus", 8.0);
        headroom.cap(&mut other, &None);
        assert_eq!(other.scalar("cpus"), 2.0);
        // The short role may take all 8.
        let mut own = Resources::new().with_scalar("cpus", 8.0);
        headroom.cap(&mut own, &covered);
        assert_eq!(own.scalar("cpus"), 8.0);
        let four = Resources::new().with_scalar("cpus", 4.0);
        headroom.take(&four, &covered);
        // 4 left, 2 still lacked: 2 for anyone else.
        let mut other = Resources::new().with_scalar("cpus", 4.0);
        headroom.cap(&mut other, &None);
        assert_eq!(other.scalar("cpus"), 2.0);
        assert!(!headroom.exhausted(10, 32_000));
    }

    #[test]
    fn a_role_whose_limits_leave_no_cpus_and_no_mem_is_saturated() {
        let q = quota(&[], &[("cpus", 1.0), ("mem", 64.0)]);
        let full = Resources::new()
            .with_scalar("cpus", 1.0)
            .with_scalar("mem", 40.0);
        assert!(q.saturated(&full, 10, 32_000));
        let room = Resources::new().with_scalar("cpus", 1.0);
        assert!(!q.saturated(&room, 10, 32_000));
        let cpus_only = quota(&[], &[("cpus", 1.0)]);
        assert!(!cpus_only.saturated(&full, 10, 32_000));
    }
}
