//! A small fixture for driving the allocator in tests and benchmarks:
//! agents and frameworks by name, a fake clock, and helpers to decline
//! offers. It panics on malformed input, which is what a test wants.
//!
//! ```
//! use meseta_allocator::testkit::Cluster;
//! let mut c = Cluster::new();
//! c.agents(2, "cpus:4;mem:1024").framework("f1", "web");
//! let offers = c.cycle();
//! assert_eq!(offers.len(), 2);
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{Allocation, Allocator, AllocatorConfig, Resources};

/// Parses resources in the flag syntax (`cpus:1;mem:64;ports:[1-2]`).
///
/// # Panics
/// If `text` is malformed.
pub fn res(text: &str) -> Resources {
    match Resources::parse(text) {
        Ok(r) => r,
        Err(e) => panic!("bad resources {text:?} in a fixture: {e}"),
    }
}

/// An allocator plus a fake clock.
#[derive(Debug)]
pub struct Cluster {
    /// The allocator under test.
    pub allocator: Allocator,
    /// The current fake time.
    pub now: Duration,
    agents: usize,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster::new()
    }
}

impl Cluster {
    /// Default config with a fixed shuffle seed; time starts at 0.
    pub fn new() -> Cluster {
        Cluster::with_config(AllocatorConfig {
            seed: Some(1),
            ..AllocatorConfig::default()
        })
    }

    /// A cluster over an allocator with `config`.
    pub fn with_config(config: AllocatorConfig) -> Cluster {
        Cluster {
            allocator: Allocator::new(config),
            now: Duration::ZERO,
            agents: 0,
        }
    }

    /// Adds `count` agents named `agent-N` (numbered on from earlier calls).
    pub fn agents(&mut self, count: usize, resources: &str) -> &mut Self {
        let total = res(resources);
        for _ in 0..count {
            let id = format!("agent-{}", self.agents);
            self.agents += 1;
            self.allocator.add_agent(&id, total.clone(), &[]);
        }
        self
    }

    /// Adds one agent with an explicit id.
    pub fn agent(&mut self, id: &str, resources: &str) -> &mut Self {
        self.allocator.add_agent(id, res(resources), &[]);
        self
    }

    /// Adds an active, unsuppressed framework.
    pub fn framework(&mut self, id: &str, role: &str) -> &mut Self {
        self.allocator.add_framework(id, role, false);
        self
    }

    /// Runs one allocation cycle at the current fake time.
    pub fn cycle(&mut self) -> Vec<Allocation> {
        self.allocator.allocate(self.now)
    }

    /// Moves the fake clock forward.
    pub fn advance(&mut self, by: Duration) -> &mut Self {
        self.now += by;
        self
    }

    /// Declines every allocation: recovers it, with a filter of `refuse_for`.
    pub fn decline(&mut self, offers: &[Allocation], refuse_for: Option<Duration>) {
        for o in offers {
            self.allocator.recover(
                &o.framework_id,
                &o.role,
                &o.agent_id,
                &o.resources,
                refuse_for,
                self.now,
            );
        }
    }

    /// How many allocations each framework received.
    pub fn per_framework(offers: &[Allocation]) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for o in offers {
            *counts.entry(o.framework_id.clone()).or_default() += 1;
        }
        counts
    }
}
