//! GPUs end to end on a machine without any: the agent loads a fake NVML
//! (`server/agent/tests/fake_nvml/fake_nvml.c`, compiled here) reporting
//! two GPUs with minors 0 and 1, and isolates with `gpu/nvidia`. The
//! devices cgroup is real, so a task can make device nodes 195:0 and 195:1
//! and find that it may open the one it was given (no driver behind it,
//! so the kernel answers "No such device or address") and not the other
//! ("Operation not permitted").
//!
//! Needs root and writable cgroups v1; elsewhere the tests say so loudly
//! and pass without running.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use meseta_proto::v1::{self, task_status::Reason, TaskState};

use crate::common::*;
use crate::isolation::{assert_status, can_isolate, launch, sandbox_file};

const ISOLATION: &str =
    "--isolation=cgroups/devices,filesystem/linux,gpu/nvidia,cgroups/mem,cgroups/cpu";

/// Compiles the fake NVML into `dir`; `None` (loudly) without a C compiler.
fn fake_nvml(dir: &Path) -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent/tests/fake_nvml/fake_nvml.c");
    let library = dir.join("libnvidia-ml.so.1");
    let compiled = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .output();
    match compiled {
        Ok(out) if out.status.success() => Some(library),
        Ok(out) => panic!(
            "cc cannot compile {}: {}",
            source.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(error) => {
            eprintln!("SKIPPED (loudly): no C compiler (`cc`: {error}) to build the fake NVML");
            None
        }
    }
}

/// One agent isolating with gpu/nvidia over the fake NVML (and the
/// directory holding the library), or `None` where that cannot run.
fn gpu_cluster() -> Option<(TestCluster, tempfile::TempDir)> {
    if !can_isolate() {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let library = fake_nvml(dir.path())?;
    let library = library.display().to_string();
    let tc = cluster_with_agent_args(
        "cpus:2;mem:512;disk:1024",
        &[ISOLATION, "--nvml-library", &library],
    );
    Some((tc, dir))
}

fn gpu_framework(name: &str) -> v1::FrameworkInfo {
    let mut info = framework_info(name, false);
    info.capabilities.push(v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::GpuResources as i32),
    });
    info
}

fn gpus(offer: &v1::Offer) -> f64 {
    meseta_proto::resources::scalar_total(&offer.resources, "gpus")
}

#[test]
fn a_gpu_agent_is_offered_only_to_frameworks_that_can_use_gpus() {
    let Some((tc, _library)) = gpu_cluster() else {
        return;
    };
    let slaves = get_json(&tc.master(), "/master/slaves").expect("/master/slaves");
    assert_eq!(slaves["slaves"][0]["resources"]["gpus"], 2.0, "{slaves}");

    let mut legacy = TestFramework::start(&tc.master(), framework_info("legacy", false));
    let nothing = legacy.try_offers(Duration::from_secs(2));
    assert!(
        nothing.is_none(),
        "offered to a framework without GPU_RESOURCES: {nothing:?}"
    );

    let mut ml = TestFramework::start(&tc.master(), gpu_framework("ml"));
    let offers = ml.offers();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(gpus(&offers[0]), 2.0, "{:?}", offers[0]);
    assert!(legacy.try_offers(Duration::from_millis(500)).is_none());
}

/// Prints what the task sees: its variables, and whether it may use
/// /dev/null, its own GPU's node and the other GPU's node (the fake's
/// minors are the indices).
const PROBE: &str = r#"
echo "visible=$NVIDIA_VISIBLE_DEVICES cuda=$CUDA_VISIBLE_DEVICES"
echo x > /dev/null && echo "null=allowed"
mine=$NVIDIA_VISIBLE_DEVICES
other=$((1 - mine))
mknod ./mine c 195 "$mine" && mknod ./other c 195 "$other" || exit 3
cat ./mine 2>&1 | sed 's/^/mine: /'
cat ./other 2>&1 | sed 's/^/other: /'
"#;

#[test]
fn a_task_gets_its_own_gpu_and_is_denied_the_other() {
    let Some((tc, _library)) = gpu_cluster() else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), gpu_framework("ml"));
    let offer = fw.offers().remove(0);
    let resources = "cpus:0.5;mem:64;gpus:1";
    launch(
        &fw,
        &offer,
        vec![
            command_task("first", &offer, PROBE, resources),
            command_task("second", &offer, PROBE, resources),
        ],
    );
    let mut seen = Vec::new();
    for id in ["first", "second"] {
        let done = fw.terminal(id);
        let stdout = sandbox_file(&tc, id, "stdout");
        let stderr = sandbox_file(&tc, id, "stderr");
        assert_status(&done, TaskState::TaskFinished, None, &[]);
        let visible = stdout
            .lines()
            .find_map(|l| l.strip_prefix("visible="))
            .unwrap_or_else(|| panic!("no visible= line in {stdout:?} (stderr {stderr:?})"))
            .to_string();
        let index = visible.split(' ').next().unwrap_or_default().to_string();
        assert_eq!(visible, format!("{index} cuda={index}"), "{stdout}");
        assert!(stdout.contains("null=allowed"), "{stdout}");
        assert!(
            stdout.contains("mine: cat: ./mine: No such device or address"),
            "its own GPU is allowed (no driver behind it): {stdout}"
        );
        assert!(
            stdout.contains("other: cat: ./other: Operation not permitted"),
            "the other GPU is denied: {stdout}"
        );
        seen.push(index);
    }
    seen.sort();
    assert_eq!(seen, vec!["0", "1"], "each task has a GPU of its own");
}

#[test]
fn a_fraction_of_a_gpu_is_a_task_error() {
    let Some((tc, _library)) = gpu_cluster() else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), gpu_framework("ml"));
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![command_task(
            "half",
            &offer,
            "true",
            "cpus:0.5;mem:64;gpus:0.5",
        )],
    );
    let status = fw.terminal("half");
    assert_status(
        &status,
        TaskState::TaskError,
        Some(Reason::TaskInvalid),
        &[],
    );
    assert_eq!(
        status.message.as_deref(),
        Some("Task uses invalid resources: Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer")
    );
}

#[test]
fn after_an_agent_restart_a_running_tasks_gpu_stays_its_own() {
    let Some((mut tc, _library)) = gpu_cluster() else {
        return;
    };
    let mut info = crate::agent_restart::checkpointing("ml-restart");
    info.capabilities = gpu_framework("ml-restart").capabilities;
    let mut fw = TestFramework::start(&tc.master(), info);
    let offer = fw.offers().remove(0);
    let agent_id = offer.agent_id.value.clone();
    let hold = r#"echo "visible=$NVIDIA_VISIBLE_DEVICES"; while [ ! -f go ]; do sleep 0.05; done"#;
    launch(
        &fw,
        &offer,
        vec![command_task(
            "holder",
            &offer,
            hold,
            "cpus:0.5;mem:64;gpus:1",
        )],
    );
    fw.state("holder", TaskState::TaskRunning);
    let mut held = String::new();
    wait_until(DEADLINE, "the holder to print its GPU", || {
        held = sandbox_file(&tc, "holder", "stdout");
        held.contains("visible=")
    });
    let held = held.trim().trim_start_matches("visible=").to_string();

    tc.cluster.kill_agent(0);
    tc.cluster.restart_agent(0).expect("the agent restarts");
    wait_for_active_agent(&tc, Some(&agent_id));

    // The restarted agent knows the holder's GPU is taken: the other one
    // is offered and given, and the holder's stays denied.
    let offer = fw.offers().remove(0);
    assert_eq!(gpus(&offer), 1.0, "{offer:?}");
    launch(
        &fw,
        &offer,
        vec![command_task(
            "second",
            &offer,
            PROBE,
            "cpus:0.5;mem:64;gpus:1",
        )],
    );
    assert_status(&fw.terminal("second"), TaskState::TaskFinished, None, &[]);
    let stdout = sandbox_file(&tc, "second", "stdout");
    let other = if held == "0" { "1" } else { "0" };
    assert!(
        stdout.contains(&format!("visible={other} ")),
        "holder has {held}: {stdout}"
    );
    assert!(
        stdout.contains("other: cat: ./other: Operation not permitted"),
        "{stdout}"
    );

    let sandbox = crate::isolation::task_sandbox(&tc, "holder");
    std::fs::write(sandbox.join("go"), "").expect("go");
    assert_status(&fw.terminal("holder"), TaskState::TaskFinished, None, &[]);
}

#[test]
fn a_task_group_task_uses_the_gpus_given_to_its_group() {
    let Some((tc, _library)) = gpu_cluster() else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), gpu_framework("ml-group"));
    let offer = fw.offers().remove(0);
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: "gpu-group".into(),
        },
        resources: meseta_proto::resources::parse_resources("cpus:0.1;mem:32").expect("resources"),
        ..Default::default()
    };
    let task_group = v1::TaskGroupInfo {
        tasks: vec![command_task("g1", &offer, PROBE, "cpus:0.1;mem:32;gpus:1")],
    };
    fw.driver.accept_offers(
        std::slice::from_ref(&offer.id),
        vec![v1::offer::Operation {
            r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
            launch_group: Some(v1::offer::operation::LaunchGroup {
                executor,
                task_group,
            }),
            ..Default::default()
        }],
        None,
    );
    assert_status(&fw.terminal("g1"), TaskState::TaskFinished, None, &[]);
    let sandbox = crate::isolation::task_sandbox(&tc, "gpu-group");
    let stdout = std::fs::read_to_string(sandbox.join("tasks/g1/stdout")).unwrap_or_default();
    assert!(stdout.contains("visible=0 cuda=0"), "{stdout}");
    assert!(
        stdout.contains("mine: cat: ./mine: No such device or address"),
        "{stdout}"
    );
    assert!(
        stdout.contains("other: cat: ./other: Operation not permitted"),
        "{stdout}"
    );
}
