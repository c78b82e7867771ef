//! The registry: the part of the master's state that must survive the
//! master itself — admitted, unreachable and gone agents, and the frameworks
//! that subscribed (their `FrameworkInfo`, so failover timeouts still hold
//! after a master failover).
//!
//! The state machine never waits for storage: it emits
//! [`Action::Persist`](crate::state::Action::Persist) before the action that
//! acknowledges a change (the agent's `Registered`, the framework's
//! `SUBSCRIBED`), and the driver loop writes every operation of a batch with
//! one [`Store::apply`] before it sends anything of that batch. So nothing
//! acknowledged is ever missing from the registry, and a burst of agent
//! registrations costs one write, not one per agent.
//!
//! A newly elected (or restarted) master reads the registry with
//! [`Store::recover`] before it accepts any agent or framework. Task state
//! is deliberately not stored: agents report their tasks when they
//! re-register, as in Mesos.
//!
//! Stores:
//! * [`file::FileStore`] (one master): a snapshot plus an append-only,
//!   checksummed log of operations in the master's work dir, guarded by an
//!   exclusive lock so two masters cannot share it;
//! * [`zookeeper::ZooKeeperStore`] (several masters): buckets of agents and
//!   frameworks under one root znode, written in transactions that check
//!   the root's version, so a deposed leader's write fails instead of
//!   overwriting its successor's;
//! * memory (`--registry=in_memory`): nothing survives the process, as with
//!   Mesos's flag of the same name.

pub mod file;
pub mod zookeeper;

use std::collections::BTreeMap;
use std::time::Duration;

use meseta_proto::quota::QuotaConfig;
use meseta_proto::registry::{
    operation::Kind, AdmittedAgent, FrameworkRecord, GoneAgent, Maintenance, Operation, Registry,
    UnreachableAgent,
};
use meseta_proto::v1;

/// Why the registry could not be read or written. Any of these stops the
/// leading master: it cannot acknowledge anything it cannot persist.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A file could not be read or written.
    #[error("registry file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Stored bytes do not decode.
    #[error("registry at {path} is corrupt: {reason}")]
    Corrupt {
        /// Where.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Another master holds the local registry.
    #[error("the registry in {path} is locked by another master process")]
    Locked {
        /// The lock file.
        path: String,
    },
    /// ZooKeeper failed or could not be reached.
    #[error("ZooKeeper registry: {0}")]
    ZooKeeper(String),
    /// Another master wrote the registry since this one read it: this
    /// master no longer leads and must not write again.
    #[error("another master updated the registry at {0}; this master is no longer the leader")]
    Fenced(String),
    /// A part of the registry outgrew what one write may hold.
    #[error("a part of the registry ({bytes} bytes) exceeds the size limit of one write ({limit} bytes)")]
    TooLarge {
        /// Encoded size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}

/// The registry in memory, indexed by ID. [`RegistryState::apply`] is
/// idempotent for every operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistryState {
    /// Admitted agents by ID.
    pub agents: BTreeMap<String, v1::AgentInfo>,
    /// Unreachable agents by ID: last info and when (since the epoch).
    pub unreachable: BTreeMap<String, (v1::AgentInfo, Duration)>,
    /// Gone agents by ID, and since when.
    pub gone: BTreeMap<String, Duration>,
    /// Subscribed frameworks by ID.
    pub frameworks: BTreeMap<String, v1::FrameworkInfo>,
    /// Role weights as last set, by role (an empty map: never set).
    pub weights: BTreeMap<String, f64>,
    /// Role quotas set, by role.
    pub quotas: BTreeMap<String, QuotaConfig>,
    /// The maintenance schedule and the machines down.
    pub maintenance: Maintenance,
}

fn agent_id(info: &v1::AgentInfo) -> String {
    info.id
        .as_ref()
        .map(|id| id.value.clone())
        .unwrap_or_default()
}

/// A role's weight as Mesos's messages carry it.
pub(crate) fn weight_info(role: &str, weight: f64) -> v1::WeightInfo {
    v1::WeightInfo {
        role: Some(role.to_string()),
        weight,
    }
}

fn nanos(since: Duration) -> i64 {
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

fn from_nanos(nanos: i64) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

impl RegistryState {
    /// Applies one operation.
    pub fn apply(&mut self, operation: &Operation) {
        let Some(kind) = &operation.kind else { return };
        match kind {
            Kind::AdmitAgent(info) => {
                let id = agent_id(info);
                self.unreachable.remove(&id);
                self.gone.remove(&id);
                self.agents.insert(id, info.clone());
            }
            Kind::MarkUnreachable(entry) => {
                let id = agent_id(&entry.info);
                self.agents.remove(&id);
                self.unreachable
                    .insert(id, (entry.info.clone(), from_nanos(entry.since_nanos)));
            }
            Kind::MarkReachable(info) => {
                let id = agent_id(info);
                self.unreachable.remove(&id);
                self.agents.insert(id, info.clone());
            }
            Kind::MarkGone(entry) => {
                let id = entry.id.value.clone();
                self.agents.remove(&id);
                self.unreachable.remove(&id);
                self.gone.insert(id, from_nanos(entry.since_nanos));
            }
            Kind::SaveFramework(info) => {
                if let Some(id) = &info.id {
                    self.frameworks.insert(id.value.clone(), info.clone());
                }
            }
            Kind::RemoveFramework(id) => {
                self.frameworks.remove(&id.value);
            }
            Kind::SetWeight(info) => {
                let role = info.role.clone().unwrap_or_default();
                self.weights.insert(role, info.weight);
            }
            Kind::SetMaintenance(maintenance) => {
                self.maintenance = maintenance.clone();
            }
            Kind::SetQuota(config) => {
                if config.guarantees.is_empty() && config.limits.is_empty() {
                    self.quotas.remove(&config.role);
                } else {
                    self.quotas.insert(config.role.clone(), config.clone());
                }
            }
        }
    }

    /// The stored form.
    pub fn to_proto(&self) -> Registry {
        Registry {
            agents: self
                .agents
                .values()
                .map(|info| AdmittedAgent { info: info.clone() })
                .collect(),
            unreachable: self
                .unreachable
                .values()
                .map(|(info, since)| UnreachableAgent {
                    info: info.clone(),
                    since_nanos: nanos(*since),
                })
                .collect(),
            gone: self
                .gone
                .iter()
                .map(|(id, since)| GoneAgent {
                    id: v1::AgentId { value: id.clone() },
                    since_nanos: nanos(*since),
                })
                .collect(),
            frameworks: self
                .frameworks
                .values()
                .map(|info| FrameworkRecord { info: info.clone() })
                .collect(),
            weights: self
                .weights
                .iter()
                .map(|(role, weight)| weight_info(role, *weight))
                .collect(),
            quota_configs: self.quotas.values().cloned().collect(),
            maintenance: (self.maintenance != Maintenance::default())
                .then(|| self.maintenance.clone()),
        }
    }

    /// Rebuilds the state from its stored form.
    pub fn from_proto(registry: Registry) -> Self {
        let mut state = Self::default();
        for agent in registry.agents {
            state.agents.insert(agent_id(&agent.info), agent.info);
        }
        for entry in registry.unreachable {
            state.unreachable.insert(
                agent_id(&entry.info),
                (entry.info, from_nanos(entry.since_nanos)),
            );
        }
        for entry in registry.gone {
            state
                .gone
                .insert(entry.id.value, from_nanos(entry.since_nanos));
        }
        for record in registry.frameworks {
            if let Some(id) = record.info.id.clone() {
                state.frameworks.insert(id.value, record.info);
            }
        }
        for info in registry.weights {
            state
                .weights
                .insert(info.role.unwrap_or_default(), info.weight);
        }
        for config in registry.quota_configs {
            state.quotas.insert(config.role.clone(), config);
        }
        state.maintenance = registry.maintenance.unwrap_or_default();
        state
    }
}

/// Operations the state machine asks the shell to persist.
pub mod ops {
    use super::*;

    fn op(kind: Kind) -> Operation {
        Operation { kind: Some(kind) }
    }

    /// Admit an agent (or update an admitted agent's info).
    pub fn admit_agent(info: &v1::AgentInfo) -> Operation {
        op(Kind::AdmitAgent(info.clone()))
    }

    /// An agent became unreachable at `since`.
    pub fn mark_unreachable(info: &v1::AgentInfo, since: Duration) -> Operation {
        op(Kind::MarkUnreachable(UnreachableAgent {
            info: info.clone(),
            since_nanos: nanos(since),
        }))
    }

    /// An unreachable agent came back.
    pub fn mark_reachable(info: &v1::AgentInfo) -> Operation {
        op(Kind::MarkReachable(info.clone()))
    }

    /// An agent is gone for good.
    pub fn mark_gone(agent_id: &str, since: Duration) -> Operation {
        op(Kind::MarkGone(GoneAgent {
            id: v1::AgentId {
                value: agent_id.to_string(),
            },
            since_nanos: nanos(since),
        }))
    }

    /// A framework subscribed or changed its info.
    pub fn save_framework(info: &v1::FrameworkInfo) -> Operation {
        op(Kind::SaveFramework(info.clone()))
    }

    /// A framework was removed.
    pub fn remove_framework(framework_id: &str) -> Operation {
        op(Kind::RemoveFramework(v1::FrameworkId {
            value: framework_id.to_string(),
        }))
    }

    /// A role's weight was set.
    pub fn set_weight(role: &str, weight: f64) -> Operation {
        op(Kind::SetWeight(weight_info(role, weight)))
    }

    /// The maintenance schedule or the machines down changed.
    pub fn set_maintenance(maintenance: &Maintenance) -> Operation {
        op(Kind::SetMaintenance(maintenance.clone()))
    }

    /// A role's quota was set (or, without guarantees and limits, removed).
    pub fn set_quota(config: &QuotaConfig) -> Operation {
        op(Kind::SetQuota(config.clone()))
    }
}

/// Where the registry lives.
pub enum Store {
    /// Nothing persists (`--registry=in_memory`).
    Memory(RegistryState),
    /// Files in the master's work dir.
    File(file::FileStore),
    /// Znodes shared by the masters of one ZooKeeper group.
    ZooKeeper(zookeeper::ZooKeeperStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory(_) => f.write_str("Store::Memory"),
            Self::File(store) => write!(f, "Store::File({})", store.dir().display()),
            Self::ZooKeeper(store) => write!(f, "Store::ZooKeeper({})", store.node()),
        }
    }
}

impl Store {
    /// An empty in-memory registry.
    pub fn memory() -> Self {
        Self::Memory(RegistryState::default())
    }

    /// Reads the latest registry (a new leader calls this before anything else).
    pub async fn recover(&mut self) -> Result<RegistryState, RegistryError> {
        match self {
            Self::Memory(state) => Ok(state.clone()),
            Self::File(store) => store.recover(),
            Self::ZooKeeper(store) => store.recover().await,
        }
    }

    /// While following: keeps a copy of a shared registry current, so that
    /// an election finds it read (a local registry has nothing to share).
    pub async fn stand_by(&mut self) -> Result<(), RegistryError> {
        match self {
            Self::ZooKeeper(store) => store.stand_by().await,
            Self::Memory(_) | Self::File(_) => Ok(()),
        }
    }

    /// Durably applies `operations`, in order, as one write.
    pub async fn apply(&mut self, operations: &[Operation]) -> Result<(), RegistryError> {
        if operations.is_empty() {
            return Ok(());
        }
        match self {
            Self::Memory(state) => {
                operations.iter().for_each(|op| state.apply(op));
                Ok(())
            }
            Self::File(store) => store.apply(operations),
            Self::ZooKeeper(store) => store.apply(operations).await,
        }
    }
}

#[cfg(test)]
mod tests;
