//! Offer filters: "don't offer me these resources on that agent until T".
//!
//! A framework that declines an offer with `refuse_seconds` creates a filter
//! for (framework, agent). It blocks an offer only while unexpired and only
//! if the filtered resources *contain* what would be offered, so the agent
//! comes back early if more of it becomes free.
//!
//! Filters live in one map per framework slot, keyed by agent slot: the
//! allocation loop asks "has this framework filtered this agent?" with a
//! `Vec` index plus one integer hash probe, and `revive` drops a framework's
//! filters by clearing one map. A min-heap of expiry times purges expired
//! filters at the start of each cycle; a heap entry whose filter was already
//! cleared is simply ignored, and the heap is rebuilt when stale entries
//! outnumber live filters. Correctness never depends on purging: a lookup
//! ignores expired filters by itself.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use crate::table::IdxMap;
use crate::Resources;

#[derive(Debug)]
struct Filter {
    resources: Resources,
    until: Duration,
}

/// All offer filters, by framework slot then agent slot.
#[derive(Debug, Default)]
pub(crate) struct Filters {
    by_framework: Vec<IdxMap<Vec<Filter>>>,
    expiry: BinaryHeap<Reverse<(Duration, u32, u32)>>,
    /// Filters stored (counting each entry of each per-pair vector).
    live: usize,
}

impl Filters {
    /// Filters `resources` on `agent` for `framework` until `until`.
    pub(crate) fn add(
        &mut self,
        framework: u32,
        agent: u32,
        resources: Resources,
        until: Duration,
    ) {
        let at = framework as usize;
        if self.by_framework.len() <= at {
            self.by_framework.resize_with(at + 1, IdxMap::default);
        }
        let pair = self.by_framework[at].entry(agent).or_default();
        if let Some(same) = pair.iter_mut().find(|f| f.resources == resources) {
            if same.until >= until {
                return;
            }
            same.until = until;
        } else {
            pair.push(Filter { resources, until });
            self.live += 1;
        }
        self.expiry.push(Reverse((until, framework, agent)));
        if self.expiry.len() > 1024 && self.expiry.len() > 2 * self.live {
            self.rebuild_heap();
        }
    }

    /// Whether `framework` must not be offered `offered` on `agent` at `now`.
    pub(crate) fn is_filtered(
        &self,
        framework: u32,
        agent: u32,
        offered: &Resources,
        now: Duration,
    ) -> bool {
        match self.by_framework.get(framework as usize) {
            Some(map) if !map.is_empty() => map.get(&agent).is_some_and(|pair| {
                pair.iter()
                    .any(|f| f.until > now && f.resources.contains(offered))
            }),
            _ => false,
        }
    }

    /// Drops every filter of `framework` (revive, deactivation, removal).
    pub(crate) fn clear_framework(&mut self, framework: u32) {
        if let Some(map) = self.by_framework.get_mut(framework as usize) {
            self.live -= map.values().map(Vec::len).sum::<usize>();
            map.clear();
        }
    }

    /// Drops every filter on `agent` (agent removed).
    pub(crate) fn remove_agent(&mut self, agent: u32) {
        for map in &mut self.by_framework {
            if let Some(pair) = map.remove(&agent) {
                self.live -= pair.len();
            }
        }
    }

    /// Purges filters that expired at or before `now`.
    pub(crate) fn expire(&mut self, now: Duration) {
        while let Some(&Reverse((until, framework, agent))) = self.expiry.peek() {
            if until > now {
                break;
            }
            self.expiry.pop();
            let Some(map) = self.by_framework.get_mut(framework as usize) else {
                continue;
            };
            if let Some(pair) = map.get_mut(&agent) {
                let before = pair.len();
                pair.retain(|f| f.until > now);
                self.live -= before - pair.len();
                if pair.is_empty() {
                    map.remove(&agent);
                }
            }
        }
    }

    /// Number of stored (possibly expired but not yet purged) filters.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    fn rebuild_heap(&mut self) {
        let entries = self.by_framework.iter().enumerate().flat_map(|(fw, map)| {
            map.iter().flat_map(move |(&agent, pair)| {
                pair.iter()
                    .map(move |f| Reverse((f.until, fw as u32, agent)))
            })
        });
        self.expiry = entries.collect();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Filters;
    use crate::Resources;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn filters_block_contained_offers_until_expiry() {
        let mut f = Filters::default();
        let declined = Resources::new().with_scalar("cpus", 4.0);
        f.add(3, 7, declined.clone(), secs(10));
        assert!(f.is_filtered(3, 7, &declined, secs(9)));
        assert!(f.is_filtered(3, 7, &Resources::new().with_scalar("cpus", 1.0), secs(9)));
        assert!(!f.is_filtered(3, 7, &Resources::new().with_scalar("cpus", 5.0), secs(9)));
        assert!(!f.is_filtered(3, 8, &declined, secs(9)));
        assert!(!f.is_filtered(3, 7, &declined, secs(10)));
        f.expire(secs(10));
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn filters_same_resources_extend_instead_of_growing() {
        let mut f = Filters::default();
        let r = Resources::new().with_scalar("mem", 64.0);
        f.add(0, 0, r.clone(), secs(5));
        f.add(0, 0, r.clone(), secs(50));
        assert_eq!(f.len(), 1);
        f.expire(secs(20));
        assert!(f.is_filtered(0, 0, &r, secs(20)));
    }

    #[test]
    fn filters_heap_rebuild_keeps_live_filters() {
        let mut f = Filters::default();
        let r = Resources::new().with_scalar("cpus", 1.0);
        for round in 0..5u64 {
            for agent in 0..1000 {
                f.add(1, agent, r.clone(), secs(100 + round));
            }
            f.clear_framework(1);
        }
        f.add(2, 0, r.clone(), secs(1000));
        assert!(f.expiry.len() <= 2 * f.len() + 1024);
        f.expire(secs(999));
        assert!(f.is_filtered(2, 0, &r, secs(999)));
        f.remove_agent(0);
        assert_eq!(f.len(), 0);
    }
}
