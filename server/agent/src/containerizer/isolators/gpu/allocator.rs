//! Which container holds which GPU.
//!
//! A plain table, no I/O, so that what the `gpu/nvidia` isolator decides
//! (hand out whole GPUs, take them back, learn after an agent restart who
//! held what) can be tested on its own. An *owner* is the container key of
//! a top-level container, or of a default executor's container group:
//! nested containers use the GPUs of their group and own none.

use super::nvml::Gpu;

/// Why GPUs could not be handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{wanted} more GPUs are needed but only {free} of the agent's {total} are free")]
pub(crate) struct Exhausted {
    pub wanted: usize,
    pub free: usize,
    pub total: usize,
}

/// The agent's GPUs and their holders.
#[derive(Debug, Default)]
pub(crate) struct GpuAllocator {
    /// Sorted by NVML index; `owners[i]` holds `gpus[i]`.
    gpus: Vec<Gpu>,
    owners: Vec<Option<String>>,
}

impl GpuAllocator {
    /// All of `gpus` free.
    pub fn new(mut gpus: Vec<Gpu>) -> Self {
        gpus.sort_by_key(|gpu| gpu.index);
        gpus.dedup();
        let owners = vec![None; gpus.len()];
        Self { gpus, owners }
    }

    /// How many GPUs the agent manages.
    pub fn total(&self) -> usize {
        self.gpus.len()
    }

    /// How many are free.
    pub fn free(&self) -> usize {
        self.owners.iter().filter(|owner| owner.is_none()).count()
    }

    /// The GPUs `owner` holds, lowest index first.
    pub fn held(&self, owner: &str) -> Vec<Gpu> {
        self.gpus
            .iter()
            .zip(&self.owners)
            .filter(|(_, holder)| holder.as_deref() == Some(owner))
            .map(|(gpu, _)| *gpu)
            .collect()
    }

    /// Gives `owner` `count` more GPUs (the free ones with the lowest
    /// indices) and returns them; all or nothing.
    pub fn allocate(&mut self, owner: &str, count: usize) -> Result<Vec<Gpu>, Exhausted> {
        let free = self.free();
        if count > free {
            return Err(Exhausted {
                wanted: count,
                free,
                total: self.total(),
            });
        }
        let mut given = Vec::with_capacity(count);
        for (gpu, holder) in self.gpus.iter().zip(self.owners.iter_mut()) {
            if given.len() == count {
                break;
            }
            if holder.is_none() {
                *holder = Some(owner.to_string());
                given.push(*gpu);
            }
        }
        Ok(given)
    }

    /// Takes `count` of `owner`'s GPUs back (the highest indices first) and
    /// returns them.
    pub fn release_some(&mut self, owner: &str, count: usize) -> Vec<Gpu> {
        let mut taken = Vec::new();
        for (gpu, holder) in self.gpus.iter().zip(self.owners.iter_mut()).rev() {
            if taken.len() == count {
                break;
            }
            if holder.as_deref() == Some(owner) {
                *holder = None;
                taken.push(*gpu);
            }
        }
        taken
    }

    /// Frees exactly `these` GPUs (undoing an allocation that could not
    /// be put into effect).
    pub fn free_these(&mut self, these: &[Gpu]) {
        for (gpu, holder) in self.gpus.iter().zip(self.owners.iter_mut()) {
            if these.contains(gpu) {
                *holder = None;
            }
        }
    }

    /// Takes every GPU of `owner` back and returns them.
    pub fn release(&mut self, owner: &str) -> Vec<Gpu> {
        self.release_some(owner, usize::MAX)
    }

    /// After an agent restart: `owner` is found to have access to the GPUs
    /// with these minor numbers. Those free become its own; returns what
    /// it holds now, and the minors another owner already holds.
    pub fn claim(&mut self, owner: &str, minors: &[u32]) -> (Vec<Gpu>, Vec<(u32, String)>) {
        let mut conflicts = Vec::new();
        for (gpu, holder) in self.gpus.iter().zip(self.owners.iter_mut()) {
            if !minors.contains(&gpu.minor) {
                continue;
            }
            match holder {
                None => *holder = Some(owner.to_string()),
                Some(other) if other != owner => conflicts.push((gpu.minor, other.clone())),
                Some(_) => {}
            }
        }
        (self.held(owner), conflicts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn four() -> GpuAllocator {
        // Minors differ from indices, as they may on a real machine.
        GpuAllocator::new(
            (0..4)
                .rev()
                .map(|index| Gpu {
                    index,
                    minor: index + 10,
                })
                .collect(),
        )
    }

    fn indices(gpus: &[Gpu]) -> Vec<u32> {
        gpus.iter().map(|g| g.index).collect()
    }

    #[test]
    fn allocates_the_lowest_free_indices_until_exhausted() {
        let mut gpus = four();
        assert_eq!(indices(&gpus.allocate("a", 2).unwrap()), vec![0, 1]);
        assert_eq!(indices(&gpus.allocate("b", 1).unwrap()), vec![2]);
        assert_eq!(gpus.free(), 1);
        let exhausted = gpus.allocate("c", 2).unwrap_err();
        assert_eq!(
            exhausted.to_string(),
            "2 more GPUs are needed but only 1 of the agent's 4 are free"
        );
        // All or nothing: the failed request took nothing.
        assert_eq!(gpus.free(), 1);
        assert!(gpus.held("c").is_empty());
        assert_eq!(indices(&gpus.allocate("a", 1).unwrap()), vec![3]);
        assert_eq!(indices(&gpus.held("a")), vec![0, 1, 3]);
        assert_eq!(gpus.free(), 0);
        assert!(gpus.allocate("d", 0).unwrap().is_empty());
    }

    #[test]
    fn released_gpus_are_free_again() {
        let mut gpus = four();
        gpus.allocate("a", 3).unwrap();
        gpus.allocate("b", 1).unwrap();
        assert_eq!(indices(&gpus.release_some("a", 1)), vec![2]);
        assert_eq!(indices(&gpus.held("a")), vec![0, 1]);
        assert_eq!(indices(&gpus.release("a")), vec![1, 0]);
        assert!(gpus.release("a").is_empty());
        assert!(gpus.release("nobody").is_empty());
        assert_eq!(gpus.free(), 3);
        assert_eq!(indices(&gpus.allocate("c", 3).unwrap()), vec![0, 1, 2]);
        assert_eq!(indices(&gpus.held("b")), vec![3]);
        let held = gpus.held("c");
        gpus.free_these(&held[1..]);
        assert_eq!(indices(&gpus.held("c")), vec![0]);
        assert_eq!(gpus.free(), 2);
    }

    #[test]
    fn recovery_claims_by_minor_number_and_reports_conflicts() {
        let mut gpus = four();
        let (held, conflicts) = gpus.claim("a", &[11, 13, 99]);
        assert_eq!(indices(&held), vec![1, 3]);
        assert!(conflicts.is_empty());
        // The same container recovered twice (a nested one and its group).
        let (again, _) = gpus.claim("a", &[11]);
        assert_eq!(indices(&again), vec![1, 3]);
        let (held, conflicts) = gpus.claim("b", &[11, 12]);
        assert_eq!(indices(&held), vec![2]);
        assert_eq!(conflicts, vec![(11, "a".to_string())]);
        // What was recovered is not handed out again.
        assert_eq!(indices(&gpus.allocate("c", 1).unwrap()), vec![0]);
        assert_eq!(gpus.allocate("d", 1).unwrap_err().free, 0);
    }
}
