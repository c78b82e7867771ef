//! `DockerInfo.parameters`: Mesos hands each one to `docker run` as
//! `--key=value`; this agent speaks the engine's API, so each flag is
//! mapped to the API field `docker run` would set.
//!
//! The flags frameworks pass in practice are covered (labels, variables,
//! user, capabilities, devices, ulimits, DNS, extra hosts, tmpfs, shared
//! memory, memory and CPU knobs, namespaces, logging, ...). A flag with no
//! mapping fails the launch naming it, rather than being dropped quietly;
//! so do flags that would take the container's life out of the agent's
//! hands (`rm`, `restart`, `detach`, `name`).

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, HostConfig, HostConfigLogConfig,
    NetworkingConfig, PortBinding, ResourcesUlimits,
};

/// Applies `--key=value` to the body.
pub(crate) fn apply(
    key: &str,
    value: &str,
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
) -> Result<(), String> {
    let text = || value.to_string();
    let number = || parse_number(key, value);
    let bytes = || parse_bytes(value).ok_or_else(|| format!("--{key}={value}: not a size"));
    match key {
        "label" | "l" => {
            let (k, v) = value.split_once('=').unwrap_or((value, ""));
            body.labels
                .get_or_insert_with(HashMap::new)
                .insert(k.to_string(), v.to_string());
        }
        "env" | "e" => body.env.get_or_insert_with(Vec::new).push(text()),
        "user" | "u" => body.user = Some(text()),
        "workdir" | "w" => body.working_dir = Some(text()),
        "hostname" | "h" => body.hostname = Some(text()),
        "domainname" => body.domainname = Some(text()),
        "entrypoint" => body.entrypoint = Some(vec![text()]),
        "expose" => body.exposed_ports.get_or_insert_with(Vec::new).push(with_protocol(value)),
        "stop-signal" => body.stop_signal = Some(text()),
        "stop-timeout" => body.stop_timeout = Some(number()?),
        "tty" | "t" => body.tty = Some(flag(key, value)?),
        "publish" | "p" => publish_text(value, body, host)?,
        "network-alias" | "net-alias" | "ip" | "ip6" => endpoint(key, value, body, host),
        "add-host" => push(&mut host.extra_hosts, value),
        "cap-add" => push(&mut host.cap_add, value),
        "cap-drop" => push(&mut host.cap_drop, value),
        "security-opt" => push(&mut host.security_opt, value),
        "dns" => push(&mut host.dns, value),
        "dns-search" => push(&mut host.dns_search, value),
        "dns-opt" | "dns-option" => push(&mut host.dns_options, value),
        "group-add" => push(&mut host.group_add, value),
        "volume" | "v" => push(&mut host.binds, value),
        "volumes-from" => push(&mut host.volumes_from, value),
        "link" => push(&mut host.links, value),
        "device-cgroup-rule" => push(&mut host.device_cgroup_rules, value),
        "device" => host.devices.get_or_insert_with(Vec::new).push(device(value)),
        "ulimit" => host.ulimits.get_or_insert_with(Vec::new).push(ulimit(value)?),
        "tmpfs" => {
            let (path, options) = value.split_once(':').unwrap_or((value, ""));
            host.tmpfs
                .get_or_insert_with(HashMap::new)
                .insert(path.to_string(), options.to_string());
        }
        "sysctl" => {
            let (k, v) = value.split_once('=').unwrap_or((value, ""));
            host.sysctls
                .get_or_insert_with(HashMap::new)
                .insert(k.to_string(), v.to_string());
        }
        "storage-opt" => {
            let (k, v) = value.split_once('=').unwrap_or((value, ""));
            host.storage_opt
                .get_or_insert_with(HashMap::new)
                .insert(k.to_string(), v.to_string());
        }
        "log-driver" => host.log_config.get_or_insert_with(HostConfigLogConfig::default).typ = Some(text()),
        "log-opt" => {
            let (k, v) = value.split_once('=').unwrap_or((value, ""));
            host.log_config
                .get_or_insert_with(HostConfigLogConfig::default)
                .config
                .get_or_insert_with(HashMap::new)
                .insert(k.to_string(), v.to_string());
        }
        "shm-size" => host.shm_size = Some(bytes()?),
        "memory" | "m" => host.memory = Some(bytes()?),
        "memory-swap" => host.memory_swap = Some(if value == "-1" { -1 } else { bytes()? }),
        "memory-reservation" => host.memory_reservation = Some(bytes()?),
        "memory-swappiness" => host.memory_swappiness = Some(number()?),
        "oom-kill-disable" => host.oom_kill_disable = Some(flag(key, value)?),
        "oom-score-adj" => host.oom_score_adj = Some(number()?),
        "cpu-shares" | "c" => host.cpu_shares = Some(number()?),
        "cpu-period" => host.cpu_period = Some(number()?),
        "cpu-quota" => host.cpu_quota = Some(number()?),
        "cpus" => {
            let cpus: f64 = value.parse().map_err(|_| format!("--cpus={value}: not a number"))?;
            host.nano_cpus = Some((cpus * 1e9) as i64);
        }
        "cpuset-cpus" => host.cpuset_cpus = Some(text()),
        "cpuset-mems" => host.cpuset_mems = Some(text()),
        "pids-limit" => host.pids_limit = Some(number()?),
        "blkio-weight" => {
            host.blkio_weight = Some(value.parse().map_err(|_| format!("--{key}={value}: not a number"))?)
        }
        "cgroup-parent" => host.cgroup_parent = Some(text()),
        "init" => host.init = Some(flag(key, value)?),
        "read-only" => host.readonly_rootfs = Some(flag(key, value)?),
        "privileged" => host.privileged = Some(flag(key, value)?),
        "publish-all" | "P" => host.publish_all_ports = Some(flag(key, value)?),
        "ipc" => host.ipc_mode = Some(text()),
        "pid" => host.pid_mode = Some(text()),
        "uts" => host.uts_mode = Some(text()),
        "userns" => host.userns_mode = Some(text()),
        "runtime" => host.runtime = Some(text()),
        "rm" | "restart" | "detach" | "d" | "name" | "cidfile" | "interactive" | "i"
        | "attach" | "a" => {
            return Err(format!(
                "DockerInfo parameter --{key} is not allowed: the agent names, watches and removes its containers itself"
            ))
        }
        other => {
            return Err(format!(
                "DockerInfo parameter --{other} is not supported by this agent (it talks to the engine's API, not the docker CLI, and knows no mapping for it)"
            ))
        }
    }
    Ok(())
}

/// Binds `container_port` (`80/tcp`) to a host port (random when `None`).
pub(crate) fn publish(
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
    container_port: &str,
    host_ip: Option<String>,
    host_port: Option<String>,
) {
    let exposed = body.exposed_ports.get_or_insert_with(Vec::new);
    if !exposed.iter().any(|p| p == container_port) {
        exposed.push(container_port.to_string());
    }
    host.port_bindings
        .get_or_insert_with(HashMap::new)
        .entry(container_port.to_string())
        .or_insert_with(|| Some(Vec::new()))
        .get_or_insert_with(Vec::new)
        .push(PortBinding { host_ip, host_port });
}

/// `[ip:]host:container[/proto]` or `container[/proto]`.
fn publish_text(
    value: &str,
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
) -> Result<(), String> {
    let parts: Vec<&str> = value.rsplitn(3, ':').collect();
    let (ip, host_port, container) = match parts.as_slice() {
        [container] => (None, None, *container),
        [container, host_port] => (None, Some(*host_port), *container),
        [container, host_port, ip] => (Some(*ip), Some(*host_port), *container),
        _ => return Err(format!("--publish={value}: cannot be read")),
    };
    if container.is_empty() {
        return Err(format!("--publish={value}: no container port"));
    }
    publish(
        body,
        host,
        &with_protocol(container),
        ip.filter(|i| !i.is_empty()).map(str::to_string),
        host_port.filter(|p| !p.is_empty()).map(str::to_string),
    );
    Ok(())
}

/// Aliases and fixed addresses on the container's (user) network.
fn endpoint(key: &str, value: &str, body: &mut ContainerCreateBody, host: &HostConfig) {
    let network = host.network_mode.clone().unwrap_or_default();
    let settings = body
        .networking_config
        .get_or_insert_with(NetworkingConfig::default)
        .endpoints_config
        .get_or_insert_with(HashMap::new)
        .entry(network)
        .or_default();
    match key {
        "ip" => {
            settings
                .ipam_config
                .get_or_insert_with(EndpointIpamConfig::default)
                .ipv4_address = Some(value.into())
        }
        "ip6" => {
            settings
                .ipam_config
                .get_or_insert_with(EndpointIpamConfig::default)
                .ipv6_address = Some(value.into())
        }
        _ => push(&mut settings.aliases, value),
    }
}

fn push(list: &mut Option<Vec<String>>, value: &str) {
    list.get_or_insert_with(Vec::new).push(value.to_string());
}

fn with_protocol(port: &str) -> String {
    if port.contains('/') {
        port.to_string()
    } else {
        format!("{port}/tcp")
    }
}

/// `/dev/x[:/dev/y[:rwm]]`.
fn device(value: &str) -> DeviceMapping {
    let mut parts = value.splitn(3, ':');
    let on_host = parts.next().unwrap_or_default().to_string();
    let in_container = parts
        .next()
        .filter(|p| !p.is_empty())
        .map_or_else(|| on_host.clone(), str::to_string);
    let permissions = parts.next().unwrap_or("rwm").to_string();
    DeviceMapping {
        path_on_host: Some(on_host),
        path_in_container: Some(in_container),
        cgroup_permissions: Some(permissions),
    }
}

/// `name=soft[:hard]`.
fn ulimit(value: &str) -> Result<ResourcesUlimits, String> {
    let bad = || format!("--ulimit={value}: expected name=soft[:hard]");
    let (name, limits) = value.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    Ok(ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(soft.parse().map_err(|_| bad())?),
        hard: Some(hard.parse().map_err(|_| bad())?),
    })
}

/// `true`/`false`, or an empty value (a bare flag) for true.
fn flag(key: &str, value: &str) -> Result<bool, String> {
    match value.trim() {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("--{key}={value}: expected true or false")),
    }
}

fn parse_number(key: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("--{key}={value}: not a number"))
}

/// A size as `docker run` reads it: a number with an optional binary
/// unit (`b`, `k`, `m`, `g`, `t`, optionally followed by `b` or `ib`).
pub(crate) fn parse_bytes(text: &str) -> Option<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let scale: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * scale;
    (bytes.is_finite() && bytes >= 0.0 && bytes < i64::MAX as f64).then_some(bytes as i64)
}
