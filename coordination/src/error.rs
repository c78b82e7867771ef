//! The one error type of this crate.

/// Why a master address could not be parsed or no leader could be found.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The master (or agent, or ZooKeeper) address cannot be parsed.
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
    /// Reading a `file://` master file failed.
    #[error("cannot read master file {path}: {source}")]
    MasterFile {
        /// The file named by the `file://` address.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A redirect's `Location` header cannot be used.
    #[error("bad redirect location {0:?}")]
    BadRedirect(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
