//! Interval sets for range resources such as `ports`.
//!
//! A [`RangeSet`] is kept canonical at all times: spans are inclusive
//! `(begin, end)` pairs, sorted, non-overlapping and non-adjacent
//! (`[1-3],[4-5]` is stored as `[1-5]`). Being canonical is what makes the
//! derived `Eq` mean set equality and lets `contains` check each wanted span
//! against a single stored span found by binary search.

/// A canonical set of `u64` values stored as inclusive spans.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct RangeSet(Vec<(u64, u64)>);

impl RangeSet {
    /// Builds a set from spans in any order; spans with `begin > end` are dropped.
    pub(crate) fn from_spans(spans: impl IntoIterator<Item = (u64, u64)>) -> RangeSet {
        let mut raw: Vec<(u64, u64)> = spans.into_iter().filter(|&(b, e)| b <= e).collect();
        raw.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(raw.len());
        for span in raw {
            push_coalesced(&mut out, span);
        }
        RangeSet(out)
    }

    /// The spans, sorted and coalesced.
    pub(crate) fn spans(&self) -> &[(u64, u64)] {
        &self.0
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `self ∪= other`, a linear merge of the two sorted span lists.
    pub(crate) fn union_with(&mut self, other: &RangeSet) {
        if other.0.is_empty() {
            return;
        }
        if self.0.is_empty() {
            self.0.clone_from(&other.0);
            return;
        }
        let (a, b) = (&self.0, &other.0);
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let take_a = j >= b.len() || (i < a.len() && a[i] <= b[j]);
            let span = if take_a {
                i += 1;
                a[i - 1]
            } else {
                j += 1;
                b[j - 1]
            };
            push_coalesced(&mut out, span);
        }
        self.0 = out;
    }

    /// `self \= other`, cutting each stored span by the spans of `other` that
    /// overlap it (both lists sorted, so one forward pass suffices).
    pub(crate) fn subtract(&mut self, other: &RangeSet) {
        if self.0.is_empty() || other.0.is_empty() {
            return;
        }
        let cut = &other.0;
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut j = 0;
        for &(begin, end) in &self.0 {
            while j < cut.len() && cut[j].1 < begin {
                j += 1;
            }
            let mut start = begin;
            let mut alive = true;
            let mut k = j;
            while k < cut.len() && cut[k].0 <= end {
                let (cut_begin, cut_end) = cut[k];
                if cut_begin > start {
                    out.push((start, cut_begin - 1));
                }
                if cut_end >= end {
                    alive = false;
                    break;
                }
                // cut_end < end <= u64::MAX, so this cannot overflow.
                start = start.max(cut_end + 1);
                k += 1;
            }
            if alive {
                out.push((start, end));
            }
        }
        self.0 = out;
    }

    /// Whether `other ⊆ self`. Each span of `other` must lie inside one stored
    /// span because stored spans are coalesced.
    pub(crate) fn contains(&self, other: &RangeSet) -> bool {
        other.0.iter().all(|&(begin, end)| {
            let at = self.0.partition_point(|&(_, e)| e < begin);
            self.0.get(at).is_some_and(|&(b, e)| b <= begin && end <= e)
        })
    }
}

/// Appends `span` (whose begin is >= the last begin in `out`), merging it with
/// the last span when they overlap or touch.
fn push_coalesced(out: &mut Vec<(u64, u64)>, span: (u64, u64)) {
    if let Some(last) = out.last_mut() {
        if span.0 <= last.1.saturating_add(1) {
            last.1 = last.1.max(span.1);
            return;
        }
    }
    out.push(span);
}

#[cfg(test)]
mod tests {
    use super::RangeSet;

    fn set(spans: &[(u64, u64)]) -> RangeSet {
        RangeSet::from_spans(spans.iter().copied())
    }

    #[test]
    fn ranges_from_spans_sorts_and_coalesces() {
        assert_eq!(
            set(&[(10, 12), (1, 3), (4, 5), (7, 6)]).spans(),
            &[(1, 5), (10, 12)]
        );
    }

    #[test]
    fn ranges_union_merges_overlaps() {
        let mut a = set(&[(1, 5), (20, 30)]);
        a.union_with(&set(&[(4, 10), (31, 31), (40, 41)]));
        assert_eq!(a.spans(), &[(1, 10), (20, 31), (40, 41)]);
    }

    #[test]
    fn ranges_subtract_splits_spans() {
        let mut a = set(&[(31000, 32000)]);
        a.subtract(&set(&[(31000, 31000), (31500, 31600), (32000, 32000)]));
        assert_eq!(a.spans(), &[(31001, 31499), (31601, 31999)]);
        a.subtract(&set(&[(0, 31499)]));
        assert_eq!(a.spans(), &[(31601, 31999)]);
        a.subtract(&set(&[(31000, 40000)]));
        assert!(a.is_empty());
    }

    #[test]
    fn ranges_subtract_one_cut_spanning_two_spans() {
        let mut a = set(&[(1, 10), (20, 30)]);
        a.subtract(&set(&[(5, 25)]));
        assert_eq!(a.spans(), &[(1, 4), (26, 30)]);
    }

    #[test]
    fn ranges_subtract_at_u64_edges() {
        let mut a = set(&[(0, u64::MAX)]);
        a.subtract(&set(&[(0, 0), (u64::MAX, u64::MAX)]));
        assert_eq!(a.spans(), &[(1, u64::MAX - 1)]);
    }

    #[test]
    fn ranges_contains_is_subset() {
        let a = set(&[(1, 10), (20, 30)]);
        assert!(a.contains(&set(&[(2, 3), (20, 30)])));
        assert!(a.contains(&RangeSet::default()));
        assert!(!a.contains(&set(&[(9, 21)])));
        assert!(!a.contains(&set(&[(31, 31)])));
    }
}
