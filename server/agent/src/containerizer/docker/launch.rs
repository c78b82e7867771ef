//! Launching a Docker container: translate, pull, record, create, start,
//! look at it, and hand it to its watcher.
//!
//! The record goes into the checkpoint directory before the container is
//! created, so a crash at any later point leaves a container a restarted
//! agent can find by name; if the engine never made it, recovery finds
//! no such container and reports the task as never started.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use meseta_proto::v1;
use tokio::sync::watch as channel;

use super::recover::Record;
use super::translate::{self, Target};
use super::{watch, Entry, Shared};
use crate::containerizer::spawn::prepare_checkpoint_dir;
use crate::containerizer::{container_key, LaunchRequest, RunningStatus};
use crate::error::AgentError;

/// The label naming the agent (its work directory) that owns a container.
pub(crate) const WORK_DIR_LABEL: &str = "meseta.work_dir";
/// The label with the container's Mesos ID.
pub(crate) const CONTAINER_LABEL: &str = "meseta.container_id";

/// Launches `request` (see the module docs).
pub(super) async fn launch(shared: Arc<Shared>, request: LaunchRequest) -> Result<(), AgentError> {
    let key = container_key(&request.container_id);
    {
        let mut table = shared.lock();
        if table.containers.contains_key(&key) || !table.launching.insert(key.clone()) {
            return Err(AgentError::container(
                &key,
                "a container with this ID exists",
            ));
        }
    }
    let result = launch_claimed(&shared, &request, &key).await;
    shared.lock().launching.remove(&key);
    if let Err(e) = &result {
        tracing::warn!(container = %key, error = %e, "Docker container failed to launch");
    }
    result
}

async fn launch_claimed(
    shared: &Arc<Shared>,
    request: &LaunchRequest,
    key: &str,
) -> Result<(), AgentError> {
    let fail = |reason: String| AgentError::container(key, reason);
    let name = translate::container_name(&request.container_id);
    let docker = translate::docker_info(request.container.as_ref()).map_err(fail)?;
    let target = Target {
        name: &name,
        mapped_sandbox: &shared.mapped_sandbox,
        enable_cfs: shared.enable_cfs,
        labels: labels(shared, request, key),
    };
    let body = translate::create_body(request, &target)
        .map_err(|e| fail(format!("Failed to create docker run options: {e}")))?;
    let network = body
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone())
        .unwrap_or_default();
    let pulled = shared
        .engine
        .ensure_image(&docker.image, docker.force_pull_image())
        .await
        .map_err(|e| fail(e.to_string()))?;
    if let Some(took) = pulled {
        shared.pulls.fetch_add(1, Ordering::Relaxed);
        let millis = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        shared.last_pull_ms.store(millis, Ordering::Relaxed);
    }
    let record = Record {
        name: name.clone(),
        sandbox: request.sandbox.clone(),
        stdout_offset: output_size(&request.sandbox, "stdout")?,
        stderr_offset: output_size(&request.sandbox, "stderr")?,
    };
    if let Some(dir) = &request.checkpoint_dir {
        prepare_checkpoint_dir(dir)?;
        record
            .write(dir)
            .map_err(|e| AgentError::io("cannot record the Docker container in", dir, e))?;
    }
    let options = CreateContainerOptionsBuilder::new().name(&name).build();
    let created = shared
        .engine
        .quick("create the container", |c| async move {
            c.create_container(Some(options), body).await
        })
        .await;
    if let Err(e) = created {
        if e.status.is_none() {
            // No answer: the engine may still make it; do not leave it.
            let (shared, name) = (Arc::clone(shared), name.clone());
            tokio::spawn(async move { remove(&shared, &name).await });
        }
        return Err(fail(e.to_string()));
    }
    let started = shared
        .engine
        .quick("start the container", |c| {
            let name = name.clone();
            async move { c.start_container(&name, None).await }
        })
        .await;
    if let Err(e) = started {
        remove(shared, &name).await;
        return Err(fail(e.to_string()));
    }
    let inspected = watch::inspect(shared, &name).await;
    let (pid, running) = match &inspected {
        Ok(info) => (
            info.state
                .as_ref()
                .and_then(|s| s.pid)
                .and_then(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0),
            Some(running_status(info, &network, request.container.as_ref())),
        ),
        Err(error) => {
            tracing::warn!(container = %key, %error, "cannot look at the started container; its PID and addresses are unknown");
            (None, None)
        }
    };
    let (tx, rx) = channel::channel(None);
    let entry = Entry {
        name: name.clone(),
        ended: rx,
        pid,
        running,
        killed: Arc::new(AtomicBool::new(false)),
    };
    tracing::info!(container = %key, %name, image = %docker.image, %network, pid = ?pid, "Docker container started");
    watch::start(Arc::clone(shared), key.to_string(), entry, record, tx);
    Ok(())
}

/// Labels on every container: whose it is and which one it is, plus the
/// task it runs when the request says (for `docker ps --filter`).
fn labels(shared: &Shared, request: &LaunchRequest, key: &str) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (WORK_DIR_LABEL.to_string(), shared.work_dir.clone()),
        (CONTAINER_LABEL.to_string(), key.to_string()),
    ]);
    for (variable, label) in [
        ("MESOS_FRAMEWORK_ID", "meseta.framework_id"),
        ("MESOS_EXECUTOR_ID", "meseta.executor_id"),
        ("MESOS_TASK_ID", "meseta.task_id"),
    ] {
        if let Some((_, value)) = request
            .environment
            .iter()
            .rev()
            .find(|(k, _)| k == variable)
        {
            labels.insert(label.to_string(), value.clone());
        }
    }
    labels
}

/// The size of a sandbox output file (created when missing): where this
/// container's output starts in it.
fn output_size(sandbox: &Path, name: &str) -> Result<u64, AgentError> {
    let path = sandbox.join(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| AgentError::io("cannot open", &path, e))?;
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| AgentError::io("cannot measure", &path, e))
}

/// What `TASK_RUNNING` reports: the container's addresses on its network
/// (none on the host's), and the engine's description as `data`, as
/// Mesos's Docker executor sends `docker inspect`'s output.
pub(crate) fn running_status(
    info: &ContainerInspectResponse,
    network: &str,
    container: Option<&v1::ContainerInfo>,
) -> RunningStatus {
    let endpoint = info
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .and_then(|n| n.get(network));
    let ipv4 = endpoint
        .and_then(|e| e.ip_address.clone())
        .filter(|a| !a.is_empty());
    let ipv6 = endpoint
        .and_then(|e| e.global_ipv6_address.clone())
        .filter(|a| !a.is_empty());
    let mut network_infos = Vec::new();
    if ipv4.is_some() || ipv6.is_some() {
        let mut network_info = container
            .and_then(|c| c.network_infos.first().cloned())
            .unwrap_or_default();
        network_info.ip_addresses.clear();
        if let Some(address) = ipv4 {
            network_info.ip_addresses.push(v1::network_info::IpAddress {
                protocol: None,
                ip_address: Some(address),
            });
        }
        if let Some(address) = ipv6 {
            network_info.ip_addresses.push(v1::network_info::IpAddress {
                protocol: Some(v1::network_info::Protocol::IPv6 as i32),
                ip_address: Some(address),
            });
        }
        network_infos.push(network_info);
    }
    RunningStatus {
        network_infos,
        data: serde_json::to_vec(&[info]).ok(),
    }
}

/// Removes a container, forcibly, logging what fails.
pub(crate) async fn remove(shared: &Shared, name: &str) {
    let options = RemoveContainerOptionsBuilder::new().force(true).build();
    let removed = shared
        .engine
        .quick(&format!("remove the container {name}"), |c| {
            let name = name.to_string();
            async move { c.remove_container(&name, Some(options)).await }
        })
        .await;
    match removed {
        Ok(()) => tracing::debug!(%name, "Docker container removed"),
        Err(e) if e.not_found() => {}
        Err(error) => tracing::warn!(%name, %error, "cannot remove a Docker container"),
    }
}
