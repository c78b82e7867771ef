//! The process containerizer with real `sh` commands: exit codes, signals,
//! environment and working directory, and that nothing outlives a container.

use std::path::Path;
use std::time::Duration;

use meseta_agent::containerizer::{Containerizer, LaunchRequest, ProcessContainerizer, Signal};
use meseta_proto::v1;

fn request(sandbox: &Path, id: &str, shell_command: &str) -> LaunchRequest {
    std::fs::create_dir_all(sandbox).unwrap();
    LaunchRequest {
        container_id: v1::ContainerId {
            value: id.into(),
            parent: None,
        },
        command: v1::CommandInfo {
            value: Some(shell_command.into()),
            ..Default::default()
        },
        environment: vec![("GREETING".into(), "hello there".into())],
        sandbox: sandbox.to_path_buf(),
        user: None,
        resources: Vec::new(),
        checkpoint_dir: None,
        container: None,
    }
}

fn alive(pid: i32) -> bool {
    // A zombie still has a /proc entry: look at its state too.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn containerizer_reports_exit_codes_and_writes_output() {
    let dir = tempfile::tempdir().unwrap();
    let c = ProcessContainerizer::new();
    let ok = request(
        &dir.path().join("a"),
        "a",
        "echo \"$GREETING from $(pwd)\"; echo oops >&2",
    );
    c.launch(ok.clone()).await.unwrap();
    let ended = c.wait(&ok.container_id).await.unwrap();
    assert!(ended.succeeded());
    assert_eq!(ended.describe(), "Command exited with status 0");
    let stdout = std::fs::read_to_string(ok.sandbox.join("stdout")).unwrap();
    assert_eq!(
        stdout.trim(),
        format!("hello there from {}", ok.sandbox.display())
    );
    assert_eq!(
        std::fs::read_to_string(ok.sandbox.join("stderr")).unwrap(),
        "oops\n"
    );
    // A second wait sees the same ending.
    assert_eq!(c.wait(&ok.container_id).await.unwrap(), ended);

    let failing = request(&dir.path().join("b"), "b", "exit 3");
    c.launch(failing.clone()).await.unwrap();
    let ended = c.wait(&failing.container_id).await.unwrap();
    assert_eq!(ended.exit_code, Some(3));
    assert_eq!(ended.describe(), "Command exited with status 3");
}

#[tokio::test]
async fn containerizer_runs_argv_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let c = ProcessContainerizer::new();
    let mut r = request(&dir.path().join("argv"), "argv", "/bin/echo");
    r.command.shell = Some(false);
    r.command.arguments = vec!["echo".into(), "a b".into(), "$HOME".into()];
    c.launch(r.clone()).await.unwrap();
    assert!(c.wait(&r.container_id).await.unwrap().succeeded());
    assert_eq!(
        std::fs::read_to_string(r.sandbox.join("stdout")).unwrap(),
        "a b $HOME\n"
    );

    let mut missing = request(&dir.path().join("missing"), "missing", "/no/such/program");
    missing.command.shell = Some(false);
    let err = c.launch(missing).await.unwrap_err();
    assert!(err.to_string().contains("cannot start"), "{err}");
}

#[tokio::test]
async fn containerizer_kill_reaches_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let c = ProcessContainerizer::new();
    let r = request(
        &dir.path().join("k"),
        "k",
        "sleep 300 & echo $! > child; wait",
    );
    c.launch(r.clone()).await.unwrap();
    let child_file = r.sandbox.join("child");
    wait_until("the child's pid", || {
        std::fs::read_to_string(&child_file).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;
    let child: i32 = std::fs::read_to_string(&child_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(child));
    let usage = c.usage(&r.container_id).await.unwrap();
    assert!(usage.processes.unwrap() >= 2, "{usage:?}");

    c.kill(&r.container_id, Signal::Terminate).await.unwrap();
    let ended = c.wait(&r.container_id).await.unwrap();
    assert_eq!(ended.signal, Some(libc::SIGTERM));
    assert_eq!(
        ended.describe(),
        "Command terminated with signal Terminated"
    );
    wait_until("the background child to die", || !alive(child)).await;
    // Killing an ended container is fine.
    c.kill(&r.container_id, Signal::Kill).await.unwrap();
}

#[tokio::test]
async fn containerizer_leaves_nothing_behind_when_the_main_process_exits() {
    let dir = tempfile::tempdir().unwrap();
    let c = ProcessContainerizer::new();
    let r = request(&dir.path().join("bg"), "bg", "sleep 300 & echo $! > child");
    c.launch(r.clone()).await.unwrap();
    assert!(c.wait(&r.container_id).await.unwrap().succeeded());
    let child: i32 = std::fs::read_to_string(r.sandbox.join("child"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until("the orphaned child to die", || !alive(child)).await;
}

#[tokio::test]
async fn containerizer_rejects_unknown_and_duplicate_containers() {
    let dir = tempfile::tempdir().unwrap();
    let c = ProcessContainerizer::new();
    let unknown = v1::ContainerId {
        value: "nope".into(),
        parent: None,
    };
    assert!(c.wait(&unknown).await.is_err());
    assert!(c.kill(&unknown, Signal::Kill).await.is_err());
    let r = request(&dir.path().join("d"), "d", "sleep 300");
    c.launch(r.clone()).await.unwrap();
    assert!(c.launch(r.clone()).await.is_err());
    c.kill(&r.container_id, Signal::Kill).await.unwrap();
    assert_eq!(
        c.wait(&r.container_id).await.unwrap().signal,
        Some(libc::SIGKILL)
    );
    assert!(c.recover(Vec::new()).await.unwrap().is_empty());
}
