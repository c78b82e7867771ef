//! Resource vectors the allocator can add, subtract and compare cheaply.
//!
//! Mesos rounds every scalar to three decimals, so scalars are stored as
//! integer thousandths (`i64`): `0.1 + 0.2` cpus is exactly `0.3`, sums never
//! drift, and equality is exact. The four scalars every agent has (`cpus`,
//! `mem`, `disk`, `gpus`) live in a fixed array so the hot allocation loop
//! touches no heap for them.
//!
//! Everything else (other named scalars, range resources such as `ports`,
//! set resources) lives in an [`Extra`] behind an `Arc`, copied on write.
//! An allocation cycle mostly *moves* whole free pools around: an agent's
//! pool becomes an offer, the offer comes back declined and becomes a
//! filter and the free pool again. With the `Arc`, cloning a pool is a
//! reference-count increment instead of three heap allocations, and
//! "is the offered pool inside the filtered one?" is a pointer comparison
//! when both are the same pool, which is the common case.
//!
//! Invariants (they make the derived `Eq` mean "same resources"):
//! * `extra` is `None` when it would be empty;
//! * inside it, named scalars, range sets and sets are never zero or empty,
//!   and each list is sorted by name with unique names;
//! * no amount is negative: [`Resources::subtract`] saturates at zero.
//!
//! Reserved resources are part of the totals, with a breakdown of which
//! part is reserved to whom beside them (see [`reserved`]). Revocable
//! resources and disk infos are not modelled yet: [`Resources::from_mesos`]
//! folds them into the unreserved pool.

mod mesos;
mod ranges;
mod reserved;

use std::sync::Arc;

use ranges::RangeSet;
pub use reserved::Reservation;

/// Names of the scalars kept in the fixed array, in array order.
pub(crate) const KNOWN: [&str; 4] = ["cpus", "mem", "disk", "gpus"];
pub(crate) const CPUS: usize = 0;
pub(crate) const MEM: usize = 1;

/// Thousandths per unit: Mesos's three-decimal fixed point.
pub(crate) const MILLI: i64 = 1000;

/// A bundle of resources: scalars in fixed point, ranges as interval sets,
/// and sets of strings. See the module documentation for the invariants.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    known: [i64; KNOWN.len()],
    extra: Option<Arc<Extra>>,
    reserved: Option<Arc<reserved::Reserved>>,
}

/// The less common resources, shared between clones until one is changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Extra {
    other: Vec<(String, i64)>,
    ranges: Vec<(String, RangeSet)>,
    sets: Vec<(String, Vec<String>)>,
}

static NO_EXTRA: Extra = Extra {
    other: Vec::new(),
    ranges: Vec::new(),
    sets: Vec::new(),
};

impl Extra {
    fn is_empty(&self) -> bool {
        self.other.is_empty() && self.ranges.is_empty() && self.sets.is_empty()
    }
}

/// Converts a Mesos scalar to thousandths, rounding like Mesos; negative,
/// NaN and infinite amounts become zero.
pub(crate) fn to_milli(value: f64) -> i64 {
    if value.is_finite() && value > 0.0 {
        // `as` saturates at i64::MAX for absurdly large values.
        (value * MILLI as f64).round() as i64
    } else {
        0
    }
}

fn from_milli(milli: i64) -> f64 {
    milli as f64 / MILLI as f64
}

fn known_index(name: &str) -> Option<usize> {
    KNOWN.iter().position(|&k| k == name)
}

fn find<'a, T>(list: &'a [(String, T)], name: &str) -> Option<&'a T> {
    list.binary_search_by(|(n, _)| n.as_str().cmp(name))
        .ok()
        .map(|i| &list[i].1)
}

fn entry<'a, T: Default>(list: &'a mut Vec<(String, T)>, name: &str) -> &'a mut T {
    let at = match list.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
        Ok(at) => at,
        Err(at) => {
            list.insert(at, (name.to_string(), T::default()));
            at
        }
    };
    &mut list[at].1
}

/// Where a scalar lives: the fixed array or the named list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ScalarSlot {
    Known(usize),
    Named(String),
}

impl ScalarSlot {
    pub(crate) fn of(name: &str) -> ScalarSlot {
        known_index(name).map_or_else(|| ScalarSlot::Named(name.to_string()), ScalarSlot::Known)
    }
}

impl Resources {
    /// No resources.
    pub fn new() -> Resources {
        Resources::default()
    }

    /// Adds `amount` of the scalar `name` (rounded to thousandths).
    pub fn with_scalar(mut self, name: &str, amount: f64) -> Resources {
        self.add_scalar_milli(name, to_milli(amount));
        self
    }

    /// Adds the inclusive spans to the range resource `name`.
    pub fn with_ranges(mut self, name: &str, spans: &[(u64, u64)]) -> Resources {
        self.add_ranges(name, RangeSet::from_spans(spans.iter().copied()));
        self
    }

    /// Adds the items to the set resource `name`.
    pub fn with_set(mut self, name: &str, items: &[&str]) -> Resources {
        self.add_set_items(name, items.iter().map(|s| s.to_string()));
        self
    }

    /// The amount of the scalar `name` (0 when absent).
    pub fn scalar(&self, name: &str) -> f64 {
        from_milli(self.scalar_milli(name))
    }

    /// The amount of the scalar `name` in thousandths (0 when absent).
    pub fn scalar_milli(&self, name: &str) -> i64 {
        self.slot_milli(&ScalarSlot::of(name))
    }

    /// The sorted, coalesced inclusive spans of the range resource `name`.
    pub fn ranges(&self, name: &str) -> &[(u64, u64)] {
        find(&self.extra().ranges, name).map_or(&[], |r| r.spans())
    }

    /// The sorted items of the set resource `name`.
    pub fn set(&self, name: &str) -> &[String] {
        find(&self.extra().sets, name).map_or(&[], |s| s.as_slice())
    }

    /// Whether there is nothing here at all.
    pub fn is_empty(&self) -> bool {
        self.known.iter().all(|&v| v == 0) && self.extra.is_none()
    }

    /// Whether `other ⊆ self`: every scalar of `other` is <= ours, every range
    /// and set of `other` is a subset of ours.
    pub fn contains(&self, other: &Resources) -> bool {
        self.totals_contain(other)
            && ((self.reserved.is_none() && other.reserved.is_none()) || self.parts_contain(other))
    }

    fn totals_contain(&self, other: &Resources) -> bool {
        if !self.known.iter().zip(&other.known).all(|(a, b)| a >= b) {
            return false;
        }
        let (mine, theirs) = match (&self.extra, &other.extra) {
            (_, None) => return true,
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => return true,
            (_, Some(b)) => (self.extra(), &**b),
        };
        theirs
            .other
            .iter()
            .all(|(n, v)| find(&mine.other, n).is_some_and(|m| m >= v))
            && theirs
                .ranges
                .iter()
                .all(|(n, r)| find(&mine.ranges, n).is_some_and(|m| m.contains(r)))
            && theirs.sets.iter().all(|(n, items)| {
                find(&mine.sets, n)
                    .is_some_and(|m| items.iter().all(|i| m.binary_search(i).is_ok()))
            })
    }

    /// `self += other` (ranges and sets: union).
    pub fn add(&mut self, other: &Resources) {
        self.add_totals(other);
        if other.reserved.is_some() {
            self.add_parts(other);
        }
    }

    fn add_totals(&mut self, other: &Resources) {
        self.add_known(other);
        let Some(theirs) = &other.extra else {
            return;
        };
        if self.extra.is_none() {
            self.extra = Some(Arc::clone(theirs));
            return;
        }
        let mine = self.extra_mut();
        for (name, v) in &theirs.other {
            let m = entry(&mut mine.other, name);
            *m = m.saturating_add(*v);
        }
        for (name, set) in &theirs.ranges {
            entry(&mut mine.ranges, name).union_with(set);
        }
        for (name, items) in &theirs.sets {
            merge_items(entry(&mut mine.sets, name), items.iter().cloned());
        }
    }

    /// `self -= other`, saturating at zero (ranges and sets: difference).
    pub fn subtract(&mut self, other: &Resources) {
        self.subtract_parts(other);
        self.subtract_totals(other);
        self.fit_parts();
    }

    fn subtract_totals(&mut self, other: &Resources) {
        self.subtract_known(other);
        let (Some(mine), Some(theirs)) = (&self.extra, &other.extra) else {
            return;
        };
        if Arc::ptr_eq(mine, theirs) {
            // Every named scalar, range and set cancels out.
            self.extra = None;
            return;
        }
        let theirs = Arc::clone(theirs);
        let mine = self.extra_mut();
        subtract_named(&mut mine.other, &theirs.other);
        for (name, set) in &theirs.ranges {
            if let Ok(at) = mine.ranges.binary_search_by(|(n, _)| n.cmp(name)) {
                mine.ranges[at].1.subtract(set);
                if mine.ranges[at].1.is_empty() {
                    mine.ranges.remove(at);
                }
            }
        }
        for (name, items) in &theirs.sets {
            if let Ok(at) = mine.sets.binary_search_by(|(n, _)| n.cmp(name)) {
                mine.sets[at].1.retain(|i| items.binary_search(i).is_err());
                if mine.sets[at].1.is_empty() {
                    mine.sets.remove(at);
                }
            }
        }
        self.normalize();
    }

    /// Adds only the scalars of `other`. Aggregates across agents (a
    /// framework's or role's total, the cluster total) use this: ports on
    /// different agents are different ports, so their union means nothing.
    pub(crate) fn add_scalars(&mut self, other: &Resources) {
        self.add_known(other);
        for (name, v) in &other.extra().other {
            self.add_scalar_milli(name, *v);
        }
    }

    /// Subtracts only the scalars of `other`, saturating at zero.
    pub(crate) fn subtract_scalars(&mut self, other: &Resources) {
        self.subtract_known(other);
        let theirs = &other.extra().other;
        if theirs.is_empty() || self.extra.is_none() {
            return;
        }
        subtract_named(&mut self.extra_mut().other, theirs);
        self.normalize();
    }

    pub(crate) fn slot_milli(&self, slot: &ScalarSlot) -> i64 {
        match slot {
            ScalarSlot::Known(i) => self.known[*i],
            ScalarSlot::Named(name) => find(&self.extra().other, name).copied().unwrap_or(0),
        }
    }

    /// Lowers the scalar in `slot` to at most `max` thousandths.
    pub(crate) fn cap_slot(&mut self, slot: &ScalarSlot, max: i64) {
        let max = max.max(0);
        match slot {
            ScalarSlot::Known(i) => self.known[*i] = self.known[*i].min(max),
            ScalarSlot::Named(name) => {
                if find(&self.extra().other, name).is_some_and(|v| *v > max) {
                    let other = &mut self.extra_mut().other;
                    if let Ok(at) = other.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
                        if max == 0 {
                            other.remove(at);
                        } else {
                            other[at].1 = max;
                        }
                    }
                    self.normalize();
                }
            }
        }
        self.fit_parts();
    }

    /// Mesos's "allocatable" test: at least the minimum of cpus or of mem.
    pub(crate) fn is_allocatable(&self, min_cpus_milli: i64, min_mem_milli: i64) -> bool {
        self.known[CPUS] >= min_cpus_milli || self.known[MEM] >= min_mem_milli
    }

    pub(crate) fn add_scalar_milli(&mut self, name: &str, milli: i64) {
        if milli <= 0 {
            return;
        }
        match known_index(name) {
            Some(i) => self.known[i] = self.known[i].saturating_add(milli),
            None => {
                let v = entry(&mut self.extra_mut().other, name);
                *v = v.saturating_add(milli);
            }
        }
    }

    pub(crate) fn add_ranges(&mut self, name: &str, set: RangeSet) {
        if !set.is_empty() {
            entry(&mut self.extra_mut().ranges, name).union_with(&set);
        }
    }

    pub(crate) fn add_set_items(&mut self, name: &str, items: impl IntoIterator<Item = String>) {
        let mut items = items.into_iter().peekable();
        if items.peek().is_some() {
            merge_items(entry(&mut self.extra_mut().sets, name), items);
        }
    }

    fn extra(&self) -> &Extra {
        self.extra.as_deref().unwrap_or(&NO_EXTRA)
    }

    /// The extra part, unshared (copied if another clone holds it).
    fn extra_mut(&mut self) -> &mut Extra {
        Arc::make_mut(self.extra.get_or_insert_with(Arc::default))
    }

    fn normalize(&mut self) {
        if self.extra.as_ref().is_some_and(|e| e.is_empty()) {
            self.extra = None;
        }
    }

    fn add_known(&mut self, other: &Resources) {
        for (mine, theirs) in self.known.iter_mut().zip(&other.known) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    fn subtract_known(&mut self, other: &Resources) {
        for (mine, theirs) in self.known.iter_mut().zip(&other.known) {
            *mine = mine.saturating_sub(*theirs).max(0);
        }
    }
}

fn subtract_named(mine: &mut Vec<(String, i64)>, theirs: &[(String, i64)]) {
    for (name, v) in theirs {
        if let Ok(at) = mine.binary_search_by(|(n, _)| n.cmp(name)) {
            let left = mine[at].1.saturating_sub(*v);
            if left > 0 {
                mine[at].1 = left;
            } else {
                mine.remove(at);
            }
        }
    }
}

fn merge_items(set: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    set.extend(items);
    set.sort_unstable();
    set.dedup();
}

#[cfg(test)]
mod tests {
    use super::Resources;

    fn agent() -> Resources {
        Resources::new()
            .with_scalar("cpus", 24.0)
            .with_scalar("mem", 4096.0)
            .with_ranges("ports", &[(31000, 32000)])
    }

    #[test]
    fn resources_fixed_point_sums_exactly() {
        let a = Resources::new().with_scalar("cpus", 0.1);
        let mut sum = a.clone();
        sum.add(&Resources::new().with_scalar("cpus", 0.2));
        assert_eq!(sum, Resources::new().with_scalar("cpus", 0.3));
        assert_eq!(sum.scalar("cpus"), 0.3);
        assert_eq!(
            Resources::new().with_scalar("cpus", 0.0004).scalar("cpus"),
            0.0
        );
        assert_eq!(
            Resources::new().with_scalar("cpus", 0.0005).scalar("cpus"),
            0.001
        );
    }

    #[test]
    fn resources_ports_subtract() {
        let mut free = agent();
        let task = Resources::new()
            .with_scalar("cpus", 1.0)
            .with_ranges("ports", &[(31000, 31001), (31500, 31500)]);
        assert!(free.contains(&task));
        free.subtract(&task);
        assert_eq!(free.ranges("ports"), &[(31002, 31499), (31501, 32000)]);
        assert_eq!(free.scalar("cpus"), 23.0);
        assert!(!free.contains(&task));
        free.add(&task);
        assert_eq!(free, agent());
    }

    #[test]
    fn resources_clones_share_until_written() {
        let a = agent().with_scalar("fpga", 1.0);
        let mut b = a.clone();
        b.subtract(&Resources::new().with_ranges("ports", &[(31000, 31000)]));
        assert_eq!(a.ranges("ports"), &[(31000, 32000)]);
        assert_eq!(b.ranges("ports"), &[(31001, 32000)]);
        let mut c = a.clone();
        c.subtract(&a);
        assert!(c.is_empty());
        let mut d = a.clone();
        d.add(&a);
        assert_eq!(d.scalar("fpga"), 2.0);
        assert_eq!(d.scalar("cpus"), 48.0);
        assert_eq!(d.ranges("ports"), a.ranges("ports"));
        assert!(d.contains(&a) && !a.contains(&d));
    }

    #[test]
    fn resources_subtract_saturates_and_empties() {
        let mut r = Resources::new()
            .with_scalar("cpus", 1.0)
            .with_scalar("foo", 2.0);
        r.subtract(
            &Resources::new()
                .with_scalar("cpus", 5.0)
                .with_scalar("foo", 9.0),
        );
        assert!(r.is_empty());
        assert_eq!(r, Resources::new());
    }

    #[test]
    fn resources_contains_named_scalars_and_sets() {
        let r = Resources::new()
            .with_scalar("fpga", 2.0)
            .with_set("zones", &["a", "b"]);
        assert!(r.contains(&Resources::new().with_scalar("fpga", 2.0)));
        assert!(!r.contains(&Resources::new().with_scalar("fpga", 2.001)));
        assert!(r.contains(&Resources::new().with_set("zones", &["b"])));
        assert!(!r.contains(&Resources::new().with_set("zones", &["c"])));
        assert!(!r.contains(&Resources::new().with_ranges("ports", &[(1, 1)])));
        let mut s = r.clone();
        s.subtract(&Resources::new().with_set("zones", &["a", "b"]));
        assert!(s.set("zones").is_empty());
    }
}
