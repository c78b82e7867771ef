//! Who leads. Exactly one master of a cluster leads; the others answer the
//! scheduler API and `/master/redirect` with a 307 to the leader and report
//! `master/elected 0`. A single master with the embedded store always
//! leads; with ZooKeeper (issue #3) the contender drives this state.

use meseta_proto::v1;
use tokio::sync::watch;

/// This master's role in the cluster.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // changes rarely; boxing buys nothing
pub enum Leadership {
    /// This master leads.
    Leading,
    /// This master was elected and is reading the registry; it leads as
    /// soon as that is done. Agents that attach meanwhile are held, not
    /// refused (a refusal would grow their backoff just as the cluster
    /// needs them back); schedulers get a 503 and retry.
    Recovering,
    /// Another master leads (`None`: no leader is known right now).
    Following(Option<v1::MasterInfo>),
}

/// What a recovering master answers (a 503's text, a gRPC UNAVAILABLE's
/// message).
pub const RECOVERING: &str =
    "this master was just elected and is recovering its registry; retry shortly";

/// Shared, observable leadership state.
#[derive(Debug, Clone)]
pub struct LeadershipCell {
    sender: std::sync::Arc<watch::Sender<Leadership>>,
}

impl LeadershipCell {
    /// Starts in `initial`.
    pub fn new(initial: Leadership) -> Self {
        let (sender, _) = watch::channel(initial);
        Self {
            sender: std::sync::Arc::new(sender),
        }
    }

    /// The current state.
    pub fn get(&self) -> Leadership {
        self.sender.borrow().clone()
    }

    /// Changes the state.
    pub fn set(&self, value: Leadership) {
        self.sender.send_replace(value);
    }

    /// Whether this master leads.
    pub fn is_leading(&self) -> bool {
        matches!(*self.sender.borrow(), Leadership::Leading)
    }

    /// Waits, at most `limit`, while this master follows; returns the state
    /// it ends in.
    pub async fn stop_following(&self, limit: std::time::Duration) -> Leadership {
        let mut watch = self.sender.subscribe();
        let wait = watch.wait_for(|state| !matches!(state, Leadership::Following(_)));
        let _ = tokio::time::timeout(limit, wait).await;
        self.get()
    }

    /// Waits, at most `limit`, while this master is
    /// [`Leadership::Recovering`]; returns the state it ends in.
    pub async fn settled(&self, limit: std::time::Duration) -> Leadership {
        let mut watch = self.sender.subscribe();
        let wait = watch.wait_for(|state| *state != Leadership::Recovering);
        let _ = tokio::time::timeout(limit, wait).await;
        self.get()
    }
}

/// `//host:port`, the form Mesos puts in `Location` headers.
pub fn location(info: &v1::MasterInfo) -> String {
    let host = info
        .address
        .as_ref()
        .and_then(|a| a.hostname.clone().or_else(|| a.ip.clone()))
        .or_else(|| info.hostname.clone())
        .unwrap_or_default();
    format!("//{}:{}", host, info.port)
}
