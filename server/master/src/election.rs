//! Leader election through ZooKeeper, in Mesos's layout: each master holds
//! an ephemeral sequential node `<path>/json.info_<seq>` with its
//! `MasterInfo` as JSON, and the lowest sequence leads. Existing Mesos
//! clients (pymesos's detector, for one) find the leader from the same
//! nodes.
//!
//! A master that loses its ZooKeeper session, or its node, stops contending
//! and [`contend`] returns an error: the process exits and its supervisor
//! restarts it, as Mesos masters do. Stepping down that way guarantees it
//! never acts on state another leader may have changed.

use meseta_core::zookeeper::{self, ZkUrl, CONTENDER_PREFIX};
use meseta_proto::v1;
use zookeeper_client::{Acls, CreateMode, SessionState};

use crate::leadership::Leadership;
use crate::server::MasterHandle;

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
}

fn zk(error: impl std::fmt::Display) -> ElectionError {
    ElectionError::ZooKeeper(error.to_string())
}

/// Creates `path` and its parents as persistent nodes if they are missing.
async fn ensure_path(client: &zookeeper_client::Client, path: &str) -> Result<(), ElectionError> {
    let mut current = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        current.push('/');
        current.push_str(part);
        let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
        match client.create(&current, &[], &options).await {
            Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
            Err(error) => return Err(zk(error)),
        }
    }
    Ok(())
}

/// Contends for leadership until the session is lost, updating the master's
/// [`Leadership`] as the group changes. Returns only on failure.
pub async fn contend(url: ZkUrl, handle: MasterHandle) -> ElectionError {
    match run(&url, &handle).await {
        Ok(never) => match never {},
        Err(error) => {
            handle.set_leadership(Leadership::Following(None));
            error
        }
    }
}

async fn run(
    url: &ZkUrl,
    handle: &MasterHandle,
) -> Result<std::convert::Infallible, ElectionError> {
    let client = zookeeper::connect(&url.servers).await.map_err(zk)?;
    let mut session = client.state_watcher();
    ensure_path(&client, &url.path).await?;
    let info: &v1::MasterInfo = handle.info();
    let data = meseta_proto::json::to_vec(info);
    let options = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
    let prefix = format!("{}/{}", url.path, CONTENDER_PREFIX);
    let (_, sequence) = client.create(&prefix, &data, &options).await.map_err(zk)?;
    let ours = format!("{CONTENDER_PREFIX}{sequence}");
    tracing::info!(node = %format!("{}/{ours}", url.path), "contending for leadership");
    loop {
        let (children, watcher) = client
            .list_and_watch_children(&url.path)
            .await
            .map_err(zk)?;
        if !children.contains(&ours) {
            return Err(ElectionError::NodeLost(ours));
        }
        let leading = zookeeper::leading_node(&children).cloned();
        if leading.as_deref() == Some(ours.as_str()) {
            if handle.leadership() != Leadership::Leading {
                tracing::info!("elected leading master");
                handle.set_leadership(Leadership::Leading);
            }
        } else {
            if handle.leadership() == Leadership::Leading {
                return Err(ElectionError::NodeLost(ours));
            }
            let leader = zookeeper::leader(&client, &url.path).await.map_err(zk)?;
            handle.set_leadership(Leadership::Following(leader));
        }
        tokio::select! {
            _ = watcher.changed() => {}
            state = session.changed() => {
                if matches!(state, SessionState::Expired | SessionState::Closed | SessionState::AuthFailed) {
                    return Err(ElectionError::SessionLost(state));
                }
            }
        }
    }
}
