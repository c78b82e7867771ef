//! Which containerizer an agent runs tasks with (`--containerizers`,
//! `--isolation`), and the fallback when the host cannot isolate.
//!
//! * `--containerizers=mesos` (the default) isolates with `--isolation`;
//!   when that is only usage reporting (`posix/cpu,posix/mem`, Mesos's own
//!   default) tasks run as plain processes.
//! * `--containerizers=process` asks for plain processes outright.
//! * `docker` in the list (`docker,mesos`, Mesos's way) adds the Docker
//!   containerizer for `ContainerInfo.type=DOCKER`, the others running as
//!   above ([`CompositeContainerizer`]). Its engine is not contacted at
//!   start: an engine that is down fails Docker launches, not the agent.
//! * Without `--isolation`, an agent that can (root, writable cgroups)
//!   isolates with [`DEFAULT_ISOLATION`]; one that cannot falls back to
//!   plain processes and says so loudly, in its log and in `/state`. An
//!   `--isolation` the operator gave that the host cannot honour stops the
//!   agent instead: it was asked for.

use std::sync::Arc;

use meseta_proto::v1;

use super::isolators::{parse_isolation, IsolationConfig, DEFAULT_ISOLATION, NO_ISOLATION};
use super::{
    CompositeContainerizer, Containerizer, DockerContainerizer, LinuxContainerizer,
    ProcessContainerizer,
};
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
    let mut mesos = false;
    // Some(true): docker comes first in the list.
    let mut docker = None;
    for name in &config.containerizers {
        match name.as_str() {
            "mesos" => mesos = true,
            "process" => {
                plain = true;
                mesos = true;
            }
            "docker" => docker = Some(!mesos),
            other => {
                let valid = "valid: mesos, process, docker";
                return Err(AgentError::Config(format!(
                    "--containerizers: unknown containerizer {other:?} ({valid})"
                )));
            }
        }
    }
    if config.containerizers.is_empty() {
        return Err(AgentError::Config(
            "--containerizers is empty (valid: mesos, process, docker)".into(),
        ));
    }
    let Some(docker_first) = docker else {
        return choose_mesos(config, agent_resources, plain);
    };
    let other = mesos
        .then(|| choose_mesos(config, agent_resources, plain))
        .transpose()?;
    let engine = DockerContainerizer::new(
        config.docker.clone(),
        config.sandbox_directory.clone(),
        config.cgroups_enable_cfs,
        config.work_dir.clone(),
    );
    tracing::info!(socket = %config.docker.socket.display(), containerizers = %config.containerizers.join(","), "Docker containers run through the Docker engine");
    let (isolation, fallback, other) = match other {
        Some(chosen) => (
            chosen.isolation,
            chosen.fallback,
            Some(chosen.containerizer),
        ),
        None => (NO_ISOLATION.to_string(), None, None),
    };
    Ok(Chosen {
        containerizer: Arc::new(CompositeContainerizer::new(
            engine,
            other,
            docker_first,
            config.containerizers.join(","),
        )),
        isolation,
        fallback,
    })
}

/// The Mesos containerizer: isolated as `--isolation` says, or plain
/// processes.
fn choose_mesos(
    config: &IsolationConfig,
    agent_resources: &[v1::Resource],
    plain: bool,
) -> Result<Chosen, AgentError> {
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
