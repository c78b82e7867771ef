//! The crate's one error type.
//!
//! Every fallible operation of the agent returns [`AgentError`]. Variants are
//! grouped by *who can act on them*: configuration mistakes (the operator),
//! I/O and container failures (become task states such as `TASK_FAILED`),
//! bad input from the network (become `400` answers or ignored messages, never
//! panics), and fatal failures of the agent itself (returned by
//! [`Agent::wait`](crate::Agent::wait)).

use std::path::Path;

/// Everything that can go wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration cannot be used (bad `--resources`, unusable work dir...).
    #[error("invalid agent configuration: {0}")]
    Config(String),

    /// A file system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the agent was doing, with the path involved.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A task names a persistent volume this agent cannot give it.
    #[error("persistent volume: {0}")]
    Volume(String),

    /// This machine cannot isolate containers (not root, no usable
    /// cgroups): with the default isolation the agent falls back to plain
    /// processes; asked for explicitly, it stops.
    #[error("this machine cannot isolate containers: {0}")]
    CannotIsolate(String),

    /// The HTTP server could not bind its address or stopped.
    #[error("agent HTTP server at {addr}: {reason}")]
    Http {
        /// The address the server was (to be) bound to.
        addr: String,
        /// What went wrong.
        reason: String,
    },

    /// An ID cannot be used as a directory name (contains `/`, is `..`, ...).
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidId {
        /// "task ID", "executor ID", ...
        kind: &'static str,
        /// The offending ID.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },

    /// A URI of a `CommandInfo` could not be fetched into the sandbox.
    #[error("failed to fetch {uri}: {reason}")]
    Fetch {
        /// The URI as given by the framework.
        uri: String,
        /// What went wrong.
        reason: String,
    },

    /// A container could not be launched, waited on or signalled.
    #[error("container {container_id}: {reason}")]
    Container {
        /// The container's ID.
        container_id: String,
        /// What went wrong.
        reason: String,
    },

    /// A status update was refused by the status update manager.
    #[error("status update {state} for task {task_id}: {reason}")]
    StatusUpdate {
        /// The task's ID.
        task_id: String,
        /// The update's state name.
        state: String,
        /// Why it was refused.
        reason: String,
    },

    /// An executor API call is not acceptable (unknown executor, bad body...).
    #[error("{0}")]
    BadRequest(String),

    /// The agent was stopped, so the request cannot be served.
    #[error("the agent is shutting down")]
    ShuttingDown,
}

impl AgentError {
    /// An [`AgentError::Io`] that names the path involved.
    pub(crate) fn io(action: &str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            context: format!("{action} {}", path.display()),
            source,
        }
    }

    /// An [`AgentError::Container`].
    pub(crate) fn container(container_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Container {
            container_id: container_id.into(),
            reason: reason.into(),
        }
    }
}
