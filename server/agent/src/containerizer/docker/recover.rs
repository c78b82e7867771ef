//! Taking Docker containers back after an agent restart, and removing
//! orphans.
//!
//! A container's checkpoint directory holds its record (`docker.json`:
//! its name, its sandbox, where its output starts in the sandbox files),
//! written before the engine made it. A restarted agent asks the engine
//! about each recorded container: a running one is watched again (its
//! output followed from where the sandbox copy stands), an ended one is
//! reported with the engine's verdict, and one the engine does not know
//! never started. If the engine cannot be asked, recorded containers are
//! taken back as running and their watchers keep asking.
//!
//! With `--docker-kill-orphans` (the default), every container named as
//! Mesos names its containers (`mesos-<ContainerID>`, also Mesos 0.23 to
//! 1.3's `mesos-<AgentID>.<ContainerID>`) that no recovered task owns is
//! stopped and removed, in the background, so a hung engine cannot hold
//! up the agent's start. Containers labelled with another agent's work
//! directory belong to that agent and are left alone.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bollard::query_parameters::{ListContainersOptionsBuilder, StopContainerOptionsBuilder};
use serde::{Deserialize, Serialize};
use tokio::sync::watch as channel;

use super::config::API_TIMEOUT;
use super::launch::{self, running_status, WORK_DIR_LABEL};
use super::translate::NAME_PREFIX;
use super::watch::{self, inspect, is_running, termination_of};
use super::{Entry, Shared};
use crate::containerizer::{container_key, RecoverRequest, RecoveredContainer};
use crate::error::AgentError;

/// The record's file in a container's checkpoint directory.
const RECORD_FILE: &str = "docker.json";

/// What the agent keeps of a Docker container to find it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Its name in the engine.
    pub name: String,
    /// Its sandbox on the host.
    pub sandbox: PathBuf,
    /// The size of the sandbox's `stdout` when it started.
    pub stdout_offset: u64,
    /// The size of the sandbox's `stderr` when it started.
    pub stderr_offset: u64,
}

impl Record {
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let temporary = dir.join(".docker.json.tmp");
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, dir.join(RECORD_FILE))
    }

    pub fn read(dir: &Path) -> Option<Self> {
        let bytes = std::fs::read(dir.join(RECORD_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Takes back the recorded containers among `requests` (the others are
/// not this containerizer's) and starts the orphan sweep.
pub(super) async fn recover(
    shared: Arc<Shared>,
    requests: Vec<RecoverRequest>,
) -> Result<Vec<RecoveredContainer>, AgentError> {
    let records: Vec<(RecoverRequest, Record)> = requests
        .into_iter()
        .filter_map(|r| Record::read(&r.checkpoint_dir).map(|record| (r, record)))
        .collect();
    let looks = futures::future::join_all(
        records
            .iter()
            .map(|(_, record)| inspect(&shared, &record.name)),
    )
    .await;
    let mut recovered = Vec::new();
    for ((request, record), look) in records.into_iter().zip(looks) {
        let key = container_key(&request.container_id);
        let (tx, rx) = channel::channel(None);
        let mut entry = Entry {
            name: record.name.clone(),
            ended: rx,
            pid: None,
            running: None,
            killed: Arc::new(AtomicBool::new(false)),
        };
        let running = match look {
            Ok(info) if is_running(&info) => {
                let network = info
                    .host_config
                    .as_ref()
                    .and_then(|h| h.network_mode.clone())
                    .unwrap_or_default();
                entry.pid = info
                    .state
                    .as_ref()
                    .and_then(|s| s.pid)
                    .and_then(|p| u32::try_from(p).ok())
                    .filter(|p| *p > 0);
                entry.running = Some(running_status(&info, &network, None));
                true
            }
            Ok(info) => {
                let termination = termination_of(&info, false);
                tracing::info!(container = %key, ?termination, "the Docker container ended while the agent was away");
                let _ = tx.send(Some(termination));
                shared.lock().containers.insert(key.clone(), entry);
                shared.retire(key);
                watch::remove_later(Arc::clone(&shared), record.name.clone());
                recovered.push(RecoveredContainer {
                    container_id: request.container_id,
                    running: false,
                });
                continue;
            }
            Err(e) if e.not_found() => {
                tracing::info!(container = %key, name = %record.name, "the engine has no such container; it never started");
                continue;
            }
            Err(error) => {
                tracing::warn!(container = %key, %error, "cannot ask the engine about a recorded Docker container; taking it back as running");
                true
            }
        };
        tracing::info!(container = %key, name = %record.name, pid = ?entry.pid, "recovered Docker container");
        watch::start(Arc::clone(&shared), key, entry, record, tx);
        recovered.push(RecoveredContainer {
            container_id: request.container_id,
            running,
        });
    }
    if shared.config.kill_orphans {
        tokio::spawn(remove_orphans(Arc::clone(&shared)));
    }
    Ok(recovered)
}

/// The container ID in a name Mesos gave (with or without the leading
/// `/` the engine shows), if it is one.
pub(crate) fn parse_name(name: &str) -> Option<String> {
    let rest = name.trim_start_matches('/').strip_prefix(NAME_PREFIX)?;
    let id = if rest.contains('.') {
        let parts: Vec<&str> = rest.split('.').collect();
        match parts.len() {
            2 | 3 => parts[1],
            _ => return None,
        }
    } else {
        rest
    };
    uuid::Uuid::parse_str(id).ok().map(|_| id.to_string())
}

/// Stops and removes every orphan (see the module docs).
async fn remove_orphans(shared: Arc<Shared>) {
    let filters = HashMap::from([("name", vec![NAME_PREFIX])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let listed = shared
        .engine
        .quick("list the containers", |c| async move {
            c.list_containers(Some(options)).await
        })
        .await;
    let containers = match listed {
        Ok(containers) => containers,
        Err(error) => {
            tracing::warn!(%error, "cannot look for orphaned Docker containers");
            return;
        }
    };
    let mut sweeps = Vec::new();
    for container in containers {
        let Some(name) = container
            .names
            .iter()
            .flatten()
            .find_map(|n| parse_name(n).map(|id| (n, id)))
        else {
            continue;
        };
        let (name, id) = (name.0.trim_start_matches('/').to_string(), name.1);
        let owner = container
            .labels
            .as_ref()
            .and_then(|l| l.get(WORK_DIR_LABEL));
        if owner.is_some_and(|o| *o != shared.work_dir) {
            continue;
        }
        let known: HashSet<String> = {
            let table = shared.lock();
            table
                .containers
                .keys()
                .chain(table.launching.iter())
                .cloned()
                .collect()
        };
        if known.contains(&id) {
            continue;
        }
        tracing::info!(%name, "removing an orphaned Docker container");
        sweeps.push(remove_orphan(Arc::clone(&shared), name));
    }
    futures::future::join_all(sweeps).await;
}

async fn remove_orphan(shared: Arc<Shared>, name: String) {
    let grace = shared.config.stop_timeout;
    if !grace.is_zero() {
        let seconds = i32::try_from(grace.as_secs().max(1)).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(seconds).build();
        let stopped = shared
            .engine
            .call("stop an orphaned container", grace + API_TIMEOUT, |c| {
                let name = name.clone();
                async move { c.stop_container(&name, Some(options)).await }
            })
            .await;
        if let Err(error) = stopped {
            tracing::debug!(%name, %error, "cannot stop an orphaned container; removing it by force");
        }
    }
    launch::remove(&shared, &name).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b5a7d0e-3c57-4f47-9f6c-4c3f2e0e8d11";

    #[test]
    fn names_mesos_gave_are_recognised() {
        assert_eq!(parse_name(&format!("/mesos-{ID}")), Some(ID.to_string()));
        assert_eq!(
            parse_name(&format!("mesos-agent-S1.{ID}")),
            Some(ID.to_string())
        );
        assert_eq!(
            parse_name(&format!("mesos-agent-S1.{ID}.executor")),
            Some(ID.to_string())
        );
        assert_eq!(parse_name("mesos-not-a-uuid"), None);
        assert_eq!(parse_name(&format!("other-{ID}")), None);
    }
}
