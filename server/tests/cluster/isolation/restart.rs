//! Isolation across an agent restart, and the containers of executors that
//! run several tasks (task groups, custom executors).

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use meseta_agent::containerizer::cgroups::Controller;
use meseta_proto::v1::{self, task_status::Reason, TaskState};

use super::*;
use crate::agent_restart::checkpointing;

/// Starts `sleep <marker>` in a cgroup of its own under the agent's root,
/// as a crash would leave one behind.
fn plant_orphan(tc: &TestCluster, marker: &str) -> Cgroup {
    let orphan = container_cgroup(
        tc,
        "orphan-of-a-crash",
        &[Controller::Memory, Controller::Pids],
    );
    orphan.create().expect("orphan cgroup");
    let procs: Vec<std::ffi::CString> = orphan
        .procs_files()
        .iter()
        .map(|p| std::ffi::CString::new(p.to_string_lossy().as_bytes()).expect("path"))
        .collect();
    let mut command = Command::new("sleep");
    command
        .arg(marker)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec the closure only opens, writes and
    // closes files whose paths were prepared before the fork.
    unsafe {
        command.pre_exec(move || {
            for path in &procs {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("the orphan starts");
    std::thread::spawn(move || child.wait());
    orphan
}

#[test]
fn after_an_agent_crash_limits_hold_and_orphans_are_removed() {
    let Some(mut tc) = isolated("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), checkpointing("isolated-restart"));
    let offer = fw.offers().remove(0);
    let agent_id = offer.agent_id.value.clone();
    let command = "while [ ! -f go ]; do sleep 0.05; done; head -c 600m /dev/zero | tail";
    launch(
        &fw,
        &offer,
        vec![command_task(
            "later-hog",
            &offer,
            command,
            "cpus:0.1;mem:32",
        )],
    );
    let running = fw.state("later-hog", TaskState::TaskRunning);
    let container = container_path(&running);
    let memory = container_cgroup(&tc, &container, &[Controller::Memory]);
    let limit = |cgroup: &Cgroup| {
        std::fs::read_to_string(
            cgroup
                .dir(Controller::Memory)
                .expect("memory")
                .join("memory.limit_in_bytes"),
        )
        .unwrap_or_default()
        .trim()
        .to_string()
    };
    assert_eq!(limit(&memory), (32u64 << 20).to_string());
    let sandbox = task_sandbox(&tc, "later-hog");

    tc.cluster.kill_agent(0);
    let marker = format!("611.{}", std::process::id());
    let orphan = plant_orphan(&tc, &marker);
    wait_until(DEADLINE, "the orphan to run", || {
        !processes_with(&marker).is_empty()
    });

    tc.cluster.restart_agent(0).expect("the agent restarts");
    wait_for_active_agent(&tc, Some(&agent_id));
    wait_until(DEADLINE, "the orphan to be removed", || {
        processes_with(&marker).is_empty() && !orphan.exists()
    });
    assert_eq!(
        limit(&memory),
        (32u64 << 20).to_string(),
        "the limit is still in force"
    );

    std::fs::write(sandbox.join("go"), "").expect("go");
    assert_status(
        &fw.terminal("later-hog"),
        TaskState::TaskFailed,
        Some(Reason::ContainerLimitationMemory),
        &["Memory limit exceeded"],
    );
}

fn memory_limit(tc: &TestCluster, container: &str) -> u64 {
    let cgroup = container_cgroup(tc, container, &[Controller::Memory]);
    std::fs::read_to_string(
        cgroup
            .dir(Controller::Memory)
            .expect("memory")
            .join("memory.limit_in_bytes"),
    )
    .ok()
    .and_then(|t| t.trim().parse().ok())
    .unwrap_or(0)
}

#[test]
fn a_task_group_shares_its_executors_container_limits() {
    let Some(tc) = isolated("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("group", false));
    let offer = fw.offers().remove(0);
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: "group-executor".into(),
        },
        resources: meseta_proto::resources::parse_resources("cpus:0.1;mem:32").expect("resources"),
        ..Default::default()
    };
    let group = v1::TaskGroupInfo {
        tasks: ["g1", "g2"]
            .iter()
            .map(|id| command_task(id, &offer, "sleep 120", "cpus:0.1;mem:48"))
            .collect(),
    };
    fw.driver.accept_offers(
        std::slice::from_ref(&offer.id),
        vec![v1::offer::Operation {
            r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
            launch_group: Some(v1::offer::operation::LaunchGroup {
                executor,
                task_group: group,
            }),
            ..Default::default()
        }],
        None,
    );
    let g1 = fw.state("g1", TaskState::TaskRunning);
    fw.state("g2", TaskState::TaskRunning);
    let path = container_path(&g1);
    let (parent, _) = path
        .split_once('/')
        .expect("a task of a group is a nested container");
    let expected: u64 = (32 + 48 + 48) << 20;
    wait_until(
        DEADLINE,
        "the group's limit to cover the executor and both tasks",
        || memory_limit(&tc, parent) == expected,
    );
    let own = container_cgroup(&tc, &path, &[Controller::Memory]);
    assert!(
        own.exists(),
        "each task is tracked in a cgroup inside its group's"
    );
    for id in ["g1", "g2"] {
        fw.driver.kill_task(&v1::TaskId { value: id.into() });
    }
    for id in ["g1", "g2"] {
        assert_eq!(fw.terminal(id).state, TaskState::TaskKilled as i32);
    }
    let group_cgroup = container_cgroup(&tc, parent, &[Controller::Memory]);
    wait_until(
        DEADLINE,
        "the group's cgroup to go with its last task",
        || !group_cgroup.exists(),
    );
}

#[test]
fn a_custom_executors_container_holds_its_tasks_resources() {
    let Some(tc) = isolated("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("custom", false));
    let offer = fw.offers().remove(0);
    let executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "custom".into(),
        },
        command: Some(v1::CommandInfo {
            value: Some(sibling_binary("example_executor").display().to_string()),
            ..Default::default()
        }),
        resources: meseta_proto::resources::parse_resources("cpus:0.1;mem:64").expect("resources"),
        ..Default::default()
    };
    let task = v1::TaskInfo {
        name: "work".into(),
        task_id: v1::TaskId {
            value: "work".into(),
        },
        agent_id: offer.agent_id.clone(),
        resources: meseta_proto::resources::parse_resources("cpus:0.2;mem:40").expect("resources"),
        executor: Some(executor),
        data: Some(b"20000".to_vec()),
        ..Default::default()
    };
    launch(&fw, &offer, vec![task]);
    fw.state("work", TaskState::TaskRunning);
    let state = get_json(&tc.cluster.agents[0].address, "/state").expect("state");
    let container = state["frameworks"][0]["executors"][0]["container"]
        .as_str()
        .expect("the executor's container")
        .to_string();
    wait_until(DEADLINE, "the executor's limit to cover its task", || {
        memory_limit(&tc, &container) == (64 + 40) << 20
    });
    fw.driver.kill_task(&v1::TaskId {
        value: "work".into(),
    });
    assert_eq!(fw.terminal("work").state, TaskState::TaskKilled as i32);
}
