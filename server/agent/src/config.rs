//! The agent's configuration, as the `meseta agent` command fills it in.
//!
//! [`AgentConfig`] holds what the operator said; [`Settings`] is what the
//! agent derived from it at start (resources detected from the machine, the
//! hostname, the address executors use to reach the agent). Deriving happens
//! once, so every module reads the same numbers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// `5secs`, `1500ms`: the duration syntax Mesos puts in executor
/// environments (and `/state` shows in `flags`).
pub(crate) use meseta_proto::duration::format as mesos_duration;
use meseta_proto::resources::{parse_attributes, parse_resources};
use meseta_proto::v1;

use crate::containerizer::isolators::IsolationConfig;
use crate::error::AgentError;
use crate::resources_detect;

/// What the operator configures. Durations follow Mesos's agent flags.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The master's gRPC endpoint, `host:port`.
    pub master: String,
    /// The IP address the HTTP server binds to.
    pub ip: IpAddr,
    /// The HTTP port; `0` picks a free one (see [`crate::Agent::http_address`]).
    pub port: u16,
    /// The hostname reported to the master; `None` uses the machine's.
    pub hostname: Option<String>,
    /// Where sandboxes and the agent's metadata live.
    pub work_dir: PathBuf,
    /// `cpus:4;mem:8192;disk:10000;ports:[31000-32000]`; resources left out
    /// (or all, with `None`) are detected from the machine.
    pub resources: Option<String>,
    /// `rack:r1;zone:a`.
    pub attributes: Option<String>,
    /// First retry interval of an unacknowledged status update.
    pub status_update_retry_initial: Duration,
    /// Longest retry interval of an unacknowledged status update.
    pub status_update_retry_max: Duration,
    /// How long an executor may take to exit after `SHUTDOWN`.
    pub executor_shutdown_grace_period: Duration,
    /// Longest wait between two attempts to reach the master.
    pub reconnect_backoff_max: Duration,
    /// The first (re-)registration delay is random in `[0, this]`, doubling
    /// the bound with every failed attempt (Mesos's
    /// `--registration_backoff_factor`).
    pub registration_backoff_factor: Duration,
    /// How long a custom executor may take to `SUBSCRIBE` once started.
    pub executor_registration_timeout: Duration,
    /// How long a custom executor that survived an agent restart may take
    /// to `SUBSCRIBE` again before it is killed.
    pub executor_reregistration_timeout: Duration,
    /// What a restarted agent does with the work of its previous run.
    pub recover: RecoverMode,
    /// How containers are run and isolated.
    pub isolation: IsolationConfig,
    /// How the operator API reads and sets the log verbosity (none: the
    /// process owns no logging the agent may change).
    pub verbosity: Option<meseta_proto::verbosity::VerbosityControl>,
    /// The file the agent's log is written to (`--log-dir`), served at
    /// `/slave/log`.
    pub log_file: Option<std::path::PathBuf>,
}

/// What a restarted agent does with what its previous run checkpointed
/// (Mesos's `--recover`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoverMode {
    /// Take back the tasks and executors of checkpointing frameworks and
    /// re-register with the same agent ID.
    #[default]
    Reconnect,
    /// Kill everything the previous run left and register as a new agent.
    Cleanup,
}

impl std::str::FromStr for RecoverMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "reconnect" => Ok(RecoverMode::Reconnect),
            "cleanup" => Ok(RecoverMode::Cleanup),
            other => Err(format!(
                "unknown recovery mode {other:?} (expected reconnect or cleanup)"
            )),
        }
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            master: "127.0.0.1:5050".to_string(),
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 5051,
            hostname: None,
            work_dir: std::env::temp_dir().join("meseta-agent"),
            resources: None,
            attributes: None,
            status_update_retry_initial: Duration::from_secs(10),
            status_update_retry_max: Duration::from_secs(600),
            executor_shutdown_grace_period: Duration::from_secs(5),
            reconnect_backoff_max: Duration::from_secs(60),
            registration_backoff_factor: Duration::from_secs(1),
            executor_registration_timeout: Duration::from_secs(60),
            executor_reregistration_timeout: Duration::from_secs(2),
            recover: RecoverMode::Reconnect,
            isolation: IsolationConfig::default(),
            verbosity: None,
            log_file: None,
        }
    }
}

/// The configuration with everything derived that the agent needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub config: AgentConfig,
    pub hostname: String,
    pub resources: Vec<v1::Resource>,
    pub attributes: Vec<v1::Attribute>,
}

impl Settings {
    /// Validates `config` and derives resources, attributes and hostname.
    pub fn derive(config: AgentConfig) -> Result<Self, AgentError> {
        if config.master.trim().is_empty() {
            return Err(AgentError::Config("the master address is empty".into()));
        }
        if config.status_update_retry_initial.is_zero()
            || config.status_update_retry_max < config.status_update_retry_initial
        {
            return Err(AgentError::Config(
                "status update retry intervals must be positive and initial <= max".into(),
            ));
        }
        std::fs::create_dir_all(&config.work_dir)
            .map_err(|e| AgentError::io("cannot create work dir", &config.work_dir, e))?;
        let work_dir = std::fs::canonicalize(&config.work_dir)
            .map_err(|e| AgentError::io("cannot resolve work dir", &config.work_dir, e))?;
        let given = match &config.resources {
            Some(text) => parse_resources(text)
                .map_err(|e| AgentError::Config(format!("--resources: {e}")))?,
            None => Vec::new(),
        };
        let resources = resources_detect::complete(given, &work_dir);
        let resources =
            crate::containerizer::isolators::gpu::derive_resources(&config.isolation, resources)
                .map_err(AgentError::Config)?;
        let attributes = match &config.attributes {
            Some(text) => parse_attributes(text)
                .map_err(|e| AgentError::Config(format!("--attributes: {e}")))?,
            None => Vec::new(),
        };
        let hostname = match &config.hostname {
            Some(name) if !name.trim().is_empty() => name.trim().to_string(),
            _ => machine_hostname().unwrap_or_else(|| config.ip.to_string()),
        };
        let mut config = AgentConfig { work_dir, ..config };
        // The isolation's files (images' root filesystems and store) live
        // in the agent's work dir.
        config.isolation.work_dir = config.work_dir.clone();
        Ok(Self {
            config,
            hostname,
            resources,
            attributes,
        })
    }

    /// The address executors and the master use to reach this agent's HTTP
    /// server: the bound address; for a wildcard IP, the first non-loopback
    /// address the hostname resolves to, else loopback (executors run on
    /// this machine, so loopback always reaches them).
    pub async fn advertised(&self, bound: SocketAddr) -> SocketAddr {
        if !bound.ip().is_unspecified() {
            return bound;
        }
        let resolved = tokio::net::lookup_host((self.hostname.as_str(), bound.port()))
            .await
            .map(|addrs| {
                addrs
                    .filter(|a| a.is_ipv4() && !a.ip().is_loopback())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        resolved
            .into_iter()
            .next()
            .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port()))
    }
}

fn machine_hostname() -> Option<String> {
    let mut buffer = [0u8; 256];
    // SAFETY: the pointer and length describe `buffer`, which outlives the call;
    // gethostname writes at most `len` bytes.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if rc != 0 {
        return None;
    }
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    let name = String::from_utf8_lossy(&buffer[..end]).trim().to_string();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use meseta_proto::resources::scalar_total;

    #[test]
    fn config_derives_resources_and_hostname() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::derive(AgentConfig {
            work_dir: dir.path().join("w"),
            resources: Some("cpus:2;mem:100".into()),
            attributes: Some("rack:r1".into()),
            hostname: Some("h1".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(scalar_total(&settings.resources, "cpus"), 2.0);
        assert_eq!(scalar_total(&settings.resources, "mem"), 100.0);
        assert!(scalar_total(&settings.resources, "disk") > 0.0);
        assert_eq!(settings.hostname, "h1");
        assert_eq!(settings.attributes.len(), 1);
        assert!(settings.config.work_dir.is_absolute());
    }

    #[test]
    fn config_rejects_bad_flags() {
        let dir = tempfile::tempdir().unwrap();
        let err = Settings::derive(AgentConfig {
            work_dir: dir.path().into(),
            resources: Some("cpus:lots".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("cpus"), "{err}");
    }

    #[test]
    fn durations_in_mesos_syntax() {
        assert_eq!(mesos_duration(Duration::from_secs(5)), "5secs");
        assert_eq!(mesos_duration(Duration::from_millis(1500)), "1500ms");
    }
}
