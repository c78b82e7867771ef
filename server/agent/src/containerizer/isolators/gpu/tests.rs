//! The isolator's decisions, with an in-memory NVML (GPUs with minors
//! 10 and 11), `/dev/null` standing in for a control device, and plain
//! directories standing in for devices cgroups.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use meseta_proto::v1;

use super::test_support::{load_error, ListedNvml};
use super::*;

fn parse(text: &str) -> Vec<v1::Resource> {
    meseta_proto::resources::parse_resources(text).unwrap()
}

fn isolator_with(
    agent: &str,
    devices: Option<Vec<u32>>,
    nvml: ListedNvml,
) -> Result<NvidiaGpuIsolator, String> {
    let config = IsolationConfig {
        nvidia_gpu_devices: devices,
        ..IsolationConfig::default()
    };
    let control = [Path::new("/dev/null"), Path::new("/nonexistent/nvidia-uvm")];
    NvidiaGpuIsolator::with_nvml(&config, &parse(agent), &nvml, &control)
}

fn two_gpus() -> NvidiaGpuIsolator {
    isolator_with("cpus:4;gpus:2", None, ListedNvml::with(2)).unwrap()
}

fn id(value: &str, parent: Option<&str>) -> v1::ContainerId {
    v1::ContainerId {
        value: value.into(),
        parent: parent.map(|p| Box::new(id(p, None))),
    }
}

/// A devices cgroup: `<root>/<name>` with the files the kernel has.
fn cgroup_dir(root: &Path, name: &str) -> (Cgroup, PathBuf) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["devices.allow", "devices.deny"] {
        std::fs::write(dir.join(file), "").unwrap();
    }
    let cgroup = Cgroup::V1(BTreeMap::from([(Controller::Devices, dir.clone())]));
    (cgroup, dir)
}

fn prepare(
    isolator: &NvidiaGpuIsolator,
    id: &v1::ContainerId,
    resources: &str,
    nested: bool,
) -> Result<Launch, String> {
    let cgroup = Cgroup::V1(BTreeMap::new());
    let resources = parse(resources);
    let container = Container {
        id,
        cgroup: &cgroup,
        sandbox: Path::new("/tmp"),
        resources: &resources,
        info: None,
        nested,
        image: None,
        command: None,
    };
    let mut launch = Launch::default();
    isolator.prepare(&container, &mut launch).map(|()| launch)
}

fn env<'a>(launch: &'a Launch, name: &str) -> Option<&'a str> {
    launch
        .environment
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn rules(launch: &Launch) -> Vec<String> {
    launch.devices.iter().map(ToString::to_string).collect()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn top_level_containers_get_free_gpus_their_devices_and_their_environment() {
    let gpus = two_gpus();
    let a = prepare(&gpus, &id("a", None), "cpus:1;gpus:1", false).unwrap();
    assert_eq!(rules(&a), vec!["c 1:3 rwm", "c 195:10 rwm"]);
    assert_eq!(env(&a, "NVIDIA_VISIBLE_DEVICES"), Some("0"));
    assert_eq!(env(&a, "CUDA_VISIBLE_DEVICES"), Some("0"));
    let b = prepare(&gpus, &id("b", None), "gpus:1", false).unwrap();
    assert_eq!(rules(&b), vec!["c 1:3 rwm", "c 195:11 rwm"]);
    assert_eq!(env(&b, "NVIDIA_VISIBLE_DEVICES"), Some("1"));
    let none = prepare(&gpus, &id("n", None), "cpus:1", false).unwrap();
    assert_eq!(rules(&none), vec!["c 1:3 rwm"]);
    assert_eq!(env(&none, "NVIDIA_VISIBLE_DEVICES"), None);

    let exhausted = prepare(&gpus, &id("c", None), "gpus:1", false).unwrap_err();
    assert_eq!(
        exhausted,
        "cannot give the container gpus:1: 1 more GPUs are needed but only 0 of the agent's 2 are free"
    );
    gpus.cleanup(&id("a", None));
    let c = prepare(&gpus, &id("c", None), "gpus:1", false).unwrap();
    assert_eq!(env(&c, "NVIDIA_VISIBLE_DEVICES"), Some("0"));
}

#[test]
fn a_fractional_request_is_an_error_naming_it() {
    let gpus = two_gpus();
    let error = prepare(&gpus, &id("a", None), "gpus:0.5", false).unwrap_err();
    assert_eq!(
        error,
        "The 'gpus' resource must be an unsigned integer, not 0.5"
    );
    assert_eq!(gpus.lock().free(), 2);
}

#[test]
fn nested_containers_use_their_groups_gpus() {
    let gpus = two_gpus();
    let root = tempfile::tempdir().unwrap();
    let (group, _) = cgroup_dir(root.path(), "group");
    gpus.update(&group, &parse("cpus:1;gpus:2")).unwrap();
    let child = id("task", Some("group"));
    let launch = prepare(&gpus, &child, "cpus:0.5;gpus:1", true).unwrap();
    assert!(launch.devices.is_empty(), "{:?}", launch.devices);
    assert_eq!(env(&launch, "NVIDIA_VISIBLE_DEVICES"), Some("0,1"));
    gpus.cleanup(&child);
    assert_eq!(gpus.lock().held("group").len(), 2);
    gpus.cleanup(&id("group", None));
    assert_eq!(gpus.lock().free(), 2);
}

#[test]
fn updates_allow_and_deny_gpus_in_the_cgroup() {
    let gpus = two_gpus();
    let root = tempfile::tempdir().unwrap();
    let (cgroup, dir) = cgroup_dir(root.path(), "executor");
    gpus.update(&cgroup, &parse("cpus:1")).unwrap();
    assert_eq!(read(&dir, "devices.allow"), "");
    gpus.update(&cgroup, &parse("cpus:1;gpus:1")).unwrap();
    assert_eq!(read(&dir, "devices.allow"), "c 195:10 rwm\nc 1:3 rwm\n");
    gpus.update(&cgroup, &parse("gpus:2")).unwrap();
    assert!(read(&dir, "devices.allow").ends_with("c 195:11 rwm\nc 1:3 rwm\n"));
    let other = prepare(&gpus, &id("other", None), "gpus:1", false);
    assert!(other.is_err());
    gpus.update(&cgroup, &parse("gpus:0")).unwrap();
    assert_eq!(read(&dir, "devices.deny"), "c 195:11 rwm\nc 195:10 rwm\n");
    assert_eq!(gpus.lock().free(), 2);

    // Asking for more than exists writes nothing and keeps nothing.
    let (full, dir) = cgroup_dir(root.path(), "greedy");
    assert!(gpus.update(&full, &parse("gpus:3")).is_err());
    assert_eq!(read(&dir, "devices.allow"), "");
    assert!(gpus.update(&full, &parse("gpus:1.5")).is_err());
    assert_eq!(gpus.lock().free(), 2);

    // A container whose cgroup cannot take the rules gets nothing.
    let gone = Cgroup::V1(BTreeMap::from([(
        Controller::Devices,
        root.path().join("gone"),
    )]));
    assert!(gpus.update(&gone, &parse("gpus:1")).is_err());
    assert_eq!(gpus.lock().free(), 2);
}

#[test]
fn a_launch_then_its_update_changes_nothing() {
    let gpus = two_gpus();
    let root = tempfile::tempdir().unwrap();
    let (cgroup, dir) = cgroup_dir(root.path(), "a");
    prepare(&gpus, &id("a", None), "gpus:1", false).unwrap();
    gpus.update(&cgroup, &parse("gpus:1")).unwrap();
    assert_eq!(read(&dir, "devices.allow"), "");
    assert_eq!(gpus.lock().held("a").len(), 1);
}

#[test]
fn recovery_reads_the_gpus_back_from_devices_list() {
    let gpus = two_gpus();
    let root = tempfile::tempdir().unwrap();
    let (cgroup, dir) = cgroup_dir(root.path(), "old");
    std::fs::write(
        dir.join("devices.list"),
        "c *:* m\nb *:* m\nc 1:3 rwm\nc 195:11 rwm\nc 195:255 rwm\n",
    )
    .unwrap();
    let old = id("old", None);
    let container = Container {
        id: &old,
        cgroup: &cgroup,
        sandbox: Path::new("/tmp"),
        resources: &[],
        info: None,
        nested: false,
        image: None,
        command: None,
    };
    gpus.recover(&container);
    assert_eq!(
        gpus.lock().held("old"),
        vec![Gpu {
            index: 1,
            minor: 11
        }]
    );
    assert!(prepare(&gpus, &id("new", None), "gpus:2", false).is_err());
    let new = prepare(&gpus, &id("new", None), "gpus:1", false).unwrap();
    assert_eq!(env(&new, "NVIDIA_VISIBLE_DEVICES"), Some("0"));
    gpus.cleanup(&old);
    assert_eq!(gpus.lock().free(), 1);
}

#[test]
fn a_recovered_nested_container_gives_its_group_the_gpus() {
    let gpus = two_gpus();
    let root = tempfile::tempdir().unwrap();
    let (_, group_dir) = cgroup_dir(root.path(), "group");
    std::fs::write(group_dir.join("devices.list"), "c 195:10 rwm\n").unwrap();
    let (child_cgroup, _) = cgroup_dir(&group_dir, "task");
    let child = id("task", Some("group"));
    let container = Container {
        id: &child,
        cgroup: &child_cgroup,
        sandbox: Path::new("/tmp"),
        resources: &[],
        info: None,
        nested: true,
        image: None,
        command: None,
    };
    gpus.recover(&container);
    assert_eq!(
        gpus.lock().held("group"),
        vec![Gpu {
            index: 0,
            minor: 10
        }]
    );
    assert!(gpus.lock().held("group.task").is_empty());
}

#[test]
fn devices_list_lines_name_gpu_minors() {
    let list = "a *:* rwm\nc 195:0 rwm\nc 195:7 r\nc 195:3 m\nb 195:4 rwm\nc 1:3 rwm\nc 195:* rwm\nnonsense\n";
    assert_eq!(granted_minors(list), vec![0, 7]);
}

#[test]
fn the_isolator_manages_the_gpus_the_agent_offers() {
    let named = isolator_with("gpus:1", Some(vec![1]), ListedNvml::with(2)).unwrap();
    assert_eq!(named.lock().total(), 1);
    let launch = prepare(&named, &id("a", None), "gpus:1", false).unwrap();
    assert_eq!(env(&launch, "NVIDIA_VISIBLE_DEVICES"), Some("1"));
    assert!(rules(&launch).contains(&"c 195:11 rwm".to_string()));

    let too_many = isolator_with("gpus:3", None, ListedNvml::with(2)).unwrap_err();
    assert!(too_many.contains("NVML finds only 2"), "{too_many}");
    let broken = isolator_with("gpus:1", None, ListedNvml(Err(load_error()))).unwrap_err();
    assert!(
        broken.starts_with("gpu/nvidia: cannot load the NVML library"),
        "{broken}"
    );
    // Without gpus NVML is not asked.
    let off = isolator_with("cpus:1", None, ListedNvml(Err(load_error()))).unwrap();
    assert_eq!(off.lock().total(), 0);
    assert!(prepare(&off, &id("a", None), "gpus:1", false).is_err());
}
