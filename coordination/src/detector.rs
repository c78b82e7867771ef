//! Finding the leading master.
//!
//! A master address is written the way Mesos users write `--master`:
//!
//! | form | meaning | status |
//! |---|---|---|
//! | `HOST:PORT`, `HOST` (port 5050) | one master, or any master of a group: a non-leader redirects us | supported |
//! | `http://HOST:PORT` | same | supported |
//! | `file:///path` | the file holds one of the other forms (re-read on every attempt) | supported |
//! | `zk://[user:pass@]HOST:PORT[,...]/path` | the leader as elected in ZooKeeper (see [`crate::zookeeper`]) | supported |
//!
//! [`MasterSpec`] is the parsed form. A [`MasterDetector`] (built from the
//! spec) is asked for an endpoint before each connection attempt (a driver's
//! subscription, an agent's registration) and told about redirects (`307` +
//! `Location`, see [`parse_location`]) and failures. Each form is one
//! implementation of a crate-private `Detector` trait behind it, so a new form
//! does not touch the callers.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The port a Mesos master listens on when none is given.
pub const DEFAULT_MASTER_PORT: u16 = 5050;

/// A `host:port` to talk plain HTTP to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    host: String,
    port: u16,
}

impl Endpoint {
    /// An endpoint from its parts. `host` is a name, an IPv4 address, or an
    /// IPv6 address without brackets.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }

    /// Parses `HOST:PORT`, `[IPV6]:PORT`, `http://HOST:PORT[/]`, or a bare
    /// `HOST` when `default_port` is given.
    pub fn parse(text: &str, default_port: Option<u16>) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidAddress {
            address: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        let rest = if let Some(rest) = trimmed.strip_prefix("http://") {
            rest
        } else if trimmed.contains("://") {
            return Err(invalid("only the http:// scheme is supported"));
        } else {
            trimmed
        };
        let authority = match rest.find('/') {
            Some(slash) if rest[slash..].trim_end_matches('/').is_empty() => &rest[..slash],
            Some(_) => return Err(invalid("a path after HOST:PORT is not supported")),
            None => rest,
        };
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        if authority.is_empty() {
            return Err(invalid("empty host"));
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                return Err(invalid("unclosed '[' in IPv6 address"));
            };
            let host = &inner[..close];
            match &inner[close + 1..] {
                "" => (host, None),
                tail => match tail.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(invalid("expected ':' after ']'")),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(invalid("IPv6 addresses must be written in brackets"))
                }
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("empty host"));
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("port is not a number in 1..=65535"))?,
            None => default_port.ok_or_else(|| invalid("missing :PORT"))?,
        };
        Ok(Self::new(host, port))
    }

    /// The host name or address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://host:port` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{self}{path}")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A parsed master address (see the module docs for the forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterSpec {
    /// One fixed address; a non-leading master redirects us to the leader.
    Static(Endpoint),
    /// A ZooKeeper URL (`zk://...`), kept verbatim.
    ZooKeeper(String),
    /// A file whose contents are a master address.
    File(PathBuf),
}

impl MasterSpec {
    /// Parses a `--master` value.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("zk://") {
            if rest.is_empty() || !rest.contains('/') {
                return Err(Error::InvalidAddress {
                    address: text.to_string(),
                    reason: "expected zk://HOST:PORT[,HOST:PORT...]/PATH".into(),
                });
            }
            return Ok(Self::ZooKeeper(text.to_string()));
        }
        if let Some(path) = text.strip_prefix("file://") {
            if path.is_empty() {
                return Err(Error::InvalidAddress {
                    address: text.to_string(),
                    reason: "file:// needs a path".into(),
                });
            }
            return Ok(Self::File(PathBuf::from(path)));
        }
        Endpoint::parse(text, Some(DEFAULT_MASTER_PORT)).map(Self::Static)
    }
}

impl FromStr for MasterSpec {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

/// Where a `307 Temporary Redirect` points. Mesos sends
/// `//HOST:PORT/path`; absolute `http://` URLs and same-host paths (`/path`)
/// are accepted too. The path is ignored: we always talk to the API path.
pub fn parse_location(location: &str, current: &Endpoint) -> Result<Endpoint> {
    let location = location.trim();
    let bad = || Error::BadRedirect(location.to_string());
    let rest = if let Some(rest) = location.strip_prefix("//") {
        rest
    } else if let Some(rest) = location.strip_prefix("http://") {
        rest
    } else if location.starts_with('/') {
        return Ok(current.clone());
    } else {
        return Err(bad());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // A redirect without a port keeps the port we used (masters in one
    // group normally share it).
    Endpoint::parse(authority, Some(current.port())).map_err(|_| bad())
}

/// A boxed, sendable future (what `Detector::detect` returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Source of the leading master's endpoint, asked before each connection
/// attempt.
pub(crate) trait Detector: Send {
    /// The endpoint to try next.
    fn detect(&mut self) -> BoxFuture<'_, Result<Endpoint>>;
    /// A master redirected us to `leader`.
    fn redirected(&mut self, leader: &Endpoint);
    /// Talking to `endpoint` failed (refused, closed, timed out).
    fn failed(&mut self, endpoint: &Endpoint);
}

/// Finds the leading master: what the scheduler driver asks before each
/// subscription and the agent's link before each registration.
pub struct MasterDetector {
    inner: Box<dyn Detector>,
}

impl MasterDetector {
    /// A detector for a `--master` value (`HOST:PORT`, `zk://...`, `file://...`).
    pub fn new(master: &str) -> Result<Self> {
        Self::from_spec(MasterSpec::parse(master)?)
    }

    /// A detector for an already parsed master address.
    pub fn from_spec(spec: MasterSpec) -> Result<Self> {
        Ok(Self {
            inner: detector_for(spec)?,
        })
    }

    /// The master to try next.
    pub async fn detect(&mut self) -> Result<Endpoint> {
        self.inner.detect().await
    }

    /// A master redirected us to `leader`: try it next.
    pub fn redirected(&mut self, leader: &Endpoint) {
        self.inner.redirected(leader);
    }

    /// Reaching `endpoint` failed; detect afresh next time.
    pub fn failed(&mut self, endpoint: &Endpoint) {
        self.inner.failed(endpoint);
    }
}

/// Builds the detector for a spec.
fn detector_for(spec: MasterSpec) -> Result<Box<dyn Detector>> {
    match spec {
        MasterSpec::Static(endpoint) => Ok(Box::new(StaticDetector {
            configured: endpoint,
            leader: None,
        })),
        MasterSpec::File(path) => Ok(Box::new(FileDetector { path, leader: None })),
        MasterSpec::ZooKeeper(url) => Ok(Box::new(crate::zookeeper::ZooKeeperDetector::new(
            crate::zookeeper::ZkUrl::parse(&url)?,
        ))),
    }
}

/// A fixed address, remembering the leader it last redirected us to.
struct StaticDetector {
    configured: Endpoint,
    leader: Option<Endpoint>,
}

impl Detector for StaticDetector {
    fn detect(&mut self) -> BoxFuture<'_, Result<Endpoint>> {
        let endpoint = self
            .leader
            .clone()
            .unwrap_or_else(|| self.configured.clone());
        Box::pin(async move { Ok(endpoint) })
    }

    fn redirected(&mut self, leader: &Endpoint) {
        self.leader = Some(leader.clone());
    }

    fn failed(&mut self, endpoint: &Endpoint) {
        if self.leader.as_ref() == Some(endpoint) {
            self.leader = None;
        }
    }
}

/// `file://`: the file is read again on every attempt, so an operator (or a
/// test harness) can point the framework at a new master.
struct FileDetector {
    path: PathBuf,
    leader: Option<Endpoint>,
}

impl Detector for FileDetector {
    fn detect(&mut self) -> BoxFuture<'_, Result<Endpoint>> {
        Box::pin(async move {
            if let Some(leader) = &self.leader {
                return Ok(leader.clone());
            }
            let text = tokio::fs::read_to_string(&self.path)
                .await
                .map_err(|source| Error::MasterFile {
                    path: self.path.display().to_string(),
                    source,
                })?;
            match MasterSpec::parse(&text)? {
                MasterSpec::Static(endpoint) => Ok(endpoint),
                MasterSpec::ZooKeeper(url) => {
                    let url = crate::zookeeper::ZkUrl::parse(&url)?;
                    crate::zookeeper::ZooKeeperDetector::new(url).detect().await
                }
                MasterSpec::File(_) => Err(Error::InvalidAddress {
                    address: text.trim().to_string(),
                    reason: "a master file cannot point to another file".into(),
                }),
            }
        })
    }

    fn redirected(&mut self, leader: &Endpoint) {
        self.leader = Some(leader.clone());
    }

    fn failed(&mut self, _endpoint: &Endpoint) {
        self.leader = None;
    }
}
