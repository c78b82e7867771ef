//! A launch request as the engine's "create container" body: what Mesos's
//! Docker containerizer turns into `docker run` flags, here as API fields.
//!
//! The rules are Mesos's, so that a framework's `DockerInfo` means the
//! same on both:
//! * network `HOST` unless set; `USER` joins the one named network of
//!   `ContainerInfo.network_infos`; a hostname cannot go with `HOST`;
//!   port mappings only on bridge and user networks, each host port among
//!   the container's `ports`;
//! * volumes: a relative `container_path` is below the mapped sandbox, a
//!   relative `host_path` below the host sandbox (not both relative); the
//!   sandbox itself is bound at `--sandbox-directory`
//!   (`/mnt/mesos/sandbox`), which `MESOS_SANDBOX` names;
//! * `cpus` is 1024 shares per CPU (at least 2), a CFS quota with
//!   `--cgroups-enable-cfs`; `mem` the memory limit (at least 32 MB);
//! * a shell command replaces the image's entrypoint with `/bin/sh -c`;
//!   otherwise `value` and `arguments`, when given, replace the image's
//!   default command (as arguments of its entrypoint).
//!
//! Pure functions of the request: unit-tested without an engine.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{ContainerCreateBody, HostConfig};
use meseta_proto::resources::{range_spans, scalar_total};
use meseta_proto::v1::{self, container_info::docker_info::Network, volume};

use super::parameters;
use crate::containerizer::isolators::{cfs_quota, memory_limit, shares};
use crate::containerizer::{container_key, LaunchRequest};

/// Mesos's prefix of the containers it names.
pub(crate) const NAME_PREFIX: &str = "mesos-";

/// What the body needs besides the request.
#[derive(Debug, Clone)]
pub(crate) struct Target<'a> {
    /// The container's name in the engine.
    pub name: &'a str,
    /// Where the sandbox is inside the container (`--sandbox-directory`).
    pub mapped_sandbox: &'a Path,
    /// `--cgroups-enable-cfs`.
    pub enable_cfs: bool,
    /// Labels that let the agent find its containers again.
    pub labels: HashMap<String, String>,
}

/// `mesos-<ContainerID>`, the name Mesos (1.4 and later) gives a
/// container.
pub(crate) fn container_name(id: &v1::ContainerId) -> String {
    format!("{NAME_PREFIX}{}", container_key(id))
}

/// The `DockerInfo` of a container, with Mesos's error when missing.
pub(crate) fn docker_info(
    info: Option<&v1::ContainerInfo>,
) -> Result<&v1::container_info::DockerInfo, String> {
    info.and_then(|i| i.docker.as_ref())
        .ok_or_else(|| "No docker info found in container info".to_string())
}

/// The body of the engine's "create container" call for `request`.
pub(crate) fn create_body(
    request: &LaunchRequest,
    target: &Target<'_>,
) -> Result<ContainerCreateBody, String> {
    let info = request
        .container
        .as_ref()
        .ok_or_else(|| "No container info found".to_string())?;
    let docker = docker_info(Some(info))?;
    if docker.image.trim().is_empty() {
        return Err("DockerInfo.image is empty".into());
    }
    let mut host = HostConfig {
        privileged: Some(docker.privileged()),
        ..Default::default()
    };
    limits(&request.resources, target.enable_cfs, &mut host);
    let (binds, driver) = volumes(info, docker, &request.sandbox, target.mapped_sandbox)?;
    host.binds = Some(binds);
    host.volume_driver = driver;
    let mut body = ContainerCreateBody {
        image: Some(docker.image.clone()),
        env: Some(environment(request, target)),
        labels: Some(target.labels.clone()),
        ..Default::default()
    };
    let mut network = network_mode(info, docker)?;
    if let Some(hostname) = info.hostname.as_ref().filter(|h| !h.is_empty()) {
        if network == "host" {
            return Err("Unable to set hostname with host network mode".into());
        }
        body.hostname = Some(hostname.clone());
    }
    port_mappings(docker, &network, &request.resources, &mut body, &mut host)?;
    // A network parameter overrides DockerInfo.network, as in Mesos.
    let is_network = |p: &&v1::Parameter| matches!(p.key.as_str(), "net" | "network");
    let mut networks = docker.parameters.iter().filter(is_network);
    if let Some(chosen) = networks.next() {
        network.clone_from(&chosen.value);
    }
    if networks.next().is_some() {
        return Err("DockerInfo parameters name more than one network".into());
    }
    host.network_mode = Some(network);
    for parameter in docker.parameters.iter().filter(|p| !is_network(p)) {
        parameters::apply(&parameter.key, &parameter.value, &mut body, &mut host)?;
    }
    command(&request.command, &mut body)?;
    body.host_config = Some(host);
    Ok(body)
}

/// The Docker network mode (`host`, `bridge`, `none`, or a network name).
pub(crate) fn network_mode(
    info: &v1::ContainerInfo,
    docker: &v1::container_info::DockerInfo,
) -> Result<String, String> {
    let network = match docker.network {
        None => Network::Host,
        Some(n) => Network::try_from(n).map_err(|_| format!("Unsupported Network mode: {n}"))?,
    };
    Ok(match network {
        Network::Host => "host".into(),
        Network::Bridge => "bridge".into(),
        Network::None => "none".into(),
        Network::User => {
            let [only] = info.network_infos.as_slice() else {
                return Err(if info.network_infos.is_empty() {
                    "No network info found in container info".into()
                } else {
                    "Only a single network can be defined in Docker run".into()
                });
            };
            only.name
                .clone()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| "No network name found in network info".to_string())?
        }
    })
}

/// Shares, quota and memory limit from `cpus` and `mem`, as the cgroups
/// isolators set them (only for resources the container has).
fn limits(resources: &[v1::Resource], enable_cfs: bool, host: &mut HostConfig) {
    if resources.iter().any(|r| r.name == "cpus") {
        let cpus = scalar_total(resources, "cpus");
        host.cpu_shares = i64::try_from(shares(cpus)).ok();
        if enable_cfs {
            host.cpu_quota = i64::try_from(cfs_quota(cpus).as_micros()).ok();
        }
    }
    if resources.iter().any(|r| r.name == "mem") {
        host.memory = i64::try_from(memory_limit(scalar_total(resources, "mem"))).ok();
    }
}

/// The container's variables: the request's, with the sandbox as the
/// container sees it; later ones win.
fn environment(request: &LaunchRequest, target: &Target<'_>) -> Vec<String> {
    let mapped = target.mapped_sandbox.display().to_string();
    let mut variables: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: String| match variables.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => variables.push((key.to_string(), value)),
    };
    for (key, value) in &request.environment {
        set(key, value.clone());
    }
    if let Some(role) = request
        .resources
        .first()
        .and_then(|r| r.allocation_info.as_ref())
        .and_then(|a| a.role.clone())
    {
        set("MESOS_ALLOCATION_ROLE", role);
    }
    set("MESOS_SANDBOX", mapped.clone());
    set("MESOS_DIRECTORY", mapped);
    set("MESOS_CONTAINER_NAME", target.name.to_string());
    variables
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// Bind mounts (`source:target:mode`) with the sandbox last, and the
/// volume driver if one is named.
#[allow(deprecated)] // DockerInfo.volume_driver: deprecated, still honoured as in Mesos.
fn volumes(
    info: &v1::ContainerInfo,
    docker: &v1::container_info::DockerInfo,
    sandbox: &Path,
    mapped: &Path,
) -> Result<(Vec<String>, Option<String>), String> {
    let mut binds = Vec::new();
    let mut driver: Option<String> = None;
    for volume in &info.volumes {
        let target = mapped.join(&volume.container_path).display().to_string();
        let mode = match volume::Mode::try_from(volume.mode) {
            Ok(volume::Mode::Rw) => "rw",
            Ok(volume::Mode::Ro) => "ro",
            Err(_) => return Err("Unsupported volume mode".into()),
        };
        if let Some(host_path) = &volume.host_path {
            let host_relative = !Path::new(host_path).is_absolute();
            if host_relative && !Path::new(&volume.container_path).is_absolute() {
                return Err(format!(
                    "Both host_path '{host_path}' and container_path '{}' of a volume are relative",
                    volume.container_path
                ));
            }
            let source = if host_relative && docker.volume_driver.is_none() {
                sandbox.join(host_path).display().to_string()
            } else {
                host_path.clone()
            };
            binds.push(format!("{source}:{target}:{mode}"));
        } else if let Some(source) = &volume.source {
            let named = source
                .docker_volume
                .as_ref()
                .filter(|_| source.r#type == Some(volume::source::Type::DockerVolume as i32));
            let Some(named) = named else {
                tracing::debug!(container_path = %volume.container_path, "a volume of a type other than DOCKER_VOLUME is ignored by the Docker containerizer");
                continue;
            };
            if let Some(wanted) = named.driver.as_ref() {
                if driver.as_ref().is_some_and(|d| d != wanted) {
                    return Err("Only one volume driver is supported".into());
                }
                driver = Some(wanted.clone());
            }
            binds.push(format!("{}:{target}:{mode}", named.name));
        } else {
            return Err("Host path or volume source is required".into());
        }
    }
    binds.push(format!("{}:{}", sandbox.display(), mapped.display()));
    if let Some(wanted) = &docker.volume_driver {
        if driver.as_ref().is_some_and(|d| d != wanted) {
            return Err("Only one volume driver per task is supported".into());
        }
        driver = Some(wanted.clone());
    }
    Ok((binds, driver))
}

/// `DockerInfo.port_mappings` as port bindings, each host port checked
/// against the container's `ports`.
fn port_mappings(
    docker: &v1::container_info::DockerInfo,
    network: &str,
    resources: &[v1::Resource],
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
) -> Result<(), String> {
    if docker.port_mappings.is_empty() {
        return Ok(());
    }
    if network == "host" || network == "none" {
        return Err("Port mappings are only supported for bridge and user-defined networks".into());
    }
    let ports = range_spans(resources, "ports");
    if ports.is_empty() {
        return Err("Port mappings require port resources".into());
    }
    for mapping in &docker.port_mappings {
        let port = u64::from(mapping.host_port);
        if !ports
            .iter()
            .any(|(begin, end)| (*begin..=*end).contains(&port))
        {
            return Err(format!("Port [{port}] not included in resources"));
        }
        let protocol = mapping
            .protocol
            .as_deref()
            .map_or_else(|| "tcp".to_string(), str::to_lowercase);
        parameters::publish(
            body,
            host,
            &format!("{}/{protocol}", mapping.container_port),
            None,
            Some(mapping.host_port.to_string()),
        );
    }
    Ok(())
}

/// Entrypoint and arguments from the command (see the module docs).
fn command(command: &v1::CommandInfo, body: &mut ContainerCreateBody) -> Result<(), String> {
    if command.shell() {
        let Some(value) = &command.value else {
            return Err("Shell specified but no command value provided".into());
        };
        body.entrypoint = Some(vec!["/bin/sh".into()]);
        body.cmd = Some(vec!["-c".into(), value.clone()]);
        return Ok(());
    }
    let arguments: Vec<String> = command
        .value
        .iter()
        .chain(command.arguments.iter())
        .cloned()
        .collect();
    if !arguments.is_empty() {
        body.cmd = Some(arguments);
    }
    Ok(())
}
