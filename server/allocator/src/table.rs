//! Interning of string ids into dense `u32` slots.
//!
//! Agents, frameworks and roles are named by strings on the wire, but the
//! allocation loop, the DRF order and the filters refer to them by slot
//! index: comparing and hashing a `u32` is far cheaper than a UUID string,
//! and a slot lookup is a plain `Vec` index. Vacated slots are reused, so
//! memory stays proportional to the live population. String ids are hashed
//! with the standard (DoS-resistant) hasher because they come from the
//! network; slot indices use [`IdxHasher`], a single multiply.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hasher for `u32` slot indices (which are not attacker
/// controlled: they are assigned by [`Table`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct IdxHasher(u64);

impl Hasher for IdxHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, i: u32) {
        let x = (self.0 ^ u64::from(i)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

/// A map keyed by slot index.
pub(crate) type IdxMap<V> = HashMap<u32, V, BuildHasherDefault<IdxHasher>>;
/// A set of slot indices.
pub(crate) type IdxSet = HashSet<u32, BuildHasherDefault<IdxHasher>>;

/// Values addressed both by string id and by dense slot index.
#[derive(Debug)]
pub(crate) struct Table<T> {
    ids: HashMap<String, u32>,
    slots: Vec<Option<T>>,
    vacant: Vec<u32>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            ids: HashMap::new(),
            slots: Vec::new(),
            vacant: Vec::new(),
        }
    }
}

impl<T> Table<T> {
    pub(crate) fn lookup(&self, id: &str) -> Option<u32> {
        self.ids.get(id).copied()
    }

    pub(crate) fn get(&self, idx: u32) -> Option<&T> {
        self.slots.get(idx as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, idx: u32) -> Option<&mut T> {
        self.slots.get_mut(idx as usize).and_then(Option::as_mut)
    }

    pub(crate) fn by_id(&self, id: &str) -> Option<&T> {
        self.lookup(id).and_then(|i| self.get(i))
    }

    /// Stores `value` under `id` (which must not be present) and returns its slot.
    pub(crate) fn insert(&mut self, id: &str, value: T) -> u32 {
        let idx = match self.vacant.pop() {
            Some(idx) => {
                self.slots[idx as usize] = Some(value);
                idx
            }
            None => {
                self.slots.push(Some(value));
                // More than u32::MAX live agents or frameworks is not a
                // configuration this allocator supports.
                (self.slots.len() - 1) as u32
            }
        };
        self.ids.insert(id.to_string(), idx);
        idx
    }

    /// Removes the value stored under `id`, returning its slot and value.
    pub(crate) fn remove(&mut self, id: &str) -> Option<(u32, T)> {
        let idx = self.ids.remove(id)?;
        let value = self.slots.get_mut(idx as usize)?.take()?;
        self.vacant.push(idx);
        Some((idx, value))
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|v| (i as u32, v)))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut T)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| s.as_mut().map(|v| (i as u32, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn table_reuses_vacated_slots() {
        let mut t = Table::default();
        let a = t.insert("a", 1);
        let b = t.insert("b", 2);
        assert_eq!(t.remove("a"), Some((a, 1)));
        assert_eq!(t.lookup("a"), None);
        let c = t.insert("c", 3);
        assert_eq!(c, a);
        assert_eq!(t.by_id("b"), Some(&2));
        assert_eq!(t.get(b), Some(&2));
        assert_eq!(t.len(), 2);
    }
}
