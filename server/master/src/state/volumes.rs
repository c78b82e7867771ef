//! Persistent volumes: the CREATE and DESTROY offer operations and the
//! operator's CREATE_VOLUMES and DESTROY_VOLUMES.
//!
//! A volume is reserved disk with a `DiskInfo` naming it (`persistence.id`)
//! and where tasks see it (`volume.container_path`). Creating one converts
//! reserved disk into the volume, destroying one converts it back (its data
//! is deleted by the agent), in place, as reservations are (see
//! [`super::reservations`]); the agent is sent its new resources and makes
//! (or removes) the volume's directory. A volume is offered back to its
//! role like the rest of its reservation, whole: a task that uses it uses
//! all of it, and a volume a task uses cannot be destroyed.

use std::time::Duration;

use meseta_allocator::Resources;
use meseta_proto::master::call as operator;
use meseta_proto::resources::{container_path_is_inside, to_refined};
use meseta_proto::v1;

use super::reservations::Conversion;
use super::{Action, CallError, Master};

impl Master {
    /// CREATE_VOLUMES: makes volumes of free reserved disk.
    pub(super) fn create_volumes(
        &mut self,
        now: Duration,
        call: operator::CreateVolumes,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let agent_id = call.agent_id.value;
        let conversion = self
            .creating(&agent_id, &call.volumes, None)
            .map_err(CallError::BadRequest)?;
        self.convert_free(now, &agent_id, &conversion, actions)
    }

    /// DESTROY_VOLUMES: deletes free volumes.
    pub(super) fn destroy_volumes(
        &mut self,
        now: Duration,
        call: operator::DestroyVolumes,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let agent_id = call.agent_id.value;
        let conversion = self.destroying(&agent_id, &call.volumes)?;
        self.convert_free(now, &agent_id, &conversion, actions)
    }

    /// Checks a CREATE: every volume is reserved disk with a new
    /// persistence ID and a relative container path, made by `principal`
    /// when the caller has one.
    pub(super) fn creating(
        &self,
        agent_id: &str,
        volumes: &[v1::Resource],
        principal: Option<&str>,
    ) -> Result<Conversion, String> {
        if volumes.is_empty() {
            return Err("A CREATE operation needs volumes to create".into());
        }
        let entries = to_refined(volumes);
        let existing = self.volume_ids(agent_id);
        let mut ids = Vec::new();
        let mut plain = Vec::with_capacity(entries.len());
        for r in &entries {
            let (id, disk) = volume_of(r)?;
            if r.reservations.is_empty() {
                return Err(format!(
                    "Volume '{id}' must be made of reserved disk (reserve it first)"
                ));
            }
            let path = disk
                .volume
                .as_ref()
                .map(|v| v.container_path.as_str())
                .unwrap_or_default();
            if !container_path_is_inside(path) {
                return Err(format!(
                    "Volume '{id}' needs a relative container_path inside the sandbox, got '{path}'"
                ));
            }
            if let (Some(expected), Some(given)) = (
                principal,
                disk.persistence
                    .as_ref()
                    .and_then(|p| p.principal.as_deref()),
            ) {
                if given != expected {
                    return Err(format!(
                        "Volume '{id}' names principal '{given}', not the framework's '{expected}'"
                    ));
                }
            }
            if existing.contains(&id) || ids.contains(&id) {
                return Err(format!(
                    "A volume with persistence ID '{id}' already exists on agent {agent_id}"
                ));
            }
            ids.push(id);
            let mut bare = r.clone();
            bare.disk = None;
            plain.push(bare);
        }
        Ok(Conversion {
            from: Resources::from_mesos(&plain),
            to: Resources::from_mesos(&entries),
            converted: entries,
        })
    }

    /// Checks a DESTROY: every entry is a volume (else `BadRequest`) that
    /// no task uses (else `Conflict`).
    pub(super) fn destroying(
        &self,
        agent_id: &str,
        volumes: &[v1::Resource],
    ) -> Result<Conversion, CallError> {
        if volumes.is_empty() {
            return Err(CallError::BadRequest(
                "A DESTROY operation needs volumes to destroy".into(),
            ));
        }
        let entries = to_refined(volumes);
        let mut plain = Vec::with_capacity(entries.len());
        for r in &entries {
            let (id, _) = volume_of(r).map_err(CallError::BadRequest)?;
            if let Some(task) = self.task_using_volume(agent_id, &id) {
                return Err(CallError::Conflict(format!(
                    "Volume '{id}' is in use by task {task}"
                )));
            }
            let mut bare = r.clone();
            bare.disk = None;
            plain.push(bare);
        }
        Ok(Conversion {
            from: Resources::from_mesos(&entries),
            to: Resources::from_mesos(&plain),
            converted: plain,
        })
    }

    fn volume_ids(&self, agent_id: &str) -> Vec<String> {
        self.agents
            .get(agent_id)
            .map(|a| {
                a.total
                    .reserved_parts()
                    .iter()
                    .filter_map(|(r, _)| r.volume.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A live task on the agent whose resources include the volume.
    fn task_using_volume(&self, agent_id: &str, id: &str) -> Option<String> {
        let agent = self.agents.get(agent_id)?;
        agent.tasks.iter().find_map(|(framework_id, task_id)| {
            let record = self.frameworks.get(framework_id)?.tasks.get(task_id)?;
            let uses = !record.resources_recovered
                && record
                    .task
                    .resources
                    .iter()
                    .any(|r| volume_id(r) == Some(id));
            uses.then(|| task_id.clone())
        })
    }

    /// A task uses each volume it names whole (a volume is one directory).
    pub(super) fn check_whole_volumes(
        &self,
        agent_id: &str,
        needed: &Resources,
    ) -> Result<(), String> {
        let Some(agent) = self.agents.get(agent_id) else {
            return Ok(());
        };
        for (reservation, part) in needed.reserved_parts() {
            let Some(id) = &reservation.volume else {
                continue;
            };
            let whole = agent
                .total
                .reserved_parts()
                .iter()
                .find(|(r, _)| r == reservation)
                .map(|(_, whole)| whole);
            if whole.is_some_and(|whole| whole != part) {
                return Err(format!(
                    "Task uses part of volume '{id}' ({part}); a volume is used whole"
                ));
            }
        }
        Ok(())
    }
}

fn volume_id(r: &v1::Resource) -> Option<&str> {
    r.disk.as_ref()?.persistence.as_ref().map(|p| p.id.as_str())
}

/// The persistence ID and disk info of a volume entry, or why it is none.
fn volume_of(r: &v1::Resource) -> Result<(String, &v1::resource::DiskInfo), String> {
    let disk = r
        .disk
        .as_deref()
        .filter(|_| r.name == "disk" && r.scalar.is_some())
        .ok_or_else(|| "A volume is a 'disk' scalar with a DiskInfo".to_string())?;
    let id = disk
        .persistence
        .as_ref()
        .map(|p| p.id.clone())
        .unwrap_or_default();
    super::accept::validate_id("Persistence", &id)?;
    Ok((id, disk))
}
