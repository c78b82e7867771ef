//! Which containerizer an agent runs tasks with (`--containerizers`,
//! `--isolation`), and the fallback when the host cannot isolate.
//!
//! * `--containerizers=mesos` (the default) isolates with `--isolation`;
//!   when that is only usage reporting (`posix/cpu,posix/mem`, Mesos's own
//!   default) tasks run as plain processes.
//! * `--containerizers=process` asks for plain processes outright.
//! * Without `--isolation`, an agent that can (root, writable cgroups)
//!   isolates with [`DEFAULT_ISOLATION`]; one that cannot falls back to
//!   plain processes and says so loudly, in its log and in `/state`. An
//!   `--isolation` the operator gave that the host cannot honour stops the
//!   agent instead: it was asked for.

use std::sync::Arc;

use meseta_proto::v1;

use super::isolators::{parse_isolation, IsolationConfig, DEFAULT_ISOLATION, NO_ISOLATION};
use super::{Containerizer, LinuxContainerizer, ProcessContainerizer};
use crate::error::AgentError;

/// The containerizer chosen, and how it isolates.
pub struct Chosen {
    /// Runs the agent's containers.
    pub containerizer: Arc<dyn Containerizer>,
    /// The isolators in force, as `--isolation` names them.
    pub isolation: String,
    /// Why isolation is off although it was the default, if it is.
    pub fallback: Option<String>,
}

/// Chooses (see the module docs).
pub fn choose(
    config: &IsolationConfig,
    agent_resources: &[v1::Resource],
) -> Result<Chosen, AgentError> {
    let mut plain = false;
    for name in &config.containerizers {
        match name.as_str() {
            "mesos" => {}
            "process" => plain = true,
            "docker" => {
                return Err(AgentError::Config(
                    "--containerizers: the docker containerizer is not available in this agent yet; use mesos".into(),
                ))
            }
            other => {
                return Err(AgentError::Config(format!(
                    "--containerizers: unknown containerizer {other:?} (valid: mesos, process)"
                )))
            }
        }
    }
    if config.containerizers.is_empty() {
        return Err(AgentError::Config(
            "--containerizers is empty (valid: mesos, process)".into(),
        ));
    }
    let explicit = config.isolation.is_some();
    let isolation = parse_isolation(config.isolation.as_deref().unwrap_or(DEFAULT_ISOLATION))
        .map_err(|e| AgentError::Config(format!("--isolation: {e}")))?;
    let switch_user = config.switch_user;
    if plain || isolation.is_plain() {
        let text = if plain {
            NO_ISOLATION.to_string()
        } else {
            isolation.text()
        };
        tracing::info!(isolation = %text, "tasks run as plain processes, without isolation");
        return Ok(Chosen {
            containerizer: Arc::new(ProcessContainerizer::new().with_switch_user(switch_user)),
            isolation: text,
            fallback: None,
        });
    }
    match LinuxContainerizer::new(isolation, config.clone(), agent_resources) {
        Ok(linux) => Ok(Chosen {
            isolation: linux.isolation(),
            containerizer: Arc::new(linux),
            fallback: None,
        }),
        Err(AgentError::CannotIsolate(reason)) if !explicit => {
            tracing::warn!(
                %reason,
                "ISOLATION IS OFF: this agent cannot isolate tasks, so they run as plain processes with no CPU, memory or process limits (run the agent as root with writable cgroups, or pass --isolation=posix/cpu,posix/mem to make this choice explicit)"
            );
            Ok(Chosen {
                containerizer: Arc::new(ProcessContainerizer::new().with_switch_user(switch_user)),
                isolation: NO_ISOLATION.to_string(),
                fallback: Some(reason),
            })
        }
        Err(e) => Err(e),
    }
}
