//! The one error type of this crate.
//!
//! Drivers never return these from their public methods (those return a
//! [`Status`](crate::Status) and report problems through the `error`
//! callback); they surface from the pure helpers
//! ([`ExecutorConfig::from_env`]) and in log lines. Master detection
//! ([`MasterSpec`] parsing and the rest of [`detector`](crate::detector))
//! returns `meseta_coordination::Error`, which converts into this one.
//!
//! [`MasterSpec`]: crate::detector::MasterSpec
//! [`ExecutorConfig::from_env`]: crate::executor::ExecutorConfig::from_env

use meseta_proto::recordio::RecordIoError;

/// Everything that can go wrong talking to a Mesos master or agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The master (or agent) address cannot be parsed.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress {
        /// The text we were given.
        address: String,
        /// Why it was rejected.
        reason: String,
    },
    /// ZooKeeper could not tell who leads (unreachable, session lost, no contender).
    #[error("ZooKeeper: {0}")]
    ZooKeeper(String),
    /// The address form is valid Mesos syntax but not supported yet.
    #[error("unsupported master address {0:?} (only HOST:PORT, http://HOST:PORT and file:// are supported so far)")]
    UnsupportedMaster(String),
    /// Reading a `file://` master file failed.
    #[error("cannot read master file {path}: {source}")]
    MasterFile {
        /// The file named by the `file://` address.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A required environment variable is missing or malformed.
    #[error("environment variable {name}: {reason}")]
    Environment {
        /// Variable name.
        name: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A Mesos duration (`15mins`, `250ms`) cannot be parsed.
    #[error("invalid duration {0:?}")]
    InvalidDuration(String),
    /// Connecting, sending or receiving over HTTP failed.
    #[error("HTTP request to {endpoint} failed: {reason}")]
    Http {
        /// `host:port` of the peer.
        endpoint: String,
        /// The underlying error, as text.
        reason: String,
    },
    /// The peer answered with an unexpected HTTP status.
    #[error("{endpoint} answered {status}: {body}")]
    Status {
        /// `host:port` of the peer.
        endpoint: String,
        /// HTTP status code.
        status: u16,
        /// The response body (Mesos puts the reason there), trimmed.
        body: String,
    },
    /// A redirect's `Location` header cannot be used.
    #[error("bad redirect location {0:?}")]
    BadRedirect(String),
    /// Too many redirects in a row (no leading master found).
    #[error("gave up after {0} redirects")]
    TooManyRedirects(usize),
    /// The event stream's RecordIO framing is corrupt.
    #[error(transparent)]
    RecordIo(#[from] RecordIoError),
    /// An event cannot be decoded.
    #[error("cannot decode {message}: {reason}")]
    Decode {
        /// Protobuf message name.
        message: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// No event (not even a heartbeat) arrived in time.
    #[error("no event received for {0:?}")]
    HeartbeatTimeout(std::time::Duration),
    /// The library's runtime or callback thread cannot start.
    #[error("cannot start the library's threads: {0}")]
    Thread(String),
}

/// Master detection (`meseta-coordination`) fails with the same variants
/// this crate always had, so callers matching on them keep working.
impl From<meseta_coordination::Error> for Error {
    fn from(error: meseta_coordination::Error) -> Self {
        use meseta_coordination::Error as Coordination;
        match error {
            Coordination::InvalidAddress { address, reason } => {
                Self::InvalidAddress { address, reason }
            }
            Coordination::ZooKeeper(reason) => Self::ZooKeeper(reason),
            Coordination::MasterFile { path, source } => Self::MasterFile { path, source },
            Coordination::BadRedirect(location) => Self::BadRedirect(location),
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
