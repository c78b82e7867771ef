//! `gpu/nvidia`: NVIDIA GPUs as a `gpus` resource, each container allowed
//! the GPUs it was given and no others.
//!
//! GPUs are whole: a container asking for `gpus:k` gets k of the agent's
//! free GPUs (the lowest NVML indices first), and the v1 devices cgroup
//! lets it open their device nodes (`c 195:<minor> rwm`) and NVIDIA's
//! control devices (`/dev/nvidiactl`, `/dev/nvidia-uvm`,
//! `/dev/nvidia-uvm-tools`, as far as they exist), while every other GPU
//! stays denied by the default whitelist. `NVIDIA_VISIBLE_DEVICES` and
//! `CUDA_VISIBLE_DEVICES` list the NVML indices given (Mesos sets neither;
//! CUDA programs and NVIDIA's container tools read them).
//!
//! When GPUs are taken:
//! * a top-level container's in [`Isolator::prepare`], so its first
//!   process already has them (and its environment says which);
//! * on [`Isolator::update`], when a container's resources change: a
//!   custom executor's grow with its tasks', and a default executor's
//!   group is created and grown that way. Update only knows the cgroup,
//!   whose name is the container key of the top-level container or group
//!   (see [`crate::containerizer::cgroups`]); that key owns the GPUs;
//! * nested containers own none: they use their group's (their cgroup,
//!   made inside the group's, starts with the group's device list).
//!
//! They are given back when the owner is cleaned up, and after an agent
//! restart [`Isolator::recover`] reads each container's `devices.list`
//! back: the GPUs its cgroup allows are its own again.

mod allocator;
mod nvml;
mod resources;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use meseta_proto::v1;

use self::allocator::GpuAllocator;
use self::nvml::{Gpu, Nvml, NvmlLibrary, NVIDIA_MAJOR};
use super::{scalar, Container, IsolationConfig, Isolator, Launch};
use crate::containerizer::cgroups::{Cgroup, Controller, DeviceRule};
use crate::containerizer::container_key;

pub use self::nvml::DEFAULT_LIBRARY as DEFAULT_NVML_LIBRARY;
pub(crate) use self::resources::derive as derive_resources;

/// NVIDIA's control devices, allowed to every container when they exist.
const CONTROL_DEVICES: [&str; 3] = ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"];

/// The `gpu/nvidia` isolator.
#[derive(Debug)]
pub(super) struct NvidiaGpuIsolator {
    gpus: Mutex<GpuAllocator>,
    /// Rules for the control devices found on this machine.
    control: Vec<DeviceRule>,
}

/// What [`NvidiaGpuIsolator::ensure`] changed.
struct Change {
    held: Vec<Gpu>,
    added: Vec<Gpu>,
    removed: Vec<Gpu>,
}

impl NvidiaGpuIsolator {
    /// Manages the GPUs the agent offers (`gpus` in its resources, the
    /// indices of `--nvidia-gpu-devices` or the first ones), as NVML
    /// lists them.
    pub fn new(config: &IsolationConfig, agent_resources: &[v1::Resource]) -> Result<Self, String> {
        let nvml = NvmlLibrary::new(&config.nvml_library);
        let control: Vec<&Path> = CONTROL_DEVICES.iter().map(Path::new).collect();
        Self::with_nvml(config, agent_resources, &nvml, &control)
    }

    fn with_nvml(
        config: &IsolationConfig,
        agent_resources: &[v1::Resource],
        nvml: &dyn Nvml,
        control_paths: &[&Path],
    ) -> Result<Self, String> {
        let total = scalar(agent_resources, "gpus");
        let count = resources::whole(total).ok_or_else(|| {
            format!("gpu/nvidia: the agent's gpus resource must be a whole number, not {total}")
        })?;
        let gpus = if count == 0 {
            Vec::new()
        } else {
            let found = resources::discover(nvml)?;
            resources::select(config.nvidia_gpu_devices.as_deref(), count, &found)?
        };
        let control = control_devices(control_paths);
        tracing::info!(
            gpus = %gpus.iter().map(|g| format!("{}(minor {})", g.index, g.minor)).collect::<Vec<_>>().join(","),
            control = %control.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            "gpu/nvidia: GPUs to hand out"
        );
        Ok(Self {
            gpus: Mutex::new(GpuAllocator::new(gpus)),
            control,
        })
    }

    fn lock(&self) -> MutexGuard<'_, GpuAllocator> {
        self.gpus.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `owner` hold exactly `wanted` GPUs.
    fn ensure(&self, owner: &str, wanted: usize) -> Result<Change, String> {
        let mut gpus = self.lock();
        let have = gpus.held(owner).len();
        let (added, removed) = if wanted > have {
            let added = gpus
                .allocate(owner, wanted - have)
                .map_err(|e| format!("cannot give the container gpus:{wanted}: {e}"))?;
            (added, Vec::new())
        } else {
            (Vec::new(), gpus.release_some(owner, have - wanted))
        };
        Ok(Change {
            held: gpus.held(owner),
            added,
            removed,
        })
    }
}

/// The device rule of one GPU.
fn gpu_rule(gpu: &Gpu) -> DeviceRule {
    DeviceRule {
        kind: 'c',
        major: Some(NVIDIA_MAJOR),
        minor: Some(gpu.minor),
        access: "rwm",
    }
}

/// The whole number of GPUs `resources` ask for.
fn requested(resources: &[v1::Resource]) -> Result<usize, String> {
    let value = scalar(resources, "gpus");
    resources::whole(value)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("The 'gpus' resource must be an unsigned integer, not {value}"))
}

/// `NVIDIA_VISIBLE_DEVICES` and `CUDA_VISIBLE_DEVICES`: the NVML indices.
fn set_environment(launch: &mut Launch, gpus: &[Gpu]) {
    let indices: Vec<String> = gpus.iter().map(|g| g.index.to_string()).collect();
    let visible = indices.join(",");
    launch
        .environment
        .push(("NVIDIA_VISIBLE_DEVICES".to_string(), visible.clone()));
    launch
        .environment
        .push(("CUDA_VISIBLE_DEVICES".to_string(), visible));
}

/// Rules for those of `paths` that are character devices here.
fn control_devices(paths: &[&Path]) -> Vec<DeviceRule> {
    let mut rules = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.file_type().is_char_device() => rules.push(DeviceRule {
                kind: 'c',
                major: Some(libc::major(meta.rdev())),
                minor: Some(libc::minor(meta.rdev())),
                access: "rwm",
            }),
            Ok(_) => {
                tracing::warn!(path = %path.display(), "gpu/nvidia: not a character device; not allowed to containers")
            }
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "gpu/nvidia: no such control device")
            }
        }
    }
    rules
}

/// Writes `rules` to a v1 devices cgroup's `devices.allow` or
/// `devices.deny`, one rule per write as the kernel wants them.
fn write_rules<'a>(
    dir: &Path,
    file: &str,
    rules: impl IntoIterator<Item = &'a DeviceRule>,
) -> Result<(), String> {
    let path = dir.join(file);
    let mut rules = rules.into_iter().peekable();
    if rules.peek().is_none() {
        return Ok(());
    }
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    for rule in rules {
        out.write_all(format!("{rule}\n").as_bytes())
            .map_err(|e| format!("cannot write {rule:?} to {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The GPU minors a `devices.list` allows (`c 195:<minor> r..`).
fn granted_minors(list: &str) -> Vec<u32> {
    list.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (kind, number, access) = (fields.next()?, fields.next()?, fields.next()?);
            let (major, minor) = number.split_once(':')?;
            let gpu = kind == "c"
                && major.parse::<u32>() == Ok(NVIDIA_MAJOR)
                && access.contains(['r', 'w']);
            gpu.then(|| minor.parse().ok()).flatten()
        })
        .collect()
}

impl Isolator for NvidiaGpuIsolator {
    fn name(&self) -> &'static str {
        "gpu/nvidia"
    }

    fn controllers(&self) -> &'static [Controller] {
        &[Controller::Devices]
    }

    fn prepare(&self, container: &Container<'_>, launch: &mut Launch) -> Result<(), String> {
        if container.nested {
            let group = container.id.parent.as_deref().map(container_key);
            let held = group.map(|g| self.lock().held(&g)).unwrap_or_default();
            if !held.is_empty() {
                set_environment(launch, &held);
            }
            return Ok(());
        }
        let wanted = requested(container.resources)?;
        let change = self.ensure(&container_key(container.id), wanted)?;
        launch.devices.extend(self.control.iter().cloned());
        launch.devices.extend(change.held.iter().map(gpu_rule));
        if !change.held.is_empty() {
            set_environment(launch, &change.held);
        }
        Ok(())
    }

    fn update(&self, cgroup: &Cgroup, resources: &[v1::Resource]) -> Result<(), String> {
        let Some(dir) = cgroup.dir(Controller::Devices) else {
            return Ok(());
        };
        let Some(owner) = dir.file_name().and_then(|name| name.to_str()) else {
            return Ok(());
        };
        let change = self.ensure(owner, requested(resources)?)?;
        let mut allow: Vec<DeviceRule> = change.added.iter().map(gpu_rule).collect();
        if !allow.is_empty() {
            // A group's cgroup was made with the default whitelist only.
            allow.extend(self.control.iter().cloned());
        }
        let deny: Vec<DeviceRule> = change.removed.iter().map(gpu_rule).collect();
        let written = write_rules(dir, "devices.allow", &allow)
            .and_then(|()| write_rules(dir, "devices.deny", &deny));
        if let Err(error) = written {
            self.lock().free_these(&change.added);
            return Err(error);
        }
        if !change.added.is_empty() || !change.removed.is_empty() {
            tracing::info!(owner, added = ?change.added, removed = ?change.removed, "gpu/nvidia: GPUs changed");
        }
        Ok(())
    }

    fn recover(&self, container: &Container<'_>) {
        let (owner, dir) = match (container.nested, container.id.parent.as_deref()) {
            (true, Some(parent)) => (
                container_key(parent),
                container
                    .cgroup
                    .dir(Controller::Devices)
                    .and_then(Path::parent),
            ),
            _ => (
                container_key(container.id),
                container.cgroup.dir(Controller::Devices),
            ),
        };
        let Some(dir) = dir else {
            return;
        };
        let list = match std::fs::read_to_string(dir.join("devices.list")) {
            Ok(list) => list,
            Err(error) => {
                tracing::debug!(container = %owner, %error, "gpu/nvidia: no devices.list to recover GPUs from");
                return;
            }
        };
        let minors = granted_minors(&list);
        if minors.is_empty() {
            return;
        }
        let (held, conflicts) = self.lock().claim(&owner, &minors);
        for (minor, other) in conflicts {
            tracing::error!(container = %owner, minor, holder = %other, "gpu/nvidia: a recovered container has access to a GPU another container holds");
        }
        tracing::info!(container = %owner, gpus = ?held, "gpu/nvidia: recovered the container's GPUs");
    }

    fn cleanup(&self, container_id: &v1::ContainerId) {
        let owner = container_key(container_id);
        let released = self.lock().release(&owner);
        if !released.is_empty() {
            tracing::debug!(container = %owner, gpus = ?released, "gpu/nvidia: GPUs released");
        }
    }
}
