//! Where the master's IDs come from.
//!
//! Every ID the state machine makes is drawn from the [`Ids`] its caller
//! gives [`Master::new`](super::Master::new), and time only from the `now`
//! of each input; nothing in [`super`] reads a clock or the operating
//! system's randomness. The IDs:
//! * framework, agent and offer IDs: counters under the master's ID
//!   (`<master>-0000`, `<master>-S0`, `<master>-O0`);
//! * subscription stream IDs (`Mesos-Stream-Id`): UUID v4 strings.
//!
//! The shell passes [`Ids::random`], whose UUIDs come from the operating
//! system; tests (and a simulator) pass [`Ids::seeded`], whose UUIDs come
//! from a seeded generator. Seeded so, and with the same seed in
//! `AllocatorConfig::seed`, a master given the same inputs makes the same
//! IDs and the same actions in the same order.

use uuid::Uuid;

/// The source of every ID a [`Master`](super::Master) makes.
#[derive(Debug)]
pub struct Ids {
    uuids: Uuids,
    next_framework: u64,
    next_agent: u64,
    next_offer: u64,
}

#[derive(Debug)]
enum Uuids {
    /// `Uuid::new_v4`: the operating system's randomness.
    System,
    /// SplitMix64 from a seed: reproducible, and not meant to be secret.
    Seeded(u64),
}

impl Ids {
    /// What a running master uses: UUIDs from the operating system's
    /// randomness, counters from zero.
    pub fn random() -> Ids {
        Ids::with(Uuids::System)
    }

    /// Reproducible IDs: the same seed gives the same UUIDs, in the same
    /// order. Still UUID v4 strings, so nothing downstream can tell.
    pub fn seeded(seed: u64) -> Ids {
        Ids::with(Uuids::Seeded(seed))
    }

    fn with(uuids: Uuids) -> Ids {
        Ids {
            uuids,
            next_framework: 0,
            next_agent: 0,
            next_offer: 0,
        }
    }

    /// A fresh version-4 UUID.
    pub fn uuid(&mut self) -> Uuid {
        match &mut self.uuids {
            Uuids::System => Uuid::new_v4(),
            Uuids::Seeded(state) => {
                let high = split_mix(state);
                let low = split_mix(state);
                let mut bytes = [0; 16];
                bytes[..8].copy_from_slice(&high.to_be_bytes());
                bytes[8..].copy_from_slice(&low.to_be_bytes());
                uuid::Builder::from_random_bytes(bytes).into_uuid()
            }
        }
    }

    /// A new subscription stream's ID.
    pub(super) fn stream_id(&mut self) -> String {
        self.uuid().to_string()
    }

    /// The ID of a framework that subscribes without one.
    pub(super) fn framework_id(&mut self, master_id: &str) -> String {
        let id = format!("{master_id}-{:04}", self.next_framework);
        self.next_framework += 1;
        id
    }

    /// The ID of an agent that registers without one.
    pub(super) fn agent_id(&mut self, master_id: &str) -> String {
        let id = format!("{master_id}-S{}", self.next_agent);
        self.next_agent += 1;
        id
    }

    /// The ID of a new offer.
    pub(super) fn offer_id(&mut self, master_id: &str) -> String {
        let id = format!("{master_id}-O{}", self.next_offer);
        self.next_offer += 1;
        id
    }
}

/// One step of SplitMix64.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use uuid::{Variant, Version};

    use super::*;

    #[test]
    fn counters_keep_their_formats() {
        for mut ids in [Ids::random(), Ids::seeded(3)] {
            assert_eq!(ids.framework_id("M"), "M-0000");
            assert_eq!(ids.framework_id("M"), "M-0001");
            assert_eq!(ids.agent_id("M"), "M-S0");
            assert_eq!(ids.agent_id("M"), "M-S1");
            assert_eq!(ids.offer_id("M"), "M-O0");
            assert_eq!(ids.offer_id("M"), "M-O1");
        }
    }

    #[test]
    fn stream_ids_are_version_4_uuids_either_way() {
        for mut ids in [Ids::random(), Ids::seeded(3)] {
            let a = ids.stream_id();
            let b = ids.stream_id();
            assert_ne!(a, b);
            for id in [a, b] {
                let parsed = Uuid::parse_str(&id).expect("a UUID");
                assert_eq!(parsed.get_version(), Some(Version::Random), "{id}");
                assert_eq!(parsed.get_variant(), Variant::RFC4122, "{id}");
                assert_eq!(parsed.to_string(), id, "hyphenated, lower case");
            }
        }
    }

    #[test]
    fn a_seed_fixes_the_uuids() {
        let take = |seed| {
            let mut ids = Ids::seeded(seed);
            (0..4).map(|_| ids.stream_id()).collect::<Vec<_>>()
        };
        assert_eq!(take(7), take(7));
        assert_ne!(take(7), take(8));
    }
}
