//! Launching a container: its image provisioned (if it has one), prepare,
//! cgroup with limits, spawn, watch.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use tokio::sync::{watch, Notify};

use super::{executor_directory, monitor, Entry, Kind, Shared};
use crate::containerizer::cgroups::{Cgroup, Controller};
use crate::containerizer::isolators::{Container, Launch};
use crate::containerizer::new_root::NewRoot;
use crate::containerizer::program::{Credentials, MountCall, Program};
use crate::containerizer::provisioner::Provisioned;
use crate::containerizer::spawn::{spawn_in, ImageRun, Spawned};
use crate::containerizer::{container_key, image_of, refuse_unsupported, users, LaunchRequest};
use crate::error::AgentError;

pub(super) async fn launch(shared: Arc<Shared>, request: LaunchRequest) -> Result<(), AgentError> {
    let key = container_key(&request.container_id);
    refuse_unsupported(&key, request.container.as_ref())?;
    if shared.lock().containers.contains_key(&key) {
        return Err(AgentError::container(
            &key,
            "a container with this ID exists",
        ));
    }
    let provisioned = match image_of(request.container.as_ref()) {
        Some(image) => {
            let provisioner = shared.images.as_ref().map_err(|why| {
                AgentError::container(
                    &key,
                    format!("container images cannot run on this agent: {why}"),
                )
            })?;
            let made = provisioner.provision(&key, image).await;
            Some(made.map_err(|e| AgentError::container(&key, e))?)
        }
        None => None,
    };
    let launched = launch_in(Arc::clone(&shared), &key, &request, provisioned.as_ref()).await;
    if launched.is_err() && provisioned.is_some() {
        if let Ok(provisioner) = &shared.images {
            provisioner.destroy(&key).await;
        }
    }
    launched
}

/// The launch once the container's root filesystem (if any) is made.
async fn launch_in(
    shared: Arc<Shared>,
    key: &str,
    request: &LaunchRequest,
    provisioned: Option<&Provisioned>,
) -> Result<(), AgentError> {
    let key = key.to_string();
    let credentials = credentials(&shared, request.user.as_deref(), &key)?;
    if let Some(credentials) = &credentials {
        let (sandbox, who) = (request.sandbox.clone(), credentials.clone());
        tokio::task::spawn_blocking(move || users::chown_tree(&sandbox, &who))
            .await
            .map_err(|e| AgentError::container(&key, e.to_string()))?
            .map_err(|e| {
                AgentError::container(
                    &key,
                    format!(
                        "cannot give the sandbox to user {:?}: {e}",
                        credentials.user
                    ),
                )
            })?;
    }
    let parent = request.container_id.parent.as_deref().map(container_key);
    let cgroup = match &parent {
        Some(group) => join_group(&shared, group, request)?.child(&request.container_id.value),
        None => shared.hierarchy.cgroup(&key),
    };
    let started = start(
        &shared,
        &key,
        request,
        &cgroup,
        parent.is_some(),
        credentials,
        provisioned,
    );
    let spawned = match started {
        Ok(spawned) => spawned,
        Err(e) => {
            if let Err(error) = cgroup.remove() {
                tracing::warn!(container = %key, %error, "cannot remove the cgroup of a container that failed to start");
            }
            for isolator in &shared.isolators {
                isolator.cleanup(&request.container_id);
            }
            if let Some(group) = &parent {
                leave_group(&shared, group);
            }
            return Err(e);
        }
    };
    if let Some(dir) = &request.checkpoint_dir {
        let saved = super::recover::Saved {
            resources: request.resources.clone(),
            sandbox: request.sandbox.clone(),
            info: request.container.clone(),
        };
        if let Err(error) = super::recover::save(dir, &saved) {
            tracing::warn!(container = %key, %error, "cannot save what the container was given; after a restart its checks lack it");
        }
    }
    let (tx, rx) = watch::channel(None);
    let entry = Entry {
        id: request.container_id.clone(),
        kind: Kind::Process { pid: spawned.pid },
        cgroup,
        parent,
        resources: request.resources.clone(),
        sandbox: request.sandbox.clone(),
        info: request.container.clone(),
        ended: rx,
        killed: Arc::default(),
        limitation: Arc::default(),
        members: 0,
        changed: Arc::new(Notify::new()),
    };
    tracing::debug!(container = %key, pid = spawned.pid, "container started");
    shared.lock().containers.insert(key.clone(), entry);
    let Spawned { child, .. } = spawned;
    tokio::spawn(monitor::watch_process(shared, key, child, tx));
    Ok(())
}

/// Who the command runs as: its user when `--switch-user` is on and the
/// agent is root (it always is here).
fn credentials(
    shared: &Shared,
    user: Option<&str>,
    key: &str,
) -> Result<Option<Credentials>, AgentError> {
    let Some(user) = user.filter(|u| shared.config.switch_user && !u.is_empty()) else {
        return Ok(None);
    };
    users::credentials(user)
        .map(Some)
        .map_err(|e| AgentError::container(key, e))
}

/// Prepares the isolators, creates the cgroup with its limits and starts
/// the container's first process in it.
fn start(
    shared: &Shared,
    key: &str,
    request: &LaunchRequest,
    cgroup: &Cgroup,
    nested: bool,
    credentials: Option<Credentials>,
    provisioned: Option<&Provisioned>,
) -> Result<Spawned, AgentError> {
    let mut launch = Launch::default();
    {
        let container = Container {
            id: &request.container_id,
            cgroup,
            sandbox: &request.sandbox,
            resources: &request.resources,
            info: request.container.as_ref(),
            nested,
            image: provisioned.map(|p| &p.config),
            command: Some(&request.command),
        };
        for isolator in &shared.isolators {
            isolator
                .prepare(&container, &mut launch)
                .map_err(|e| AgentError::container(key, format!("{}: {e}", isolator.name())))?;
        }
    }
    if let Some(hostname) = request.container.as_ref().and_then(|c| c.hostname.clone()) {
        launch.namespaces |= libc::CLONE_NEWUTS;
        launch.hostname = Some(hostname);
    }
    let root = match provisioned {
        Some(_) if !launch.pid_namespace => {
            return Err(AgentError::container(
                key,
                "a container from an image needs namespaces/pid in --isolation",
            ))
        }
        Some(provisioned) => Some(
            super::image::new_root(
                &provisioned.rootfs,
                &launch,
                &shared.config.sandbox_directory,
            )
            .map_err(|e| {
                AgentError::container(
                    key,
                    format!(
                        "cannot prepare the root filesystem of {}: {e}",
                        provisioned.image
                    ),
                )
            })?,
        ),
        None => None,
    };
    cgroup
        .create()
        .map_err(|e| AgentError::container(key, e.to_string()))?;
    if !nested {
        let limits = shared
            .lock()
            .pending_limits
            .remove(key)
            .unwrap_or_else(|| request.resources.clone());
        set_devices(cgroup, &launch).map_err(|e| AgentError::container(key, e))?;
        shared
            .apply_limits(cgroup, &limits)
            .map_err(|e| AgentError::container(key, e))?;
    }
    let program = program(cgroup, launch.namespaces, &launch, credentials, root)
        .map_err(|e| AgentError::container(key, e))?;
    let image = provisioned.map(|_| ImageRun {
        command: launch.command.as_ref(),
        environment: &launch.image_environment,
    });
    spawn_in(key, request, program, &launch.environment, image)
}

/// The device whitelist, when the devices controller is in use.
fn set_devices(cgroup: &Cgroup, launch: &Launch) -> Result<(), String> {
    if cgroup.dir(Controller::Devices).is_none() {
        return Ok(());
    }
    let mut rules = crate::containerizer::isolators::DEFAULT_DEVICES.to_vec();
    rules.extend(launch.devices.iter().cloned());
    cgroup
        .set_devices(&rules)
        .map_err(|e| format!("cannot set the device whitelist: {e}"))
}

fn c_string(text: &[u8], what: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("{what} holds a NUL byte"))
}

/// The steps before `exec` (see [`crate::containerizer::program`]).
fn program(
    cgroup: &Cgroup,
    namespaces: libc::c_int,
    launch: &Launch,
    credentials: Option<Credentials>,
    root: Option<NewRoot>,
) -> Result<Program, String> {
    let join = cgroup
        .procs_files()
        .iter()
        .map(|p| c_string(p.as_os_str().as_bytes(), "a cgroup path"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut mounts = Vec::new();
    if namespaces & libc::CLONE_NEWNS != 0 {
        // Mounts made in the container stay there; the host's still arrive.
        mounts.push(MountCall {
            source: None,
            target: c"/".into(),
            fstype: None,
            flags: (libc::MS_REC | libc::MS_SLAVE) as libc::c_ulong,
            data: None,
            what: "make the container's mounts its own".to_string(),
        });
    }
    // With a root of its own, the isolators' mounts are made inside it.
    if root.is_none() {
        mounts.extend(launch.mounts.iter().cloned());
    }
    let hostname = launch
        .hostname
        .as_ref()
        .map(|h| c_string(h.as_bytes(), "the hostname"))
        .transpose()?;
    Ok(Program {
        supervise: launch.pid_namespace,
        termination: None,
        join,
        unshare: namespaces,
        mounts,
        hostname,
        pid_namespace: launch.pid_namespace,
        rlimits: launch.rlimits.clone(),
        credentials,
        root,
        ..Program::default()
    })
}

/// The cgroup of the group `group` (a default executor's), created with
/// its limits when this is its first container; counts the new member.
fn join_group(
    shared: &Arc<Shared>,
    group: &str,
    request: &LaunchRequest,
) -> Result<Cgroup, AgentError> {
    let _serial = shared.groups.lock().unwrap_or_else(|p| p.into_inner());
    {
        let mut table = shared.lock();
        if let Some(entry) = table.containers.get_mut(group) {
            if entry.ended.borrow().is_none() {
                entry.members += 1;
                return Ok(entry.cgroup.clone());
            }
        }
    }
    let cgroup = shared.hierarchy.cgroup(group);
    let limits = shared
        .lock()
        .pending_limits
        .remove(group)
        .unwrap_or_else(|| request.resources.clone());
    let made = cgroup
        .create()
        .map_err(|e| e.to_string())
        .and_then(|()| set_devices(&cgroup, &Launch::default()))
        .and_then(|()| shared.apply_limits(&cgroup, &limits));
    if let Err(e) = made {
        let _ = cgroup.remove();
        return Err(AgentError::container(group, e));
    }
    let Some(parent_id) = request.container_id.parent.as_deref().cloned() else {
        return Err(AgentError::container(group, "a group needs a parent ID"));
    };
    tracing::debug!(container = %group, "container group created");
    let sandbox = executor_directory(&request.sandbox);
    let mut table = shared.lock();
    super::add_group(
        shared,
        &mut table,
        group,
        parent_id,
        cgroup.clone(),
        limits,
        sandbox,
    );
    Ok(cgroup)
}

/// A member of `group` ended (or never started).
pub(super) fn leave_group(shared: &Shared, group: &str) {
    let mut table = shared.lock();
    if let Some(entry) = table.containers.get_mut(group) {
        entry.members = entry.members.saturating_sub(1);
        entry.changed.notify_one();
    }
}
