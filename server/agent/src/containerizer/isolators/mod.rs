//! Isolators: each one aspect of confining a container, named as Mesos
//! names them in `--isolation` (`cgroups/mem`, `namespaces/pid`, ...).
//!
//! The [Linux containerizer](super::linux) owns the launch and calls every
//! isolator at the same few points:
//! * [`Isolator::prepare`] before the container's first process starts:
//!   namespaces, mounts, environment, rlimits, devices go into the
//!   [`Launch`];
//! * [`Isolator::update`] with the container's resources, once its cgroup
//!   exists (before the process runs) and whenever they change;
//! * [`Isolator::check`] every [`Isolator::watch_interval`], on an OOM
//!   event, and when the container ends: a [`Limitation`] found ends the
//!   container with its reason;
//! * [`Isolator::usage`] for `/monitor/statistics`;
//! * [`Isolator::recover`] and [`Isolator::cleanup`] around a container's
//!   life.
//!
//! Isolators decide; the containerizer does the I/O of launching and
//! killing. Most are a screenful: the arithmetic (shares per CPU, the
//! memory floor) is plain functions tested on their own.

mod cgroups_cpu;
mod cgroups_mem;
mod devices;
mod disk;
mod docker_runtime;
mod filesystem;
pub mod gpu;
mod names;
mod ports;
mod rlimits;

use std::path::{Path, PathBuf};
use std::time::Duration;

use meseta_proto::v1;

pub(crate) use cgroups_cpu::{cfs_quota, shares};
pub(crate) use cgroups_mem::memory_limit;
pub(crate) use devices::DEFAULT_WHITELIST as DEFAULT_DEVICES;
pub(crate) use meseta_proto::resources::scalar as scalar_resource;
pub use names::{parse_isolation, Isolation, DEFAULT_ISOLATION, NO_ISOLATION, SUPPORTED};

use super::cgroups::{Cgroup, Controller, DeviceRule};
use super::program::{MountCall, Rlimit};
use super::Limitation;

/// How the operator configured isolation (Mesos's agent flags).
#[derive(Debug, Clone)]
pub struct IsolationConfig {
    /// `--containerizers`: `mesos` (isolated by `--isolation`) or
    /// `process` (plain processes).
    pub containerizers: Vec<String>,
    /// `--isolation`; `None` is the default (see [`DEFAULT_ISOLATION`]).
    pub isolation: Option<String>,
    /// `--cgroups-hierarchy`: where the cgroup hierarchies are mounted.
    pub cgroups_hierarchy: PathBuf,
    /// `--cgroups-root`: the cgroup (below the agent's own) of its containers.
    pub cgroups_root: String,
    /// `--cgroups-enable-cfs`: a hard CPU cap as well as shares.
    pub cgroups_enable_cfs: bool,
    /// `--cgroups-max-pids`: processes and threads per container.
    pub cgroups_max_pids: u64,
    /// `--enforce-container-ports`: kill containers listening outside
    /// their ports (else logged and counted).
    pub enforce_container_ports: bool,
    /// `--container-ports-watch-interval`.
    pub container_ports_watch_interval: Duration,
    /// `--container-ports-isolated-range`: only ports in these ranges are
    /// watched (`None`: the agent's `ports` resource).
    pub container_ports_isolated_range: Option<String>,
    /// `--enforce-container-disk-quota`.
    pub enforce_container_disk_quota: bool,
    /// `--container-disk-watch-interval`.
    pub container_disk_watch_interval: Duration,
    /// `--switch-user`: run tasks as their user when the agent is root.
    pub switch_user: bool,
    /// `--sandbox-directory`: where the sandbox is mounted inside a
    /// container with its own mount namespace.
    pub sandbox_directory: PathBuf,
    /// `--nvidia-gpu-devices`: the NVML indices to offer.
    pub nvidia_gpu_devices: Option<Vec<u32>>,
    /// `--nvml-library`: the NVML library `gpu/nvidia` loads.
    pub nvml_library: PathBuf,
    /// The agent's work directory (the agent sets it from `--work-dir`):
    /// containers' root filesystems from images go under
    /// `<work_dir>/provisioner`, and the image store under
    /// `<work_dir>/store/docker` unless `docker_store_dir` says otherwise.
    pub work_dir: PathBuf,
    /// `--image-providers`: `Some(["docker"])` (Mesos's way to turn images
    /// on) makes the agent refuse to start without the isolators images
    /// need; `None` allows Docker images whenever the isolation has them;
    /// an empty list refuses images.
    pub image_providers: Option<Vec<String>>,
    /// `--docker-registry`: a registry URL, or a directory of `docker
    /// save` archives.
    pub docker_registry: String,
    /// `--docker-store-dir`; `None`: `<work_dir>/store/docker`.
    pub docker_store_dir: Option<PathBuf>,
    /// `--image-provisioner-backend` (`overlay`, `copy`); `None`: overlay
    /// where it works, else copy.
    pub image_provisioner_backend: Option<String>,
    /// The Docker containerizer's flags (`--docker-socket`, ...), used
    /// when `containerizers` names `docker`.
    pub docker: crate::containerizer::DockerConfig,
}

/// Mesos's default `--docker_registry`: Docker Hub.
pub const DEFAULT_DOCKER_REGISTRY: &str = "https://registry-1.docker.io";

/// Mesos's default `--cgroups_root` is `mesos`; ours names us.
pub const DEFAULT_CGROUPS_ROOT: &str = "meseta";
/// Processes and threads per container by default: far above what a task
/// (a JVM with hundreds of threads included) uses, far below the host's
/// PID space, so that a fork bomb stays inside its container.
pub const DEFAULT_MAX_PIDS: u64 = 8192;

impl Default for IsolationConfig {
    fn default() -> Self {
        Self {
            containerizers: vec!["mesos".to_string()],
            isolation: None,
            cgroups_hierarchy: PathBuf::from("/sys/fs/cgroup"),
            cgroups_root: DEFAULT_CGROUPS_ROOT.to_string(),
            cgroups_enable_cfs: false,
            cgroups_max_pids: DEFAULT_MAX_PIDS,
            enforce_container_ports: false,
            container_ports_watch_interval: Duration::from_secs(30),
            container_ports_isolated_range: None,
            enforce_container_disk_quota: false,
            container_disk_watch_interval: Duration::from_secs(15),
            switch_user: true,
            sandbox_directory: PathBuf::from("/mnt/mesos/sandbox"),
            nvidia_gpu_devices: None,
            nvml_library: PathBuf::from(gpu::DEFAULT_NVML_LIBRARY),
            work_dir: std::env::temp_dir().join("meseta-agent"),
            image_providers: None,
            docker_registry: DEFAULT_DOCKER_REGISTRY.to_string(),
            docker_store_dir: None,
            image_provisioner_backend: None,
            docker: crate::containerizer::DockerConfig::default(),
        }
    }
}

/// A container as the isolators see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Container<'a> {
    pub id: &'a v1::ContainerId,
    /// Its cgroup (nested containers: their own, inside the parent's).
    pub cgroup: &'a Cgroup,
    pub sandbox: &'a Path,
    pub resources: &'a [v1::Resource],
    pub info: Option<&'a v1::ContainerInfo>,
    /// Nested containers share their parent's limits.
    pub nested: bool,
    /// The image's configuration, for a container from an image (at
    /// launch only).
    pub image: Option<&'a crate::containerizer::provisioner::image::ImageConfig>,
    /// The command it runs (at launch only).
    pub command: Option<&'a v1::CommandInfo>,
}

/// What the container's first process is given besides its command.
#[derive(Debug, Default)]
pub(crate) struct Launch {
    /// `CLONE_NEW*` flags (not `CLONE_NEWPID`: see `pid_namespace`).
    pub namespaces: libc::c_int,
    pub pid_namespace: bool,
    /// Mounts in the new mount namespace, in order.
    pub mounts: Vec<MountCall>,
    pub hostname: Option<String>,
    /// Variables added to the container's environment (these win).
    pub environment: Vec<(String, String)>,
    pub rlimits: Vec<Rlimit>,
    /// Devices allowed beyond the default whitelist (GPUs).
    pub devices: Vec<DeviceRule>,
    /// The command to run instead of the request's (docker/runtime).
    pub command: Option<v1::CommandInfo>,
    /// Variables under the request's own (an image's Env).
    pub image_environment: Vec<(String, String)>,
    /// Where the command starts inside its own root (an image's
    /// WorkingDir); `None`: the sandbox.
    pub working_directory: Option<String>,
}

/// One aspect of isolation; see the module docs for when each hook runs.
pub(crate) trait Isolator: Send + Sync + std::fmt::Debug {
    /// Its Mesos name, as in `--isolation`.
    fn name(&self) -> &'static str;

    /// The cgroup controllers it needs.
    fn controllers(&self) -> &'static [Controller] {
        &[]
    }

    /// Adds what the container's process needs; an error fails the launch.
    fn prepare(&self, _container: &Container<'_>, _launch: &mut Launch) -> Result<(), String> {
        Ok(())
    }

    /// Limits the (top-level) container's cgroup to `resources`.
    fn update(&self, _cgroup: &Cgroup, _resources: &[v1::Resource]) -> Result<(), String> {
        Ok(())
    }

    /// Adds the figures it knows to the container's statistics.
    fn usage(&self, _container: &Container<'_>, _stats: &mut v1::ResourceStatistics) {}

    /// How often [`check`](Self::check) runs while the container lives.
    fn watch_interval(&self) -> Option<Duration> {
        None
    }

    /// A limit the container went past, if any.
    fn check(&self, _container: &Container<'_>) -> Option<Limitation> {
        None
    }

    /// A container of an earlier agent run was taken back.
    fn recover(&self, _container: &Container<'_>) {}

    /// The container ended and its processes are gone.
    fn cleanup(&self, _container_id: &v1::ContainerId) {}

    /// Counters for `/metrics/snapshot`: (key, value).
    fn metrics(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
}

/// The scalar total of the resources named `name`.
pub(crate) fn scalar(resources: &[v1::Resource], name: &str) -> f64 {
    meseta_proto::resources::scalar_total(resources, name)
}

/// Mesos's way of printing a byte count: the largest unit that loses
/// nothing (`32MB`, `1536KB`, `7B`).
pub(crate) fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = "B";
    for next in UNITS {
        if value == 0 || !value.is_multiple_of(1024) {
            break;
        }
        value /= 1024;
        unit = next;
    }
    format!("{value}{unit}")
}

/// Builds the isolators `isolation` names.
pub(crate) fn build(
    isolation: &Isolation,
    config: &IsolationConfig,
    agent_ports: &[v1::Resource],
) -> Result<Vec<Box<dyn Isolator>>, String> {
    let mut built: Vec<Box<dyn Isolator>> = Vec::new();
    for name in &isolation.names {
        let isolator: Box<dyn Isolator> = match name.as_str() {
            "cgroups/cpu" => Box::new(cgroups_cpu::CpuIsolator {
                enable_cfs: config.cgroups_enable_cfs,
            }),
            "cgroups/mem" => Box::new(cgroups_mem::MemIsolator),
            "cgroups/pids" => Box::new(cgroups_cpu::PidsIsolator {
                max: config.cgroups_max_pids,
            }),
            "cgroups/devices" => Box::new(devices::DevicesIsolator),
            "namespaces/pid" => Box::new(filesystem::PidNamespace),
            "namespaces/ipc" => Box::new(filesystem::IpcNamespace),
            "filesystem/linux" => Box::new(filesystem::LinuxFilesystem::new(
                config.sandbox_directory.clone(),
                config.work_dir.clone(),
            )?),
            "network/ports" => Box::new(ports::PortsIsolator::new(config, agent_ports)?),
            "disk/du" => Box::new(disk::DiskIsolator::new(config)),
            "posix/rlimits" => Box::new(rlimits::RlimitsIsolator),
            "docker/runtime" => Box::new(docker_runtime::DockerRuntime),
            "gpu/nvidia" => Box::new(gpu::NvidiaGpuIsolator::new(config, agent_ports)?),
            // Usage only, which the containerizer reports anyway.
            "posix/cpu" | "posix/mem" | "filesystem/posix" => continue,
            other => return Err(format!("the isolator {other} is not available")),
        };
        built.push(isolator);
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_print_as_mesos_prints_them() {
        assert_eq!(bytes_text(32 << 20), "32MB");
        assert_eq!(bytes_text(1536 << 10), "1536KB");
        assert_eq!(bytes_text(7), "7B");
        assert_eq!(bytes_text(0), "0B");
        assert_eq!(bytes_text(3 << 30), "3GB");
    }
}
