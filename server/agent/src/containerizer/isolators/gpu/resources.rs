//! The `gpus` an agent offers, and which GPUs they are.
//!
//! Mesos's rules, checked once at agent start so that a misconfigured
//! agent stops with a clear message instead of offering GPUs it cannot
//! give:
//! * only with `gpu/nvidia` in `--isolation` are GPUs discovered (through
//!   NVML); otherwise a `gpus` in `--resources` passes through untouched,
//!   and `--nvidia-gpu-devices` is an error;
//! * with `gpu/nvidia` and no `gpus` in `--resources`, every GPU NVML finds
//!   is offered;
//! * `gpus:N` in `--resources` (a whole number) must come with
//!   `--nvidia-gpu-devices` naming N distinct, existing NVML indices, and
//!   the reverse (`gpus:0` alone turns GPUs off).

use meseta_proto::resources::{scalar, scalar_total};
use meseta_proto::v1;

use super::nvml::{Gpu, Nvml, NvmlLibrary};
use crate::containerizer::isolators::{parse_isolation, IsolationConfig};

/// True when the agent isolates with `gpu/nvidia` (given in `--isolation`,
/// and not overridden by `--containerizers=process`).
pub(crate) fn requested(config: &IsolationConfig) -> bool {
    !config.containerizers.iter().any(|c| c == "process")
        && config
            .isolation
            .as_deref()
            .and_then(|text| parse_isolation(text).ok())
            .is_some_and(|isolation| isolation.has("gpu/nvidia"))
}

/// The agent's resources with the `gpus` it offers (see the module docs).
pub(crate) fn derive(
    config: &IsolationConfig,
    resources: Vec<v1::Resource>,
) -> Result<Vec<v1::Resource>, String> {
    if !requested(config) {
        if config.nvidia_gpu_devices.is_some() {
            return Err(
                "--nvidia-gpu-devices can only be given when --isolation contains gpu/nvidia"
                    .into(),
            );
        }
        return Ok(resources);
    }
    let nvml = NvmlLibrary::new(&config.nvml_library);
    complete(resources, config.nvidia_gpu_devices.as_deref(), &nvml)
}

/// `value` as a whole non-negative number, if it is one (to Mesos's three
/// decimals).
pub(crate) fn whole(value: f64) -> Option<u64> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let milli = (value * 1000.0).round() as u64;
    milli.is_multiple_of(1000).then_some(milli / 1000)
}

/// [`derive`] once `gpu/nvidia` is known to be in use.
pub(crate) fn complete(
    mut resources: Vec<v1::Resource>,
    devices: Option<&[u32]>,
    nvml: &dyn Nvml,
) -> Result<Vec<v1::Resource>, String> {
    let given = match resources.iter().any(|r| r.name == "gpus") {
        true => {
            let value = scalar_total(&resources, "gpus");
            Some(whole(value).ok_or_else(|| {
                format!(
                    "the gpus resource in --resources must be a non-negative integer, not {value}"
                )
            })?)
        }
        false => None,
    };
    if let Some(devices) = devices {
        let mut sorted = devices.to_vec();
        sorted.sort_unstable();
        if let Some(twice) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!(
                "--nvidia-gpu-devices contains duplicates (GPU {} is listed more than once)",
                twice[0]
            ));
        }
    }
    match (given, devices) {
        (None, Some(devices)) => Err(format!(
            "--nvidia-gpu-devices needs the gpus resource in --resources as well (gpus:{} for the GPUs listed)",
            devices.len()
        )),
        (Some(0), None) => Ok(resources),
        (Some(count), None) => Err(format!(
            "gpus:{count} in --resources needs --nvidia-gpu-devices to say which GPUs (NVML indices); leave gpus out of --resources to offer every GPU"
        )),
        (Some(count), Some(devices)) => {
            if devices.len() as u64 != count {
                return Err(format!(
                    "--nvidia-gpu-devices lists {} GPUs but --resources gives gpus:{count}; the two must name the same number of GPUs",
                    devices.len()
                ));
            }
            select(Some(devices), count, &discover(nvml)?)?;
            Ok(resources)
        }
        (None, None) => {
            let found = discover(nvml)?;
            tracing::info!(gpus = found.len(), "gpu/nvidia: NVML found the machine's GPUs");
            if !found.is_empty() {
                resources.push(scalar("gpus", found.len() as f64));
            }
            Ok(resources)
        }
    }
}

/// The machine's GPUs, as NVML lists them.
pub(crate) fn discover(nvml: &dyn Nvml) -> Result<Vec<Gpu>, String> {
    nvml.gpus().map_err(|e| format!("gpu/nvidia: {e}"))
}

/// The GPUs the agent offers: those `devices` names, else the first `count`.
pub(crate) fn select(
    devices: Option<&[u32]>,
    count: u64,
    found: &[Gpu],
) -> Result<Vec<Gpu>, String> {
    let indices: Vec<u32> = match devices {
        Some(devices) => devices.to_vec(),
        None => (0..count)
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect(),
    };
    if indices.len() > found.len() {
        return Err(format!(
            "{} GPUs are to be offered but NVML finds only {} on this machine",
            indices.len(),
            found.len()
        ));
    }
    indices
        .iter()
        .map(|index| {
            found
                .iter()
                .find(|gpu| gpu.index == *index)
                .copied()
                .ok_or_else(|| {
                    format!(
                        "--nvidia-gpu-devices names GPU {index}, but NVML finds only {} GPUs on this machine (indices 0 to {})",
                        found.len(),
                        found.len().saturating_sub(1)
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{load_error, FakeNvml, ListedNvml};
    use super::*;
    use crate::config::{AgentConfig, Settings};

    const GPU_ISOLATION: &str = "cgroups/devices,filesystem/linux,gpu/nvidia";

    fn parse(text: &str) -> Vec<v1::Resource> {
        meseta_proto::resources::parse_resources(text).unwrap()
    }

    fn gpus_of(resources: &[v1::Resource]) -> Option<f64> {
        resources
            .iter()
            .any(|r| r.name == "gpus")
            .then(|| scalar_total(resources, "gpus"))
    }

    fn error(resources: &str, devices: Option<&[u32]>, nvml: &ListedNvml) -> String {
        complete(parse(resources), devices, nvml).unwrap_err()
    }

    #[test]
    fn every_gpu_is_offered_when_resources_do_not_say() {
        let all = complete(parse("cpus:2"), None, &ListedNvml::with(3)).unwrap();
        assert_eq!(gpus_of(&all), Some(3.0));
        let none = complete(parse("cpus:2"), None, &ListedNvml::with(0)).unwrap();
        assert_eq!(gpus_of(&none), None);
        // gpus:0 turns GPUs off without asking NVML.
        let off = complete(parse("gpus:0"), None, &ListedNvml(Err(load_error()))).unwrap();
        assert_eq!(gpus_of(&off), Some(0.0));
    }

    #[test]
    fn gpus_and_devices_must_agree() {
        let two = ListedNvml::with(2);
        let ok = complete(parse("gpus:1"), Some(&[1]), &two).unwrap();
        assert_eq!(gpus_of(&ok), Some(1.0));
        let text = error("cpus:1", Some(&[0]), &two);
        assert_eq!(
            text,
            "--nvidia-gpu-devices needs the gpus resource in --resources as well (gpus:1 for the GPUs listed)"
        );
        let text = error("gpus:2", None, &two);
        assert!(
            text.starts_with("gpus:2 in --resources needs --nvidia-gpu-devices"),
            "{text}"
        );
        let text = error("gpus:2", Some(&[0]), &two);
        assert!(
            text.contains("lists 1 GPUs but --resources gives gpus:2"),
            "{text}"
        );
        let text = error("gpus:2", Some(&[1, 1]), &two);
        assert!(text.contains("contains duplicates (GPU 1"), "{text}");
        let text = error("gpus:1", Some(&[5]), &two);
        assert_eq!(
            text,
            "--nvidia-gpu-devices names GPU 5, but NVML finds only 2 GPUs on this machine (indices 0 to 1)"
        );
        let text = error("gpus:3", Some(&[0, 1, 2]), &two);
        assert!(text.contains("NVML finds only 2"), "{text}");
        let text = error("gpus:1.5", Some(&[0]), &two);
        assert_eq!(
            text,
            "the gpus resource in --resources must be a non-negative integer, not 1.5"
        );
    }

    #[test]
    fn an_nvml_failure_is_the_agents_error() {
        let text = error("cpus:1", None, &ListedNvml(Err(load_error())));
        assert!(text.starts_with("gpu/nvidia: "), "{text}");
        assert!(text.contains("cannot load the NVML library"), "{text}");
    }

    #[test]
    fn whole_numbers_to_three_decimals() {
        assert_eq!(whole(2.0), Some(2));
        assert_eq!(whole(0.0), Some(0));
        assert_eq!(whole(1.0004), Some(1));
        assert_eq!(whole(0.5), None);
        assert_eq!(whole(-1.0), None);
        assert_eq!(whole(f64::NAN), None);
    }

    #[test]
    fn selection_uses_the_named_indices_or_the_first_ones() {
        let found = ListedNvml::with(4).0.unwrap();
        let named = select(Some(&[3, 1]), 2, &found).unwrap();
        assert_eq!(
            named.iter().map(|g| g.minor).collect::<Vec<_>>(),
            vec![13, 11]
        );
        let first = select(None, 2, &found).unwrap();
        assert_eq!(
            first.iter().map(|g| g.index).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert!(select(None, 5, &found).is_err());
    }

    fn settings(
        dir: &std::path::Path,
        isolation: IsolationConfig,
        resources: &str,
    ) -> Result<Settings, String> {
        Settings::derive(AgentConfig {
            work_dir: dir.join("w"),
            resources: Some(resources.into()),
            isolation,
            ..Default::default()
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn the_agent_offers_the_gpus_its_nvml_library_reports() {
        let Some(fake) = FakeNvml::build(&[]) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let isolation = IsolationConfig {
            isolation: Some(GPU_ISOLATION.into()),
            nvml_library: fake.path.clone(),
            ..IsolationConfig::default()
        };
        let derived = settings(dir.path(), isolation.clone(), "cpus:1;mem:64").unwrap();
        assert_eq!(gpus_of(&derived.resources), Some(2.0));
        assert_eq!(scalar_total(&derived.resources, "cpus"), 1.0);
        // As plain processes, nothing is discovered.
        let plain = IsolationConfig {
            containerizers: vec!["process".into()],
            ..isolation.clone()
        };
        let derived = settings(dir.path(), plain, "cpus:1;mem:64").unwrap();
        assert_eq!(gpus_of(&derived.resources), None);
    }

    #[test]
    fn the_agent_refuses_to_start_on_bad_gpu_flags() {
        let dir = tempfile::tempdir().unwrap();
        let without_isolator = IsolationConfig {
            nvidia_gpu_devices: Some(vec![0]),
            ..IsolationConfig::default()
        };
        let text = settings(dir.path(), without_isolator, "gpus:1").unwrap_err();
        assert!(
            text.contains(
                "--nvidia-gpu-devices can only be given when --isolation contains gpu/nvidia"
            ),
            "{text}"
        );
        // Without the isolator, gpus pass through untouched.
        let derived = settings(dir.path(), IsolationConfig::default(), "gpus:1.5").unwrap();
        assert_eq!(gpus_of(&derived.resources), Some(1.5));
        let missing = IsolationConfig {
            isolation: Some(GPU_ISOLATION.into()),
            nvml_library: "/nonexistent/libnvidia-ml.so.1".into(),
            ..IsolationConfig::default()
        };
        let text = settings(dir.path(), missing, "cpus:1").unwrap_err();
        assert!(
            text.contains("cannot load the NVML library /nonexistent/libnvidia-ml.so.1"),
            "{text}"
        );
    }
}
