//! The reserved parts of a bundle.
//!
//! A bundle's scalars, ranges and sets are its *totals*, reserved or not:
//! DRF shares, quota and the "allocatable" test count reserved resources
//! like any other, and a bundle without reservations (the common case)
//! pays one `None` for them. Alongside, `reserved` says which part of the
//! totals is reserved, to which role and how: resources reserved
//! differently (another role, principal, labels or refinement) stay apart,
//! as in Mesos, and only the unreserved rest is fungible.
//!
//! Invariants: each part is non-empty, has no parts of its own and is
//! within the totals; the parts are sorted by reservation, one per
//! reservation; `reserved` is `None` when there are no parts.

use std::sync::Arc;

use meseta_proto::v1::resource::{DiskInfo, ReservationInfo};
use meseta_proto::v1::Resource;
use meseta_proto::Message;

use super::Resources;

/// One reservation: the role it is for and its whole `reservations` stack,
/// and, for a persistent volume made on reserved disk, the volume (its
/// `DiskInfo`): each volume is a part of its own, never merged with plain
/// reserved disk or another volume.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reservation {
    /// The role the resources are reserved for (the stack's last, most
    /// refined, role).
    pub role: String,
    /// The stack and the disk info, protobuf-encoded: equal ones are equal
    /// bytes.
    encoded: Vec<u8>,
    /// The volume's persistence ID, if it is a volume.
    pub volume: Option<String>,
    /// It refines another reservation (its stack has more than one).
    pub refined: bool,
}

impl Reservation {
    /// The reservation a `reservations` stack describes (`None` if empty).
    pub fn of_stack(stack: &[ReservationInfo]) -> Option<Reservation> {
        Reservation::of(stack, None)
    }

    /// The reservation of resources with this stack and disk info (`None`
    /// if the stack is empty: unreserved resources are fungible).
    pub fn of(stack: &[ReservationInfo], disk: Option<&DiskInfo>) -> Option<Reservation> {
        let role = stack.last()?.role.clone().unwrap_or_default();
        let carrier = Resource {
            reservations: stack.to_vec(),
            disk: disk.map(|d| Box::new(d.clone())),
            ..Default::default()
        };
        Some(Reservation {
            role,
            encoded: carrier.encode_to_vec(),
            volume: disk
                .and_then(|d| d.persistence.as_ref())
                .map(|p| p.id.clone()),
            refined: stack.len() > 1,
        })
    }

    /// A resource holding the stack and the disk info (decoded once for
    /// all the entries of a part).
    pub(super) fn carrier(&self) -> Resource {
        Resource::decode(self.encoded.as_slice()).unwrap_or_default()
    }
}

/// The reserved parts of a bundle, sorted by reservation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Reserved {
    parts: Vec<(Arc<Reservation>, Resources)>,
}

impl Resources {
    /// Adds `part` (without parts of its own) as reserved by `reservation`.
    pub fn add_reserved(&mut self, reservation: Arc<Reservation>, part: &Resources) {
        let part = part.totals();
        if part.is_empty() {
            return;
        }
        self.add_totals(&part);
        self.merge_part(&reservation, &part);
    }

    /// Adds `part` to the breakdown under `reservation` (not to the totals).
    fn merge_part(&mut self, reservation: &Arc<Reservation>, part: &Resources) {
        let parts = &mut Arc::make_mut(self.reserved.get_or_insert_with(Arc::default)).parts;
        match parts.binary_search_by(|(r, _)| r.as_ref().cmp(reservation)) {
            Ok(at) => parts[at].1.add(part),
            Err(at) => parts.insert(at, (Arc::clone(reservation), part.clone())),
        }
    }

    /// The reserved parts, by reservation.
    pub fn reserved_parts(&self) -> &[(Arc<Reservation>, Resources)] {
        self.reserved.as_deref().map_or(&[], |r| r.parts.as_slice())
    }

    /// How much of the scalar in `slot` is reserved, in thousandths.
    pub(crate) fn reserved_slot_milli(&self, slot: &super::ScalarSlot) -> i64 {
        self.reserved_parts()
            .iter()
            .map(|(_, part)| part.slot_milli(slot))
            .sum()
    }

    /// What is not reserved.
    pub fn unreserved(&self) -> Resources {
        let mut rest = self.totals();
        for (_, part) in self.reserved_parts() {
            rest.subtract(part);
        }
        rest
    }

    /// What a framework in `role` may be offered of this: the unreserved
    /// resources and those reserved for `role` or a role above it (only
    /// unrefined reservations unless it reads `refinements`).
    pub fn for_role(&self, role: &str, refinements: bool) -> Resources {
        let foreign: Vec<&(Arc<Reservation>, Resources)> = self
            .reserved_parts()
            .iter()
            .filter(|(r, _)| {
                !meseta_proto::roles::is_within(role, &r.role) || (r.refined && !refinements)
            })
            .collect();
        if foreign.is_empty() {
            return self.clone();
        }
        let mut out = self.clone();
        for (reservation, part) in foreign {
            let mut taken = Resources::new();
            taken.add_reserved(Arc::clone(reservation), part);
            out.subtract(&taken);
        }
        out
    }

    /// The totals alone, without the breakdown.
    fn totals(&self) -> Resources {
        Resources {
            known: self.known,
            extra: self.extra.clone(),
            reserved: None,
        }
    }

    pub(super) fn add_parts(&mut self, other: &Resources) {
        for (reservation, part) in other.reserved_parts() {
            self.merge_part(reservation, part);
        }
    }

    pub(super) fn subtract_parts(&mut self, other: &Resources) {
        let (Some(reserved), Some(_)) = (self.reserved.as_mut(), other.reserved.as_ref()) else {
            return;
        };
        let parts = &mut Arc::make_mut(reserved).parts;
        for (reservation, part) in other.reserved_parts() {
            if let Ok(at) = parts.binary_search_by(|(r, _)| r.as_ref().cmp(reservation)) {
                parts[at].1.subtract(part);
                if parts[at].1.is_empty() {
                    parts.remove(at);
                }
            }
        }
        if parts.is_empty() {
            self.reserved = None;
        }
    }

    /// Whether `other`'s parts fit in ours, and its unreserved rest in ours.
    pub(super) fn parts_contain(&self, other: &Resources) -> bool {
        let mine = self.reserved_parts();
        other.reserved_parts().iter().all(|(reservation, part)| {
            mine.binary_search_by(|(r, _)| r.as_ref().cmp(reservation))
                .is_ok_and(|at| mine[at].1.contains(part))
        }) && self.unreserved().contains(&other.unreserved())
    }

    /// Trims the parts back within the totals (after a saturating subtract
    /// or a cap lowered the totals below them).
    pub(super) fn fit_parts(&mut self) {
        if self.reserved.is_none() {
            return;
        }
        let mut room = self.totals();
        let Some(reserved) = self.reserved.as_mut() else {
            return;
        };
        let parts = &mut Arc::make_mut(reserved).parts;
        for (_, part) in parts.iter_mut() {
            let mut beyond = part.clone();
            beyond.subtract(&room);
            if !beyond.is_empty() {
                part.subtract(&beyond);
            }
            room.subtract(part);
        }
        parts.retain(|(_, part)| !part.is_empty());
        if parts.is_empty() {
            self.reserved = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use meseta_proto::v1::resource::{reservation_info, ReservationInfo};

    use super::Reservation;
    use crate::Resources;

    fn reservation(role: &str) -> Arc<Reservation> {
        Arc::new(
            Reservation::of_stack(&[ReservationInfo {
                r#type: Some(reservation_info::Type::Static as i32),
                role: Some(role.into()),
                ..Default::default()
            }])
            .expect("a stack of one"),
        )
    }

    fn cpus(n: f64) -> Resources {
        Resources::new().with_scalar("cpus", n)
    }

    /// 2 unreserved cpus and 4 reserved for `ml`.
    fn agent() -> Resources {
        let mut r = cpus(2.0).with_scalar("mem", 1024.0);
        r.add_reserved(reservation("ml"), &cpus(4.0));
        r
    }

    #[test]
    fn reserved_parts_count_in_the_totals() {
        let r = agent();
        assert_eq!(r.scalar("cpus"), 6.0);
        assert_eq!(r.unreserved().scalar("cpus"), 2.0);
        assert_eq!(r.reserved_parts().len(), 1);
        assert_eq!(r.reserved_parts()[0].0.role, "ml");
        assert_eq!(
            r.reserved_parts()[0].0.carrier().reservations[0]
                .role
                .as_deref(),
            Some("ml")
        );
    }

    #[test]
    fn only_the_role_and_its_subroles_see_a_reservation() {
        let r = agent();
        assert_eq!(r.for_role("ml", false).scalar("cpus"), 6.0);
        assert_eq!(r.for_role("ml/train", false).scalar("cpus"), 6.0);
        for other in ["web", "mlx", "*"] {
            let offer = r.for_role(other, true);
            assert_eq!(offer.scalar("cpus"), 2.0, "{other}");
            assert!(offer.reserved_parts().is_empty());
        }
    }

    #[test]
    fn a_refined_reservation_is_seen_only_by_frameworks_that_read_refinements() {
        let dynamic = |role: &str| ReservationInfo {
            r#type: Some(reservation_info::Type::Dynamic as i32),
            role: Some(role.into()),
            ..Default::default()
        };
        let refined =
            Reservation::of_stack(&[dynamic("eng"), dynamic("eng/ml")]).expect("a stack of two");
        assert!(refined.refined && !reservation("eng").refined);
        let mut r = agent();
        r.add_reserved(Arc::new(refined), &cpus(1.0));
        assert_eq!(r.for_role("eng/ml", true).scalar("cpus"), 3.0);
        let unrefined_only = r.for_role("eng/ml", false);
        assert_eq!(unrefined_only.scalar("cpus"), 2.0);
        assert!(unrefined_only.reserved_parts().is_empty());
    }

    #[test]
    fn reserved_resources_are_not_fungible() {
        let free = agent();
        let mut reserved_task = Resources::new();
        reserved_task.add_reserved(reservation("ml"), &cpus(3.0));
        assert!(free.contains(&reserved_task));
        // Unreserved cpus cannot be taken from the reservation...
        assert!(!free.contains(&cpus(3.0)));
        assert!(free.contains(&cpus(2.0)));
        // ... nor another role's reservation from ml's.
        let mut web = Resources::new();
        web.add_reserved(reservation("web"), &cpus(1.0));
        assert!(!free.contains(&web));

        let mut left = free.clone();
        left.subtract(&reserved_task);
        assert_eq!(left.scalar("cpus"), 3.0);
        assert_eq!(left.reserved_parts()[0].1.scalar("cpus"), 1.0);
        left.add(&reserved_task);
        assert_eq!(left, free);
        left.subtract(&free);
        assert!(left.is_empty());
        assert_eq!(left, Resources::new());
    }

    #[test]
    fn parts_stay_within_lowered_totals() {
        let mut r = agent();
        r.subtract(&cpus(5.0));
        assert_eq!(r.scalar("cpus"), 1.0);
        assert_eq!(r.reserved_parts()[0].1.scalar("cpus"), 1.0);
    }
}
