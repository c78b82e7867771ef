//! What an executor learns from the environment the agent launched it with.

use std::fmt;
use std::time::Duration;

use meseta_proto::v1::{ExecutorId, FrameworkId};

use crate::codec::ContentType;
use crate::detector::Endpoint;
use crate::error::{Error, Result};

/// Mesos's default `--recovery_timeout`.
pub const DEFAULT_RECOVERY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Mesos's default `--executor_reregistration_timeout`, the cap on the
/// delay between two subscription attempts.
pub const DEFAULT_SUBSCRIPTION_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// How an [`ExecutorDriver`](super::ExecutorDriver) reaches its agent.
#[derive(Clone)]
pub struct ExecutorConfig {
    /// The agent (`MESOS_AGENT_ENDPOINT`, `HOST:PORT`).
    pub agent_endpoint: Endpoint,
    /// `MESOS_FRAMEWORK_ID`.
    pub framework_id: FrameworkId,
    /// `MESOS_EXECUTOR_ID`.
    pub executor_id: ExecutorId,
    /// `MESOS_CHECKPOINT`: whether the framework checkpoints, i.e. whether
    /// to wait for a restarting agent instead of shutting down.
    pub checkpoint: bool,
    /// `MESOS_RECOVERY_TIMEOUT`: how long to keep trying to (re)subscribe.
    pub recovery_timeout: Duration,
    /// `MESOS_SUBSCRIPTION_BACKOFF_MAX`: longest delay between attempts.
    pub subscription_backoff_max: Duration,
    /// `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, sent as a bearer token when
    /// the agent requires executor authentication.
    pub authentication_token: Option<String>,
    /// Encoding of calls and events (default protobuf).
    pub content_type: ContentType,
}

impl ExecutorConfig {
    /// Reads the `MESOS_*` variables of this process.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (for tests and embedders).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or(Error::Environment {
                    name,
                    reason: "not set (is this process launched by a Mesos agent?)".into(),
                })
        };
        let duration = |name: &'static str, default: Duration| match lookup(name) {
            None => Ok(default),
            Some(text) => {
                meseta_proto::duration::parse(&text).map_err(|error| Error::Environment {
                    name,
                    reason: error.to_string(),
                })
            }
        };
        let endpoint_text = required("MESOS_AGENT_ENDPOINT")?;
        let agent_endpoint =
            Endpoint::parse(&endpoint_text, None).map_err(|e| Error::Environment {
                name: "MESOS_AGENT_ENDPOINT",
                reason: e.to_string(),
            })?;
        let checkpoint = match lookup("MESOS_CHECKPOINT").as_deref().map(str::trim) {
            None | Some("") | Some("0") | Some("false") => false,
            Some("1") | Some("true") => true,
            Some(other) => {
                return Err(Error::Environment {
                    name: "MESOS_CHECKPOINT",
                    reason: format!("{other:?} is not 0/1/true/false"),
                })
            }
        };
        Ok(Self {
            agent_endpoint,
            framework_id: FrameworkId {
                value: required("MESOS_FRAMEWORK_ID")?,
            },
            executor_id: ExecutorId {
                value: required("MESOS_EXECUTOR_ID")?,
            },
            checkpoint,
            recovery_timeout: duration("MESOS_RECOVERY_TIMEOUT", DEFAULT_RECOVERY_TIMEOUT)?,
            subscription_backoff_max: duration(
                "MESOS_SUBSCRIPTION_BACKOFF_MAX",
                DEFAULT_SUBSCRIPTION_BACKOFF_MAX,
            )?,
            authentication_token: lookup("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
                .filter(|token| !token.is_empty()),
            content_type: ContentType::Protobuf,
        })
    }
}

impl fmt::Debug for ExecutorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorConfig")
            .field("agent_endpoint", &self.agent_endpoint)
            .field("framework_id", &self.framework_id.value)
            .field("executor_id", &self.executor_id.value)
            .field("checkpoint", &self.checkpoint)
            .field("recovery_timeout", &self.recovery_timeout)
            .field("subscription_backoff_max", &self.subscription_backoff_max)
            .field(
                "authentication_token",
                &self.authentication_token.as_ref().map(|_| "<secret>"),
            )
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// Parses a Mesos duration: a number (integer or decimal) followed by one
/// of `ns`, `us`, `ms`, `secs`, `mins`, `hrs`, `days`, `weeks` (or a short
/// form, or no unit for seconds); see [`meseta_proto::duration::parse`],
/// which this wraps.
pub fn parse_duration(text: &str) -> Result<Duration> {
    meseta_proto::duration::parse(text).map_err(|_| Error::InvalidDuration(text.trim().to_string()))
}
