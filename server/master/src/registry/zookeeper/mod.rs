//! The registry of a group of masters, in ZooKeeper next to the masters'
//! `json.info_*` election nodes (clients only look at those):
//!
//! ```text
//! <group>/registry          RegistryIndex: layout, bucket count, last writer
//! <group>/registry/b-0000   Registry: the agents and frameworks hashing here
//! ...
//! <group>/registry/b-4095
//! ```
//!
//! Split so that no node nears ZooKeeper's 1 MB limit: 100,000 agents fit.
//! A write changes only the buckets its operations touch, in transactions
//! of at most [`layout::TRANSACTION_BYTES`] that also set the root node
//! with the version this master last saw. If another master has written
//! since (it was elected while this one was cut off), ZooKeeper refuses
//! the whole transaction with `BadVersion` and this master stops
//! ([`RegistryError::Fenced`]): a deposed leader never overwrites its
//! successor's registry.
//!
//! A connection blip in the middle of a write is not fatal: the client
//! reconnects within its session, and the root node (which names the last
//! writer and its write number) tells whether the write happened before
//! it is tried again. Reads are simply tried again. Only a lost session, or another writer, stops the
//! master.
//!
//! A registry written by the single-node layout before buckets is read
//! once and rewritten in buckets.
//!
//! Reading every bucket takes ZooKeeper a while (0.3 s for 4,096 here,
//! however empty), and a new leader used to do it after its election. A
//! master that follows keeps a copy instead ([`ZooKeeperStore::stand_by`]),
//! read again whenever the root node has changed; elected, it reads the
//! root node only, and if that is as it was when the copy was read (same
//! `mzxid` and version: no write since, as every write sets the root), the
//! copy is the registry.

mod layout;

use std::collections::BTreeSet;
use std::time::Duration;

use meseta_coordination::zookeeper::{connect_with_timeout, ensure_path, ZkUrl};
use meseta_proto::registry::{Operation, Registry, RegistryIndex};
use prost::Message;
use zookeeper_client::{Acls, Client, CreateMode, MultiWriteError};

pub use layout::{BUCKETS, TRANSACTION_BYTES};

use super::{RegistryError, RegistryState};

/// How long a write keeps retrying through connection loss.
const RETRY_FOR: Duration = Duration::from_secs(30);
/// Recoveries tried while a deposed leader may still be writing.
const RECOVERY_ATTEMPTS: usize = 5;

/// The registry in a ZooKeeper group.
pub struct ZooKeeperStore {
    client: Client,
    root: String,
    /// The root node's version as this master last read or wrote it.
    version: Option<i32>,
    buckets: u32,
    state: RegistryState,
    /// Names this store's writes in the root node.
    writer: String,
    sequence: u64,
    /// The registry as read while following.
    standby: Option<Box<StandbyCopy>>,
}

/// A whole registry read while following, and the root node's state it
/// was read at.
struct StandbyCopy {
    /// The root node's `(mzxid, version)`.
    read_at: (i64, i32),
    buckets: u32,
    state: RegistryState,
}

fn zk(error: impl std::fmt::Display) -> RegistryError {
    RegistryError::ZooKeeper(error.to_string())
}

fn corrupt(path: &str, error: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt {
        path: path.to_string(),
        reason: error.to_string(),
    }
}

/// Errors after which the outcome of a request is unknown but the session
/// may still be good: the connection was lost, or the client gave up on it
/// (`Custom`: e.g. "no response from connection in 800ms" when a loaded
/// server stalls; the client reconnects within the session).
fn connection_blip(error: &zookeeper_client::Error) -> bool {
    matches!(
        error,
        zookeeper_client::Error::ConnectionLoss
            | zookeeper_client::Error::Timeout
            | zookeeper_client::Error::Custom(_)
    )
}

/// Runs `request` (one that may be sent again: a read, or creating nodes
/// that may exist) again through connection blips for up to [`RETRY_FOR`];
/// a session that ends fails it for good.
async fn through_blips<T, F, R>(node: &str, mut request: F) -> Result<T, zookeeper_client::Error>
where
    F: FnMut() -> R,
    R: std::future::Future<Output = Result<T, zookeeper_client::Error>>,
{
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    let mut pause = Duration::from_millis(50);
    loop {
        match request().await {
            Err(error) if connection_blip(&error) && tokio::time::Instant::now() < deadline => {
                tracing::debug!(%error, node, ?pause, "a registry request was interrupted; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            done => return done,
        }
    }
}

impl ZooKeeperStore {
    /// Connects to the group's servers; the registry lives at `<path>/registry`.
    pub async fn connect(url: &ZkUrl, session_timeout: Duration) -> Result<Self, RegistryError> {
        let client = connect_with_timeout(&url.servers, session_timeout)
            .await
            .map_err(zk)?;
        Ok(Self {
            client,
            root: format!("{}/registry", url.path.trim_end_matches('/')),
            version: None,
            buckets: BUCKETS,
            state: RegistryState::default(),
            writer: uuid::Uuid::new_v4().to_string(),
            sequence: 0,
            standby: None,
        })
    }

    /// The registry's root znode.
    pub fn node(&self) -> &str {
        &self.root
    }

    /// Reads the registry, creating an empty one on first use (and
    /// rewriting one of the single-node layout in buckets).
    pub async fn recover(&mut self) -> Result<RegistryState, RegistryError> {
        let parent = self.root.rsplit_once('/').map_or("", |(p, _)| p);
        through_blips(parent, || ensure_path(&self.client, parent))
            .await
            .map_err(zk)?;
        for _ in 0..RECOVERY_ATTEMPTS {
            let (bytes, stat) = match self.read(&self.root).await {
                Ok(found) => found,
                Err(zookeeper_client::Error::NoNode) => {
                    self.create_empty().await?;
                    continue;
                }
                Err(error) => return Err(zk(error)),
            };
            let Some(index) = layout::read_index(&bytes) else {
                let old = Registry::decode(bytes.as_slice()).map_err(|e| corrupt(&self.root, e))?;
                self.migrate(RegistryState::from_proto(old), stat.version)
                    .await?;
                continue;
            };
            let buckets = index.buckets.unwrap_or(BUCKETS).max(1);
            let standby = self.standby.take().filter(|copy| {
                copy.read_at == (stat.mzxid, stat.version) && copy.buckets == buckets
            });
            let read_while_following = standby.is_some();
            let state = match standby {
                Some(copy) => copy.state,
                None => {
                    let state = self.read_buckets(buckets).await?;
                    // A deposed leader may have written meanwhile: read again.
                    let (_, after) = self.read(&self.root).await.map_err(zk)?;
                    if after.version != stat.version {
                        continue;
                    }
                    state
                }
            };
            self.buckets = buckets;
            self.version = Some(stat.version);
            self.sequence = index.sequence.unwrap_or(0);
            self.state = state;
            tracing::info!(
                node = %self.root,
                version = stat.version,
                buckets,
                agents = self.state.agents.len(),
                unreachable = self.state.unreachable.len(),
                gone = self.state.gone.len(),
                frameworks = self.state.frameworks.len(),
                read_while_following,
                "recovered the registry from ZooKeeper"
            );
            return Ok(self.state.clone());
        }
        Err(zk("the registry kept changing while it was read"))
    }

    /// While following: reads the whole registry if it changed since the
    /// copy kept (one read of the root node if not), for a quick
    /// [`recover`](Self::recover) when elected.
    pub async fn stand_by(&mut self) -> Result<(), RegistryError> {
        let (bytes, stat) = match self.read(&self.root).await {
            Ok(found) => found,
            Err(zookeeper_client::Error::NoNode) => return Ok(()),
            Err(error) => return Err(zk(error)),
        };
        let read_at = (stat.mzxid, stat.version);
        if self
            .standby
            .as_ref()
            .is_some_and(|copy| copy.read_at == read_at)
        {
            return Ok(());
        }
        // The single-node layout is rewritten by the next leader first.
        let Some(index) = layout::read_index(&bytes) else {
            return Ok(());
        };
        let buckets = index.buckets.unwrap_or(BUCKETS).max(1);
        let state = self.read_buckets(buckets).await?;
        let (_, after) = self.read(&self.root).await.map_err(zk)?;
        self.standby = ((after.mzxid, after.version) == read_at).then_some(Box::new(StandbyCopy {
            read_at,
            buckets,
            state,
        }));
        Ok(())
    }

    /// A node's data, read again through connection blips.
    async fn read(
        &self,
        node: &str,
    ) -> Result<(Vec<u8>, zookeeper_client::Stat), zookeeper_client::Error> {
        through_blips(node, || self.client.get_data(node)).await
    }

    /// Every bucket's contents, read concurrently.
    async fn read_buckets(&self, buckets: u32) -> Result<RegistryState, RegistryError> {
        let reads = (0..buckets).map(|bucket| {
            let node = layout::bucket_node(&self.root, bucket);
            async move {
                let read = self.read(&node).await;
                (node, read)
            }
        });
        let mut state = RegistryState::default();
        for (node, read) in futures::future::join_all(reads).await {
            match read {
                Ok((bytes, _)) => {
                    let part = Registry::decode(bytes.as_slice()).map_err(|e| corrupt(&node, e))?;
                    layout::merge_bucket(&mut state, part);
                }
                Err(zookeeper_client::Error::NoNode) => {
                    return Err(corrupt(&node, "a bucket of the registry is missing"))
                }
                Err(error) => return Err(zk(error)),
            }
        }
        Ok(state)
    }

    /// Creates the root node and empty buckets in one transaction (another
    /// master doing the same at once is fine).
    async fn create_empty(&mut self) -> Result<(), RegistryError> {
        let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
        let deadline = tokio::time::Instant::now() + RETRY_FOR;
        let mut pause = Duration::from_millis(50);
        loop {
            let index = self.next_index().encode_to_vec();
            let mut writer = self.client.new_multi_writer();
            writer
                .add_create(&self.root, &index, &options)
                .map_err(zk)?;
            for bucket in 0..self.buckets {
                let node = layout::bucket_node(&self.root, bucket);
                writer.add_create(&node, &[], &options).map_err(zk)?;
            }
            // Created before the blip, the nodes exist when it is tried again.
            match writer.commit().await {
                Ok(_)
                | Err(MultiWriteError::OperationFailed {
                    source: zookeeper_client::Error::NodeExists,
                    ..
                }) => return Ok(()),
                Err(MultiWriteError::RequestFailed { source })
                    if connection_blip(&source) && tokio::time::Instant::now() < deadline =>
                {
                    tracing::warn!(error = %source, ?pause, "creating the registry was interrupted; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(error) => return Err(zk(error)),
            }
        }
    }

    /// Rewrites a single-node registry in buckets, fenced on the root
    /// node's `version`.
    async fn migrate(&mut self, old: RegistryState, version: i32) -> Result<(), RegistryError> {
        tracing::info!(node = %self.root, agents = old.agents.len(), "rewriting the registry in buckets");
        let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
        for bucket in 0..self.buckets {
            let node = layout::bucket_node(&self.root, bucket);
            match through_blips(&node, || self.client.create(&node, &[], &options)).await {
                Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
                Err(error) => return Err(zk(error)),
            }
        }
        self.state = old;
        self.version = Some(version);
        let all: BTreeSet<u32> = (0..self.buckets).collect();
        self.write(&all).await
    }

    /// Durably applies `operations`, if nobody else wrote since this master
    /// last read or wrote.
    pub async fn apply(&mut self, operations: &[Operation]) -> Result<(), RegistryError> {
        if self.version.is_none() {
            self.recover().await?;
        }
        operations.iter().for_each(|op| self.state.apply(op));
        let changed = layout::changed_buckets(operations, self.buckets);
        self.write(&changed).await
    }

    /// Writes the buckets in `changed` from the state.
    async fn write(&mut self, changed: &BTreeSet<u32>) -> Result<(), RegistryError> {
        let encoded = layout::encode_buckets(&self.state, changed, self.buckets);
        if let Some((_, bytes)) = encoded.iter().find(|(_, b)| b.len() > TRANSACTION_BYTES) {
            return Err(RegistryError::TooLarge {
                bytes: bytes.len(),
                limit: TRANSACTION_BYTES,
            });
        }
        for group in layout::transactions(encoded) {
            self.commit(&group).await?;
        }
        Ok(())
    }

    fn next_index(&mut self) -> RegistryIndex {
        self.sequence += 1;
        RegistryIndex {
            layout: Some(layout::LAYOUT),
            buckets: Some(self.buckets),
            writer: Some(self.writer.clone()),
            sequence: Some(self.sequence),
        }
    }

    /// One transaction: the root node (fenced on its version) and `group`'s
    /// buckets; retried through connection loss.
    async fn commit(&mut self, group: &[(u32, Vec<u8>)]) -> Result<(), RegistryError> {
        let deadline = tokio::time::Instant::now() + RETRY_FOR;
        let mut pause = Duration::from_millis(50);
        loop {
            let index = self.next_index();
            let mut writer = self.client.new_multi_writer();
            writer
                .add_set_data(&self.root, &index.encode_to_vec(), self.version)
                .map_err(zk)?;
            for (bucket, bytes) in group {
                let node = layout::bucket_node(&self.root, *bucket);
                writer.add_set_data(&node, bytes, None).map_err(zk)?;
            }
            let error = match writer.commit().await {
                Ok(results) => {
                    if let Some(zookeeper_client::MultiWriteResult::SetData { stat }) =
                        results.first()
                    {
                        self.version = Some(stat.version);
                    }
                    return Ok(());
                }
                Err(MultiWriteError::OperationFailed {
                    index: 0,
                    source: zookeeper_client::Error::BadVersion,
                }) => return Err(RegistryError::Fenced(self.root.clone())),
                Err(MultiWriteError::RequestFailed { source }) if connection_blip(&source) => {
                    source
                }
                Err(error) => return Err(zk(error)),
            };
            // The write may or may not have happened: the root node says.
            if self.landed(&index).await? {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(zk(format!("cannot write the registry: {error}")));
            }
            tracing::warn!(%error, ?pause, "a registry write was interrupted; trying again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// After an interrupted write: whether it landed (the root node names
    /// it), did not (the root node is as this master left it), or another
    /// master wrote (fenced).
    async fn landed(&mut self, index: &RegistryIndex) -> Result<bool, RegistryError> {
        let deadline = tokio::time::Instant::now() + RETRY_FOR;
        loop {
            match self.client.get_data(&self.root).await {
                Ok((bytes, stat)) => {
                    if Some(stat.version) == self.version {
                        return Ok(false);
                    }
                    if layout::read_index(&bytes).as_ref() == Some(index) {
                        self.version = Some(stat.version);
                        return Ok(true);
                    }
                    return Err(RegistryError::Fenced(self.root.clone()));
                }
                Err(error) if connection_blip(&error) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(zk(error));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => return Err(zk(error)),
            }
        }
    }
}
