//! How the operator configures the Docker containerizer: Mesos's agent
//! flags (`--docker_socket`, `--docker_kill_orphans`,
//! `--docker_stop_timeout`, `--docker_remove_delay`), with the fixed
//! bounds on engine calls that Mesos leaves open.
//!
//! The bounds are fixed rather than flags because they exist to keep a
//! hung engine from stalling the agent, not to tune it: a call that
//! should answer at once gets [`API_TIMEOUT`], an image pull
//! [`PULL_TIMEOUT`] (layers can be large and registries slow).

use std::path::PathBuf;
use std::time::Duration;

/// Mesos's default `--docker_socket` on Linux.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// Mesos's default `--docker_remove_delay`.
pub const DEFAULT_REMOVE_DELAY: Duration = Duration::from_secs(6 * 60 * 60);
/// The longest an engine call that should answer at once may take
/// (connecting, version negotiation, create, start, inspect, kill, list).
pub const API_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest an image pull may take.
pub const PULL_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// The longest `/monitor/statistics` waits for one container's figures.
pub const USAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// The Docker containerizer's flags.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerConfig {
    /// `--docker-socket`: the engine's unix socket (a `unix://` prefix is
    /// accepted).
    pub socket: PathBuf,
    /// `--docker-kill-orphans`: remove containers named `mesos-<ID>` that
    /// no recovered task owns when the agent starts. Containers that carry
    /// another meseta agent's work-directory label are never touched, so
    /// several agents can share one engine.
    pub kill_orphans: bool,
    /// `--docker-stop-timeout`: how long the engine waits between SIGTERM
    /// and SIGKILL when the agent itself destroys a container (a forced
    /// kill, an orphan); a task's own kill policy governs task kills.
    pub stop_timeout: Duration,
    /// `--docker-remove-delay`: how long an ended container stays in the
    /// engine (for `docker logs`/`inspect`) before it is removed.
    pub remove_delay: Duration,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            socket: PathBuf::from(DEFAULT_SOCKET),
            kill_orphans: true,
            stop_timeout: Duration::ZERO,
            remove_delay: DEFAULT_REMOVE_DELAY,
        }
    }
}

impl DockerConfig {
    /// The socket's path, without a `unix://` scheme.
    pub fn socket_path(&self) -> PathBuf {
        let text = self.socket.to_string_lossy();
        match text.strip_prefix("unix://") {
            Some(path) => PathBuf::from(path),
            None => self.socket.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_mesos_defaults_and_the_scheme_is_dropped() {
        let config = DockerConfig::default();
        assert_eq!(config.socket_path(), PathBuf::from("/var/run/docker.sock"));
        assert!(config.kill_orphans);
        assert_eq!(config.stop_timeout, Duration::ZERO);
        assert_eq!(config.remove_delay, Duration::from_secs(21600));
        let schemed = DockerConfig {
            socket: PathBuf::from("unix:///tmp/d.sock"),
            ..config
        };
        assert_eq!(schemed.socket_path(), PathBuf::from("/tmp/d.sock"));
    }
}
