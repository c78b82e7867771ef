//! What a task sees: its own processes, its sandbox, its hostname, its
//! /dev/shm, its user and its limits; and a container it cannot be given.

use meseta_proto::v1::{self, r_limit_info, task_status::Reason, TaskState};

use super::*;

fn mesos_container() -> v1::ContainerInfo {
    v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        ..Default::default()
    }
}

#[test]
fn a_task_sees_its_own_processes_sandbox_and_hostname() {
    let Some(tc) = isolated("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("view", false));
    let offer = fw.offers().remove(0);
    let command = "echo processes=$(ls /proc | grep -c '^[0-9]'); \
                   echo sandbox=$MESOS_SANDBOX; \
                   test -f /mnt/mesos/sandbox/stdout && echo mounted; \
                   echo hostname=$(hostname)";
    let container = v1::ContainerInfo {
        hostname: Some("isolated-box".into()),
        ..mesos_container()
    };
    launch(
        &fw,
        &offer,
        vec![contained_task(
            "look",
            &offer,
            command,
            "cpus:0.1;mem:32",
            container,
        )],
    );
    let done = fw.terminal("look");
    assert_eq!(done.state, TaskState::TaskFinished as i32, "{done:?}");
    let pid = done.container_status.as_ref().and_then(|c| c.executor_pid);
    assert!(
        pid.is_some_and(|p| p > 1),
        "the status names the container's process: {done:?}"
    );
    let out = sandbox_file(&tc, "look", "stdout");
    let processes: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("processes="))
        .and_then(|n| n.trim().parse().ok())
        .expect("a process count");
    let host = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .count()
        })
        .unwrap_or(0);
    assert!(
        processes <= 6 && host > processes,
        "the task sees its own {processes} processes, not the host's {host}: {out}"
    );
    assert!(out.contains("sandbox=/mnt/mesos/sandbox"), "{out}");
    assert!(out.contains("mounted"), "{out}");
    assert!(out.contains("hostname=isolated-box"), "{out}");
}

#[test]
fn with_namespaces_ipc_dev_shm_is_the_tasks_own() {
    let isolation = "cgroups/cpu,cgroups/mem,namespaces/pid,namespaces/ipc,filesystem/linux";
    let Some(tc) = isolated("cpus:2;mem:512", &["--isolation", isolation]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("ipc", false));
    let offer = fw.offers().remove(0);
    let name = format!("meseta-ipc-{}", std::process::id());
    let command = format!("touch /dev/shm/{name} && ls /dev/shm");
    launch(
        &fw,
        &offer,
        vec![command_task("shm", &offer, &command, "cpus:0.1;mem:32")],
    );
    assert_eq!(fw.terminal("shm").state, TaskState::TaskFinished as i32);
    assert!(sandbox_file(&tc, "shm", "stdout").contains(&name));
    assert!(
        !std::path::Path::new("/dev/shm").join(&name).exists(),
        "the task's /dev/shm is not the host's"
    );
}

#[test]
fn a_task_runs_as_its_user_and_an_unknown_user_fails() {
    let Some(tc) = isolated("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("users", false));
    let offer = fw.offers().remove(0);
    let as_user = |id: &str, user: &str| {
        let mut task = command_task(id, &offer, "id -u; touch mine", "cpus:0.1;mem:32");
        if let Some(command) = task.command.as_mut() {
            command.user = Some(user.into());
        }
        task
    };
    launch(
        &fw,
        &offer,
        vec![
            as_user("nobody", "nobody"),
            as_user("stranger", "no-such-user-here"),
        ],
    );
    let nobody = fw.terminal("nobody");
    assert_eq!(nobody.state, TaskState::TaskFinished as i32, "{nobody:?}");
    assert_eq!(sandbox_file(&tc, "nobody", "stdout").trim(), "65534");
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(task_sandbox(&tc, "nobody").join("mine")).expect("mine");
    assert_eq!(owner.uid(), 65534);
    let stranger = fw.terminal("stranger");
    assert_status(
        &stranger,
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        &["no-such-user-here"],
    );
}

fn nofile(soft: u64, hard: u64) -> v1::ContainerInfo {
    v1::ContainerInfo {
        rlimit_info: Some(v1::RLimitInfo {
            rlimits: vec![r_limit_info::RLimit {
                r#type: Some(r_limit_info::r_limit::Type::RlmtNofile as i32),
                soft: Some(soft),
                hard: Some(hard),
            }],
        }),
        ..mesos_container()
    }
}

#[test]
fn rlimits_apply_and_one_the_host_refuses_fails_the_task() {
    let isolation = "cgroups/cpu,cgroups/mem,namespaces/pid,filesystem/linux,posix/rlimits";
    let Some(tc) = isolated("cpus:2;mem:512", &["--isolation", isolation]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("rlimits", false));
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![
            contained_task(
                "limited",
                &offer,
                "ulimit -n",
                "cpus:0.1;mem:32",
                nofile(123, 123),
            ),
            contained_task(
                "greedy",
                &offer,
                "true",
                "cpus:0.1;mem:32",
                nofile(1 << 40, 1 << 40),
            ),
            contained_task("muddled", &offer, "true", "cpus:0.1;mem:32", nofile(9, 1)),
        ],
    );
    assert_eq!(fw.terminal("limited").state, TaskState::TaskFinished as i32);
    assert_eq!(sandbox_file(&tc, "limited", "stdout").trim(), "123");
    assert_status(
        &fw.terminal("greedy"),
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        &["RLMT_NOFILE"],
    );
    assert_status(
        &fw.terminal("muddled"),
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        &["RLMT_NOFILE", "above the hard limit"],
    );
}

#[test]
fn a_docker_container_is_refused_not_run_on_the_host() {
    let Some(tc) = isolated("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("docker", false));
    let offer = fw.offers().remove(0);
    let docker = v1::ContainerInfo {
        r#type: v1::container_info::Type::Docker as i32,
        docker: Some(v1::container_info::DockerInfo {
            image: "busybox".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let marker = format!("docker-ran-{}", std::process::id());
    let command = format!("touch /tmp/{marker}");
    launch(
        &fw,
        &offer,
        vec![contained_task(
            "boxed",
            &offer,
            &command,
            "cpus:0.1;mem:32",
            docker,
        )],
    );
    assert_status(
        &fw.terminal("boxed"),
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        &["Docker"],
    );
    assert!(
        !std::path::Path::new("/tmp").join(&marker).exists(),
        "the command never ran"
    );
}
