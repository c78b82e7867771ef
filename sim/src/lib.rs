//! Deterministic simulation of a whole Meseta cluster.
//!
//! The master's state machine, simulated agents built on the agent's own
//! status update manager, and schedulers built on the client core's
//! protocol session run against a simulated clock and network, all driven
//! by one seeded random generator. The network delays, drops, duplicates,
//! reorders and partitions; masters, agents and schedulers crash and come
//! back with what they had persisted. After every step the invariants in
//! [`invariants`] are checked, and at the end of a run the liveness ones.
//!
//! Nothing reads a real clock or a real socket, and every choice comes
//! from the seed, so a failing seed replays exactly:
//! `cargo run -p meseta-sim -- --seed N --trace` prints every step.
//! (FoundationDB and TigerBeetle are tested this way.)

pub mod agent_node;
pub mod framework_node;
pub mod invariants;
pub mod master_node;
pub mod net;
pub mod rng;
pub mod truth;
pub mod world;

use std::time::Duration;

pub use net::NetworkFaults;

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Agents in the cluster.
    pub agents: usize,
    /// Schedulers.
    pub frameworks: usize,
    /// Tasks each scheduler launches in all.
    pub tasks_per_framework: usize,
    /// Each agent's resources (`cpus:4;mem:1024`).
    pub agent_resources: String,
    /// Whether processes crash and agents are partitioned.
    pub faults: bool,
    /// Faults come this far apart on average.
    pub mean_fault_gap: Duration,
    /// How long faults go on (simulated time).
    pub fault_time: Duration,
    /// How long the calm after them may take to settle.
    pub settle_time: Duration,
    /// The network's faults while faults go on.
    pub network: NetworkFaults,
    /// A deliberate bug, to show that the checks catch one.
    pub sabotage: Option<Sabotage>,
}

/// Bugs the simulation can plant in its own schedulers, so that tests can
/// show the invariants fail when something is lost or run twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sabotage {
    /// Schedulers never acknowledge TASK_FINISHED.
    SkipAcknowledgements,
    /// A restarted scheduler forgets which TaskIDs it used and reuses them.
    ReuseTaskIds,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            agents: 3,
            frameworks: 2,
            tasks_per_framework: 12,
            agent_resources: "cpus:2;mem:1024".into(),
            faults: true,
            mean_fault_gap: Duration::from_secs(4),
            fault_time: Duration::from_secs(60),
            settle_time: Duration::from_secs(600),
            network: NetworkFaults {
                drop_request: 0.05,
                duplicate_request: 0.05,
                slow: 0.05,
            },
            sabotage: None,
        }
    }
}

impl NetworkFaults {
    /// A network that only delays.
    pub fn none() -> Self {
        Self {
            drop_request: 0.0,
            duplicate_request: 0.0,
            slow: 0.0,
        }
    }
}

/// How a run went.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Its seed.
    pub seed: u64,
    /// Steps taken (deliveries and timers).
    pub steps: u64,
    /// Simulated time at the end.
    pub simulated: Duration,
    /// Tasks launched.
    pub tasks: usize,
    /// Messages sent.
    pub messages: u64,
    /// Messages lost to drops and broken connections.
    pub lost: u64,
    /// A hash of every step and of what the frameworks saw: equal for two
    /// runs of one seed.
    pub fingerprint: u64,
    /// Broken invariants (empty: the run passed).
    pub violations: Vec<String>,
    /// The faults injected and other notable events.
    pub notes: Vec<String>,
    /// One line per step, when asked for.
    pub trace: Vec<String>,
}

/// Runs one seed.
pub fn run(seed: u64, config: &Config) -> Outcome {
    world::World::new(seed, config.clone()).run()
}

/// Runs one seed, keeping a line per step.
pub fn run_traced(seed: u64, config: &Config) -> Outcome {
    world::World::new(seed, config.clone()).with_trace().run()
}
