//! Masters in ZooKeeper, laid out as Mesos lays them out, so that Meseta
//! and Mesos clients find each other's leaders.
//!
//! Every master contending for leadership holds an ephemeral sequential
//! node `<path>/json.info_<seq>` whose data is its `MasterInfo` in Mesos's
//! JSON mapping. The contender with the lowest sequence number leads.
//! [`leader`] reads that; a [`MasterDetector`](crate::detector::MasterDetector)
//! for a `zk://` address uses it before each connection attempt of a driver
//! or an agent.

use std::time::Duration;

use meseta_proto::v1;

use crate::detector::{BoxFuture, Detector, Endpoint};
use crate::error::{Error, Result};

/// Prefix of the contenders' nodes.
pub const CONTENDER_PREFIX: &str = "json.info_";

/// How long to wait for ZooKeeper to answer or for a leader to appear
/// before a detection attempt fails (and is retried with backoff).
pub const DETECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed `zk://[user:pass@]HOST:PORT[,HOST:PORT...]/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkUrl {
    /// `HOST:PORT,HOST:PORT`, as the ZooKeeper client takes it.
    pub servers: String,
    /// The group's znode, e.g. `/mesos`.
    pub path: String,
}

impl ZkUrl {
    /// Parses a `zk://` URL.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidAddress {
            address: text.to_string(),
            reason: reason.to_string(),
        };
        let rest = text
            .trim()
            .strip_prefix("zk://")
            .ok_or_else(|| invalid("expected zk://HOST:PORT[,HOST:PORT]/PATH"))?;
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("missing /PATH after the servers"))?;
        let servers = authority.rsplit('@').next().unwrap_or(authority);
        if servers.is_empty() || servers.split(',').any(|s| s.trim().is_empty()) {
            return Err(invalid("empty server list"));
        }
        let path = format!("/{}", path.trim_end_matches('/'));
        if path == "/" {
            return Err(invalid("the path must not be the root"));
        }
        Ok(Self {
            servers: servers.to_string(),
            path,
        })
    }
}

/// The sequence number of a contender's node name, if it is one.
pub fn contender_sequence(name: &str) -> Option<u64> {
    name.strip_prefix(CONTENDER_PREFIX)?.parse().ok()
}

/// The leading contender's node name among `children`.
pub fn leading_node(children: &[String]) -> Option<&String> {
    children
        .iter()
        .filter_map(|name| contender_sequence(name).map(|seq| (seq, name)))
        .min_by_key(|(seq, _)| *seq)
        .map(|(_, name)| name)
}

fn zk_error(error: impl std::fmt::Display) -> Error {
    Error::ZooKeeper(error.to_string())
}

/// ZooKeeper session timeout used unless told otherwise (Mesos's
/// `--zk_session_timeout` default).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to ZooKeeper (bounded by [`DETECTION_TIMEOUT`]) with the default
/// session timeout.
pub async fn connect(servers: &str) -> Result<zookeeper_client::Client> {
    connect_with_timeout(servers, DEFAULT_SESSION_TIMEOUT).await
}

/// Connects to ZooKeeper (bounded by [`DETECTION_TIMEOUT`]), asking for a
/// session of `session_timeout` (the server may clamp it to its limits).
pub async fn connect_with_timeout(
    servers: &str,
    session_timeout: Duration,
) -> Result<zookeeper_client::Client> {
    let connector = zookeeper_client::Client::connector().with_session_timeout(session_timeout);
    match tokio::time::timeout(DETECTION_TIMEOUT, connector.connect(servers)).await {
        Ok(result) => result.map_err(zk_error),
        Err(_) => Err(Error::ZooKeeper(format!(
            "no answer from ZooKeeper at {servers}"
        ))),
    }
}

/// Creates `path` and its missing parents as persistent, open nodes.
pub async fn ensure_path(
    client: &zookeeper_client::Client,
    path: &str,
) -> std::result::Result<(), zookeeper_client::Error> {
    let mut current = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        current.push('/');
        current.push_str(part);
        let options = zookeeper_client::CreateMode::Persistent
            .with_acls(zookeeper_client::Acls::anyone_all());
        match client.create(&current, &[], &options).await {
            Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// The current leader's `MasterInfo`, or `None` when nobody contends.
pub async fn leader(
    client: &zookeeper_client::Client,
    path: &str,
) -> Result<Option<v1::MasterInfo>> {
    let children = match client.list_children(path).await {
        Ok(children) => children,
        Err(zookeeper_client::Error::NoNode) => return Ok(None),
        Err(error) => return Err(zk_error(error)),
    };
    let Some(node) = leading_node(&children) else {
        return Ok(None);
    };
    let data = match client.get_data(&format!("{path}/{node}")).await {
        Ok((data, _)) => data,
        // The leader just went away; the caller looks again.
        Err(zookeeper_client::Error::NoNode) => return Ok(None),
        Err(error) => return Err(zk_error(error)),
    };
    let info = meseta_proto::json::from_slice::<v1::MasterInfo>(&data)
        .map_err(|e| Error::ZooKeeper(format!("{path}/{node} does not hold a MasterInfo: {e}")))?;
    Ok(Some(info))
}

/// Where to reach a master: its address's hostname (or IP) and port.
pub fn endpoint_of(info: &v1::MasterInfo) -> Endpoint {
    let address = info.address.as_ref();
    let host = address
        .and_then(|a| a.hostname.clone().or_else(|| a.ip.clone()))
        .or_else(|| info.hostname.clone())
        .unwrap_or_else(|| std::net::Ipv4Addr::from(info.ip.to_ne_bytes()).to_string());
    let port = address
        .map(|a| a.port)
        .and_then(|p| u16::try_from(p).ok())
        .or_else(|| u16::try_from(info.port).ok())
        .unwrap_or(crate::detector::DEFAULT_MASTER_PORT);
    Endpoint::new(host, port)
}

/// Finds the leader through ZooKeeper before every connection attempt.
///
/// After a master could not be reached, detection waits (up to
/// [`DETECTION_TIMEOUT`]) until ZooKeeper names a leader that accepts
/// connections: a crashed leader's node lingers until its session expires,
/// and retrying the dead address meanwhile only grows the caller's backoff.
/// A leader that is alive but refused us (say, still recovering) is
/// returned at once.
pub(crate) struct ZooKeeperDetector {
    url: ZkUrl,
    client: Option<zookeeper_client::Client>,
    redirected: Option<Endpoint>,
    unreachable: Option<Endpoint>,
}

impl ZooKeeperDetector {
    pub(crate) fn new(url: ZkUrl) -> Self {
        Self {
            url,
            client: None,
            redirected: None,
            unreachable: None,
        }
    }

    async fn find(&mut self) -> Result<Endpoint> {
        if let Some(leader) = self.redirected.take() {
            return Ok(leader);
        }
        let client = match self.client.take() {
            Some(client) => client,
            None => connect(&self.url.servers).await?,
        };
        let deadline = tokio::time::Instant::now() + DETECTION_TIMEOUT;
        loop {
            match leader(&client, &self.url.path).await {
                Ok(Some(info))
                    if self.unreachable.as_ref() == Some(&endpoint_of(&info))
                        && tokio::time::Instant::now() < deadline
                        && !accepts_connections(&endpoint_of(&info)).await =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(Some(info)) => {
                    self.client = Some(client);
                    self.unreachable = None;
                    return Ok(endpoint_of(&info));
                }
                Ok(None) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(None) => {
                    self.client = Some(client);
                    return Err(Error::ZooKeeper(format!(
                        "no master is contending under {}{}",
                        self.url.servers, self.url.path
                    )));
                }
                // A broken session: reconnect on the next attempt.
                Err(error) => return Err(error),
            }
        }
    }
}

/// Whether something listens at `endpoint` (a quick TCP connect).
async fn accepts_connections(endpoint: &Endpoint) -> bool {
    let connect = tokio::net::TcpStream::connect((endpoint.host(), endpoint.port()));
    matches!(
        tokio::time::timeout(Duration::from_millis(500), connect).await,
        Ok(Ok(_))
    )
}

impl Detector for ZooKeeperDetector {
    fn detect(&mut self) -> BoxFuture<'_, Result<Endpoint>> {
        Box::pin(self.find())
    }

    fn redirected(&mut self, leader: &Endpoint) {
        self.redirected = Some(leader.clone());
    }

    fn failed(&mut self, endpoint: &Endpoint) {
        self.redirected = None;
        self.unreachable = Some(endpoint.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_mesos_syntax() {
        let url = ZkUrl::parse("zk://u:p@10.0.0.1:2181,10.0.0.2:2181/mesos").unwrap();
        assert_eq!(url.servers, "10.0.0.1:2181,10.0.0.2:2181");
        assert_eq!(url.path, "/mesos");
        assert!(ZkUrl::parse("zk://host:2181").is_err());
        assert!(ZkUrl::parse("zk:///mesos").is_err());
        assert!(ZkUrl::parse("http://host/mesos").is_err());
    }

    #[test]
    fn lowest_sequence_leads() {
        let children: Vec<String> = [
            "log_replicas",
            "json.info_0000000012",
            "info_0000000003",
            "json.info_0000000007",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            leading_node(&children).map(String::as_str),
            Some("json.info_0000000007")
        );
        assert_eq!(leading_node(&[]), None);
    }
}
