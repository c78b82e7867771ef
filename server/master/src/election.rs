//! Leader election through ZooKeeper, in Mesos's layout: each master holds
//! an ephemeral sequential node `<path>/json.info_<seq>` with its
//! `MasterInfo` as JSON, and the lowest sequence leads. Existing Mesos
//! clients (pymesos's detector, for one) find the leader from the same
//! nodes.
//!
//! A master that loses its ZooKeeper session, or its node, stops contending
//! and [`contend`] returns an error: the process exits and its supervisor
//! restarts it, as Mesos masters do. Stepping down that way guarantees it
//! never acts on state another leader may have changed. A master cut off
//! from ZooKeeper cannot learn that its session expired, so it assumes so
//! once it has been disconnected for a whole session timeout: by then the
//! servers have expired the session and another master may lead.
//!
//! Before a master starts leading it reads the registry
//! ([`MasterHandle::recover`]); only then does it accept agents and
//! schedulers.

use std::time::Duration;

use meseta_coordination::zookeeper::{self, ZkUrl, CONTENDER_PREFIX};
use meseta_proto::v1;
use zookeeper_client::{Acls, CreateMode, SessionState};

use crate::handle::MasterHandle;
use crate::leadership::Leadership;

/// Why a master stopped contending.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    /// ZooKeeper could not be reached or answered an error.
    #[error("ZooKeeper error: {0}")]
    ZooKeeper(String),
    /// The session expired or closed: this master may no longer lead.
    #[error("lost the ZooKeeper session ({0:?}); stepping down")]
    SessionLost(SessionState),
    /// Our contender node disappeared.
    #[error("our contender node {0} disappeared; stepping down")]
    NodeLost(String),
    /// Disconnected from ZooKeeper for longer than the session timeout.
    #[error("disconnected from ZooKeeper for {0:?}, the session timeout; stepping down")]
    Disconnected(Duration),
    /// The registry could not be read when this master was elected.
    #[error("elected, but cannot recover the registry: {0}")]
    Registry(#[from] crate::registry::RegistryError),
}

fn zk(error: impl std::fmt::Display) -> ElectionError {
    ElectionError::ZooKeeper(error.to_string())
}

/// Contends for leadership until the session is lost, updating the master's
/// [`Leadership`] as the group changes. Returns only on failure.
pub async fn contend(url: ZkUrl, session_timeout: Duration, handle: MasterHandle) -> ElectionError {
    match run(&url, session_timeout, &handle).await {
        Ok(never) => match never {},
        Err(error) => {
            handle.set_leadership(Leadership::Following(None));
            error
        }
    }
}

async fn run(
    url: &ZkUrl,
    session_timeout: Duration,
    handle: &MasterHandle,
) -> Result<std::convert::Infallible, ElectionError> {
    let client = zookeeper::connect_with_timeout(&url.servers, session_timeout)
        .await
        .map_err(zk)?;
    let mut session = client.state_watcher();
    zookeeper::ensure_path(&client, &url.path)
        .await
        .map_err(zk)?;
    let info: &v1::MasterInfo = handle.info();
    let data = meseta_proto::json::to_vec(info);
    let options = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
    let prefix = format!("{}/{}", url.path, CONTENDER_PREFIX);
    let (_, sequence) = client.create(&prefix, &data, &options).await.map_err(zk)?;
    let ours = format!("{CONTENDER_PREFIX}{sequence}");
    tracing::info!(node = %format!("{}/{ours}", url.path), "contending for leadership");
    let mut vanished = 0u32;
    let mut failures = 0u32;
    loop {
        let (children, watcher, leader) = match observe(&client, &url.path).await {
            Ok(observed) => {
                vanished = 0;
                failures = 0;
                observed
            }
            Err(zookeeper_client::Error::SessionExpired) => {
                return Err(ElectionError::SessionLost(SessionState::Expired))
            }
            // A lost connection (reported as ConnectionLoss or as the
            // socket's own error) is not a lost session: wait for it to come
            // back, as long as the session can still be alive. An error that
            // survives reconnecting a few times is real.
            Err(error) if failures < 3 && !matches!(error, zookeeper_client::Error::NoNode) => {
                failures += 1;
                tracing::warn!(%error, ?session_timeout, "ZooKeeper call failed; waiting for the connection");
                // Let the session notice a broken socket before asking it.
                tokio::time::sleep(Duration::from_millis(100)).await;
                wait_for_reconnection(&mut session, session_timeout).await?;
                continue;
            }
            // The leader's node went away between listing and reading it.
            Err(zookeeper_client::Error::NoNode) if vanished < 20 => {
                vanished += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(error) => return Err(zk(error)),
        };
        if !children.contains(&ours) {
            return Err(ElectionError::NodeLost(ours));
        }
        let leading = zookeeper::leading_node(&children).cloned();
        if leading.as_deref() == Some(ours.as_str()) {
            if handle.leadership() != Leadership::Leading {
                tracing::info!("elected leading master; recovering the registry");
                handle.set_leadership(Leadership::Recovering);
                handle.recover().await?;
                handle.set_leadership(Leadership::Leading);
            }
        } else {
            if handle.leadership() == Leadership::Leading {
                return Err(ElectionError::NodeLost(ours));
            }
            handle.set_leadership(Leadership::Following(leader));
        }
        let mut watch = std::pin::pin!(watcher.changed());
        loop {
            tokio::select! {
                _ = &mut watch => break,
                state = session.changed() => match state {
                    SessionState::Expired | SessionState::Closed | SessionState::AuthFailed => {
                        return Err(ElectionError::SessionLost(state));
                    }
                    SessionState::Disconnected => {
                        tracing::warn!(?session_timeout, "disconnected from ZooKeeper");
                        wait_for_reconnection(&mut session, session_timeout).await?;
                        tracing::info!("reconnected to ZooKeeper");
                    }
                    _ => {}
                },
            }
        }
    }
}

/// The group's members, a watch on them, and the leader's info.
async fn observe(
    client: &zookeeper_client::Client,
    path: &str,
) -> Result<
    (
        Vec<String>,
        zookeeper_client::OneshotWatcher,
        Option<v1::MasterInfo>,
    ),
    zookeeper_client::Error,
> {
    let (children, watcher) = client.list_and_watch_children(path).await?;
    let leader = match zookeeper::leading_node(&children) {
        Some(node) => {
            let (data, _) = client.get_data(&format!("{path}/{node}")).await?;
            meseta_proto::json::from_slice::<v1::MasterInfo>(&data).ok()
        }
        None => None,
    };
    Ok((children, watcher, leader))
}

/// Waits for the session to reconnect; fails if a session timeout passes first.
async fn wait_for_reconnection(
    session: &mut zookeeper_client::StateWatcher,
    session_timeout: Duration,
) -> Result<(), ElectionError> {
    let deadline = tokio::time::Instant::now() + session_timeout;
    match session.state() {
        SessionState::SyncConnected | SessionState::ConnectedReadOnly => return Ok(()),
        state @ (SessionState::Expired | SessionState::Closed | SessionState::AuthFailed) => {
            return Err(ElectionError::SessionLost(state))
        }
        _ => {}
    }
    loop {
        match tokio::time::timeout_at(deadline, session.changed()).await {
            Err(_) => return Err(ElectionError::Disconnected(session_timeout)),
            Ok(SessionState::SyncConnected | SessionState::ConnectedReadOnly) => return Ok(()),
            Ok(
                state @ (SessionState::Expired | SessionState::Closed | SessionState::AuthFailed),
            ) => return Err(ElectionError::SessionLost(state)),
            Ok(_) => {}
        }
    }
}
