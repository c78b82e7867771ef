//! Master settings, shared by the state machine and the shell.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the master needs to start. Defaults match Mesos's.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// Address to bind (HTTP API and the agents' gRPC endpoint share one port).
    pub ip: IpAddr,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Hostname to advertise; defaults to the IP.
    pub hostname: Option<String>,
    /// Where the master keeps its state.
    pub work_dir: PathBuf,
    /// Human name of the cluster, shown in `/master/state`.
    pub cluster: Option<String>,
    /// Settings of the state machine.
    pub settings: Settings,
    /// How often the allocator runs when nothing else triggers it.
    pub allocation_interval: Duration,
    /// Offer agents with GPUs only to frameworks with the `GPU_RESOURCES`
    /// capability (Mesos's `--filter_gpu_resources`).
    pub filter_gpu_resources: bool,
    /// Start as the leader (a lone master); `false` when an election decides.
    pub start_as_leader: bool,
    /// Where the registry lives.
    pub registry: RegistryConfig,
    /// The flags the master was started with, by Mesos's names (`/master/state`'s
    /// `flags`, the operator API's GET_FLAGS).
    pub flags: BTreeMap<String, String>,
    /// How the operator API reads and sets the log verbosity (none: the
    /// process owns no logging the master may change).
    pub verbosity: Option<meseta_proto::verbosity::VerbosityControl>,
    /// The file the master's log is written to (`--log-dir`), served at
    /// `/master/log`.
    pub log_file: Option<PathBuf>,
}

/// Where the master keeps its registry (see [`crate::registry`]).
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryConfig {
    /// Nowhere: a restarted master forgets its agents and frameworks.
    InMemory,
    /// Files in the work dir (`<work_dir>/registry/`); one master only.
    Local,
    /// A znode in the masters' ZooKeeper group.
    ZooKeeper {
        /// The group (`zk://…/PATH`); the registry is `PATH/registry`.
        url: String,
        /// Session timeout of the registry's ZooKeeper connection.
        session_timeout: Duration,
    },
}

/// Knobs of the state machine.
#[derive(Debug, Clone)]
pub struct Settings {
    /// HEARTBEAT events to frameworks are this far apart.
    pub heartbeat_interval: Duration,
    /// How often agents are pinged; a ping unanswered this long is a miss.
    pub agent_ping_timeout: Duration,
    /// Consecutive missed pings before an agent is marked unreachable.
    pub max_agent_ping_timeouts: u32,
    /// Filter applied when a framework declines or leaves resources unused
    /// without saying for how long (Mesos's `Filters.refuse_seconds` default).
    pub default_refuse: Duration,
    /// Completed tasks kept per framework for the endpoints.
    pub max_completed_tasks_per_framework: usize,
    /// Completed frameworks kept for the endpoints.
    pub max_completed_frameworks: usize,
    /// After a failover or restart, how long an agent in the registry has to
    /// re-register before it is marked unreachable.
    pub agent_reregister_timeout: Duration,
    /// Offers a framework holds longer than this are rescinded, and their
    /// resources offered again (Mesos's `--offer_timeout`); `None`: never.
    pub offer_timeout: Option<Duration>,
    /// Role weights for a cluster whose registry holds none yet (Mesos's
    /// `--weights`): the first leader writes them there; after that the
    /// registry's, changed through UPDATE_WEIGHTS, are the ones in force.
    pub weights: BTreeMap<String, f64>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(15),
            agent_ping_timeout: Duration::from_secs(15),
            max_agent_ping_timeouts: 5,
            default_refuse: Duration::from_secs(5),
            max_completed_tasks_per_framework: 1000,
            max_completed_frameworks: 50,
            agent_reregister_timeout: Duration::from_secs(600),
            offer_timeout: None,
            weights: BTreeMap::new(),
        }
    }
}

impl Default for MasterConfig {
    fn default() -> Self {
        Self {
            ip: IpAddr::from([127, 0, 0, 1]),
            port: 5050,
            hostname: None,
            work_dir: PathBuf::from("/var/lib/meseta/master"),
            cluster: None,
            settings: Settings::default(),
            allocation_interval: Duration::from_secs(1),
            filter_gpu_resources: true,
            start_as_leader: true,
            registry: RegistryConfig::Local,
            flags: BTreeMap::new(),
            verbosity: None,
            log_file: None,
        }
    }
}
