//! What a task in an image sees and runs: the image's root (with the
//! sandbox at /mnt/mesos/sandbox, its own /proc and a minimal /dev), the
//! image's Entrypoint, Cmd, Env and WorkingDir as Mesos's docker/runtime
//! applies them, and the isolation's limits as without an image.

use meseta::docker_env::TEST_IMAGE;
use meseta_proto::v1::{self, task_status::Reason, TaskState};

use super::*;
use crate::isolation::{assert_status, launch, sandbox_file};

/// A task with no command value (shell false): the image's command runs,
/// with `arguments` if given.
fn entrypoint_task(id: &str, offer: &v1::Offer, arguments: &[&str]) -> v1::TaskInfo {
    let mut task = image_task(id, offer, "", RUNTIME_IMAGE);
    task.command = Some(v1::CommandInfo {
        shell: Some(false),
        value: None,
        arguments: arguments.iter().map(|a| a.to_string()).collect(),
        environment: Some(v1::Environment {
            variables: vec![v1::environment::Variable {
                name: "OVERRIDDEN".into(),
                value: Some("by-task".into()),
                ..Default::default()
            }],
        }),
        ..Default::default()
    });
    task
}

#[test]
fn the_images_entrypoint_cmd_env_and_working_dir_apply() {
    let Some(env) = environment() else {
        return;
    };
    let store = tempfile::tempdir().expect("store dir");
    let tc = image_agent(
        "cpus:2;mem:512",
        &format!("http://{}", env.registry),
        store.path(),
    );
    let mut fw = TestFramework::start(&tc.master(), framework_info("runtime", false));
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![
            entrypoint_task("defaults", &offer, &[]),
            entrypoint_task(
                "arguments",
                &offer,
                &["echo $GREETING > $MESOS_SANDBOX/args; pwd >> $MESOS_SANDBOX/args"],
            ),
        ],
    );
    for task in ["defaults", "arguments"] {
        let status = fw.terminal(task);
        assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    }
    // Entrypoint + Cmd, in WorkingDir; the task's variables win over the image's.
    assert_eq!(sandbox_file(&tc, "defaults", "pwd").trim(), "/srv/app");
    assert_eq!(
        sandbox_file(&tc, "defaults", "env").trim(),
        "hello-from-image by-task"
    );
    // Entrypoint + the task's arguments instead of Cmd.
    assert_eq!(
        sandbox_file(&tc, "arguments", "args"),
        "hello-from-image\n/srv/app\n"
    );
    assert!(
        sandbox_file(&tc, "arguments", "pwd").is_empty(),
        "Cmd did not run"
    );

    // A shell command ignores Entrypoint and Cmd, and starts in WorkingDir.
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![image_task(
            "shell",
            &offer,
            "pwd > $MESOS_SANDBOX/shell",
            RUNTIME_IMAGE,
        )],
    );
    assert_eq!(fw.terminal("shell").state, TaskState::TaskFinished as i32);
    assert_eq!(sandbox_file(&tc, "shell", "shell").trim(), "/srv/app");
    assert!(sandbox_file(&tc, "shell", "env").is_empty());
}

#[test]
fn the_root_is_the_images_and_the_sandbox_is_mounted_in_it() {
    let Some(env) = environment() else {
        return;
    };
    let store = tempfile::tempdir().expect("store dir");
    let tc = image_agent(
        "cpus:2;mem:512",
        &format!("http://{}", env.registry),
        store.path(),
    );
    let mut fw = TestFramework::start(&tc.master(), framework_info("root", false));
    let offer = fw.offers().remove(0);
    let mine = format!("/tmp/meseta-image-test-{}", std::process::id());
    let probe = format!(
        "cd $MESOS_SANDBOX && pwd > where && ls / > root && \
         ls /proc | grep -c '^[0-9]' > pids && ls /dev > dev && \
         echo x > /dev/null && head -c 4 /dev/zero | wc -c > zero && \
         (test -e /usr/bin/cargo || test -e /etc/os-release; echo $? > host) && \
         (touch /sys/x 2>/dev/null; echo $? > sys) && echo written > {mine}"
    );
    launch(
        &fw,
        &offer,
        vec![image_task("look", &offer, &probe, TEST_IMAGE)],
    );
    let status = fw.terminal("look");
    assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    assert_eq!(
        sandbox_file(&tc, "look", "where").trim(),
        "/mnt/mesos/sandbox"
    );
    let root = sandbox_file(&tc, "look", "root");
    for entry in ["bin", "dev", "etc", "proc", "sys", "mnt"] {
        assert!(
            root.lines().any(|l| l == entry),
            "/{entry} in the image's root: {root}"
        );
    }
    assert!(
        !root.lines().any(|l| l.starts_with(".meseta")),
        "the old root is gone: {root}"
    );
    assert_eq!(
        sandbox_file(&tc, "look", "host").trim(),
        "1",
        "the host's files are not visible"
    );
    let pids: u32 = sandbox_file(&tc, "look", "pids")
        .trim()
        .parse()
        .expect("a count");
    assert!(
        pids < 10,
        "its own PID namespace's /proc ({pids} processes)"
    );
    let dev = sandbox_file(&tc, "look", "dev");
    for node in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "fd",
    ] {
        assert!(dev.lines().any(|l| l == node), "/dev/{node}: {dev}");
    }
    assert_eq!(sandbox_file(&tc, "look", "zero").trim(), "4");
    assert_ne!(
        sandbox_file(&tc, "look", "sys").trim(),
        "0",
        "/sys is read-only"
    );
    assert!(
        !std::path::Path::new(&mine).exists(),
        "the task's /tmp is the image's"
    );
}

#[test]
fn the_memory_limit_still_ends_a_hog_in_an_image() {
    let Some(env) = environment() else {
        return;
    };
    let store = tempfile::tempdir().expect("store dir");
    let tc = image_agent(
        "cpus:2;mem:512",
        &format!("http://{}", env.registry),
        store.path(),
    );
    let mut fw = TestFramework::start(&tc.master(), framework_info("hog", false));
    let offer = fw.offers().remove(0);
    let hog = crate::isolation::contained_task(
        "hog",
        &offer,
        "head -c 600m /dev/zero | tail",
        "cpus:0.1;mem:32",
        image_container(TEST_IMAGE),
    );
    launch(&fw, &offer, vec![hog]);
    let status = fw.terminal("hog");
    assert_status(
        &status,
        TaskState::TaskFailed,
        Some(Reason::ContainerLimitationMemory),
        &["Memory limit exceeded"],
    );
}
