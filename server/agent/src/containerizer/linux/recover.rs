//! Taking containers back after an agent restart, and removing orphans.
//!
//! A container launched with a checkpoint directory has there its first
//! process's record (`pid`, see [`crate::containerizer::identity`]), how it
//! ended once it has (`termination`), and what it was given
//! (`container.json`: resources, sandbox, `ContainerInfo`), written by
//! [`save`] at launch. Its cgroup, and with it its limits, never left the
//! kernel. Every cgroup under the root that no recovered container owns is
//! an orphan of a crash (a launch cut short, a framework that does not
//! checkpoint): its processes are killed and the cgroup removed; so is the
//! root filesystem of every container from an image that did not come
//! back.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meseta_proto::{json, v1};
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};

use super::{executor_directory, monitor, Entry, Kind, Shared, KILL_TIMEOUT};
use crate::containerizer::identity::ProcessRecord;
use crate::containerizer::isolators::Container;
use crate::containerizer::{container_key, RecoverRequest, RecoveredContainer};

/// The file with what a container was given.
const SAVED_FILE: &str = "container.json";

/// What a container was launched with, as saved for recovery.
#[derive(Debug, Default)]
pub(super) struct Saved {
    pub resources: Vec<v1::Resource>,
    pub sandbox: PathBuf,
    pub info: Option<v1::ContainerInfo>,
}

/// Writes what a container was given into its checkpoint directory.
pub(super) fn save(dir: &Path, saved: &Saved) -> std::io::Result<()> {
    let value = json!({
        "resources": saved.resources.iter().map(json::to_value).collect::<Vec<_>>(),
        "sandbox": saved.sandbox.display().to_string(),
        "container": saved.info.as_ref().map(json::to_value),
    });
    let temporary = dir.join(".container.json.tmp");
    std::fs::write(&temporary, value.to_string())?;
    std::fs::rename(&temporary, dir.join(SAVED_FILE))
}

fn load(dir: &Path) -> Saved {
    let Some(value) = std::fs::read(dir.join(SAVED_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    else {
        return Saved::default();
    };
    Saved {
        resources: value["resources"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| json::from_value(item).ok())
                    .collect()
            })
            .unwrap_or_default(),
        sandbox: PathBuf::from(value["sandbox"].as_str().unwrap_or_default()),
        info: json::from_value(&value["container"]).ok(),
    }
}

pub(super) async fn recover(
    shared: Arc<Shared>,
    requests: Vec<RecoverRequest>,
) -> Vec<RecoveredContainer> {
    let mut recovered = Vec::new();
    let mut owners = HashSet::new();
    for request in requests {
        let key = container_key(&request.container_id);
        let Some(record) = ProcessRecord::recover(&request.checkpoint_dir) else {
            tracing::info!(container = %key, "no process recorded for the container; it never started");
            continue;
        };
        let saved = load(&request.checkpoint_dir);
        let group = request.container_id.parent.as_deref().map(container_key);
        let cgroup = match &group {
            Some(group) => {
                rejoin_group(&shared, group, &request, &saved);
                shared
                    .hierarchy
                    .cgroup(group)
                    .child(&request.container_id.value)
            }
            None => shared.hierarchy.cgroup(&key),
        };
        owners.insert(group.clone().unwrap_or_else(|| key.clone()));
        let running = record.is_alive();
        let (tx, rx) = watch::channel(None);
        let entry = Entry {
            id: request.container_id.clone(),
            kind: Kind::Process { pid: record.pid },
            cgroup,
            parent: group,
            resources: saved.resources,
            sandbox: saved.sandbox,
            info: saved.info,
            ended: rx,
            killed: Arc::default(),
            limitation: Arc::default(),
            members: 0,
            changed: Arc::new(Notify::new()),
        };
        shared.lock().containers.insert(key.clone(), entry);
        shared.with_container(&key, |container: &Container<'_>| {
            for isolator in &shared.isolators {
                isolator.recover(container);
            }
        });
        tracing::info!(container = %key, pid = record.pid, running, "recovered container");
        tokio::spawn(monitor::watch_recovered(
            Arc::clone(&shared),
            key,
            record,
            request.checkpoint_dir.clone(),
            tx,
        ));
        recovered.push(RecoveredContainer {
            container_id: request.container_id,
            running,
        });
    }
    if let Ok(provisioner) = &shared.images {
        let keep: HashSet<String> = recovered
            .iter()
            .map(|c| container_key(&c.container_id))
            .collect();
        provisioner.recover(&keep).await;
    }
    let orphans: Vec<String> = shared
        .hierarchy
        .top_level()
        .into_iter()
        .filter(|name| !owners.contains(name))
        .collect();
    if !orphans.is_empty() {
        let hierarchy = shared.hierarchy.clone();
        let removed = tokio::task::spawn_blocking(move || {
            for name in orphans {
                let cgroup = hierarchy.cgroup(&name);
                let killed = cgroup.kill_all(KILL_TIMEOUT);
                let removed = cgroup.remove();
                match (killed, removed) {
                    (Ok(()), Ok(())) => tracing::warn!(cgroup = %name, "removed an orphan container (no recovered container owns its cgroup)"),
                    (killed, removed) => tracing::error!(cgroup = %name, ?killed, ?removed, "cannot remove an orphan container"),
                }
            }
        })
        .await;
        if let Err(error) = removed {
            tracing::error!(%error, "the orphan cleanup failed");
        }
    }
    recovered
}

/// Re-creates the entry of a recovered container's group (its cgroup and
/// limits are still there) and counts the member.
fn rejoin_group(shared: &Arc<Shared>, group: &str, request: &RecoverRequest, saved: &Saved) {
    let _serial = shared.groups.lock().unwrap_or_else(|p| p.into_inner());
    let mut table = shared.lock();
    if let Some(entry) = table.containers.get_mut(group) {
        entry.members += 1;
        entry.resources.extend(saved.resources.iter().cloned());
        return;
    }
    let Some(parent_id) = request.container_id.parent.as_deref().cloned() else {
        return;
    };
    let cgroup = shared.hierarchy.cgroup(group);
    let sandbox = executor_directory(&saved.sandbox);
    let resources = saved.resources.clone();
    super::add_group(
        shared, &mut table, group, parent_id, cgroup, resources, sandbox,
    );
}
