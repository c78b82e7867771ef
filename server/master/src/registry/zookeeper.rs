//! The registry of a group of masters: one persistent znode,
//! `<zk path>/registry`, holding the whole [`Registry`] next to the
//! masters' `json.info_*` election nodes (clients only look at those).
//!
//! Every write carries the version the leader last read or wrote. If
//! another master has written since — it was elected while this one was
//! cut off — ZooKeeper refuses the write with `BadVersion` and this master
//! stops ([`RegistryError::Fenced`]): a deposed leader can never overwrite
//! its successor's registry.
//!
//! A znode holds at most about 1 MB (ZooKeeper's `jute.maxbuffer`); a write
//! that would exceed it fails with [`RegistryError::TooLarge`] rather than
//! being cut. That is a few thousand agents; splitting the registry over
//! several nodes is the next step when clusters grow past it.

use std::time::Duration;

use meseta_coordination::zookeeper::{connect_with_timeout, ensure_path, ZkUrl};
use meseta_proto::registry::{Operation, Registry};
use prost::Message;
use zookeeper_client::{Acls, Client, CreateMode};

use super::{RegistryError, RegistryState};

/// Largest registry written to one node (ZooKeeper's default limit, less
/// room for the request's own framing).
pub const NODE_LIMIT: usize = 1_000_000;

/// The registry in a ZooKeeper group.
pub struct ZooKeeperStore {
    client: Client,
    node: String,
    version: Option<i32>,
    state: RegistryState,
}

fn zk(error: impl std::fmt::Display) -> RegistryError {
    RegistryError::ZooKeeper(error.to_string())
}

impl ZooKeeperStore {
    /// Connects to the group's servers; the registry lives at `<path>/registry`.
    pub async fn connect(url: &ZkUrl, session_timeout: Duration) -> Result<Self, RegistryError> {
        let client = connect_with_timeout(&url.servers, session_timeout)
            .await
            .map_err(zk)?;
        Ok(Self {
            client,
            node: format!("{}/registry", url.path.trim_end_matches('/')),
            version: None,
            state: RegistryState::default(),
        })
    }

    /// The registry's znode.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Reads the registry, creating an empty one on first use.
    pub async fn recover(&mut self) -> Result<RegistryState, RegistryError> {
        let parent = self.node.rsplit_once('/').map_or("", |(p, _)| p);
        ensure_path(&self.client, parent).await.map_err(zk)?;
        loop {
            match self.client.get_data(&self.node).await {
                Ok((bytes, stat)) => {
                    let registry =
                        Registry::decode(bytes.as_slice()).map_err(|e| RegistryError::Corrupt {
                            path: self.node.clone(),
                            reason: e.to_string(),
                        })?;
                    self.state = RegistryState::from_proto(registry);
                    self.version = Some(stat.version);
                    tracing::info!(
                        node = %self.node,
                        version = stat.version,
                        agents = self.state.agents.len(),
                        unreachable = self.state.unreachable.len(),
                        gone = self.state.gone.len(),
                        frameworks = self.state.frameworks.len(),
                        "recovered the registry from ZooKeeper"
                    );
                    return Ok(self.state.clone());
                }
                Err(zookeeper_client::Error::NoNode) => {
                    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
                    match self.client.create(&self.node, &[], &options).await {
                        Ok(_) | Err(zookeeper_client::Error::NodeExists) => continue,
                        Err(error) => return Err(zk(error)),
                    }
                }
                Err(error) => return Err(zk(error)),
            }
        }
    }

    /// Writes the registry with `operations` applied, if nobody else wrote since.
    pub async fn apply(&mut self, operations: &[Operation]) -> Result<(), RegistryError> {
        if self.version.is_none() {
            self.recover().await?;
        }
        let mut next = self.state.clone();
        operations.iter().for_each(|op| next.apply(op));
        let bytes = next.to_proto().encode_to_vec();
        if bytes.len() > NODE_LIMIT {
            return Err(RegistryError::TooLarge {
                bytes: bytes.len(),
                limit: NODE_LIMIT,
            });
        }
        match self.client.set_data(&self.node, &bytes, self.version).await {
            Ok(stat) => {
                self.version = Some(stat.version);
                self.state = next;
                Ok(())
            }
            Err(zookeeper_client::Error::BadVersion) => {
                Err(RegistryError::Fenced(self.node.clone()))
            }
            Err(error) => Err(zk(error)),
        }
    }
}
