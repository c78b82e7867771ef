//! Supervised containers (launched with a checkpoint directory): they end
//! exactly like unsupervised ones, record how they ended, hold none of the
//! agent's descriptors, and a new containerizer (a restarted agent) can take
//! them back, wait for them and kill them.

use std::path::Path;
use std::time::Duration;

use meseta_agent::containerizer::{
    Containerizer, LaunchRequest, ProcessContainerizer, RecoverRequest, Signal,
};
use meseta_proto::v1;

fn request(root: &Path, id: &str, shell_command: &str, supervised: bool) -> LaunchRequest {
    let sandbox = root.join("sandboxes").join(id);
    std::fs::create_dir_all(&sandbox).unwrap();
    LaunchRequest {
        container_id: v1::ContainerId {
            value: id.into(),
            parent: None,
        },
        command: v1::CommandInfo {
            value: Some(shell_command.into()),
            ..Default::default()
        },
        environment: Vec::new(),
        sandbox,
        user: None,
        resources: Vec::new(),
        checkpoint_dir: supervised.then(|| root.join("meta").join(id)),
        container: None,
    }
}

fn recover_request(r: &LaunchRequest) -> RecoverRequest {
    RecoverRequest {
        container_id: r.container_id.clone(),
        checkpoint_dir: r.checkpoint_dir.clone().unwrap(),
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

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

#[tokio::test]
async fn supervised_containers_end_like_their_commands() {
    let dir = tempfile::tempdir().unwrap();
    let c = ProcessContainerizer::new();
    let cases = [
        ("exit 0", "exit 0\n"),
        ("exit 3", "exit 3\n"),
        ("exit 143", "exit 143\n"),
        ("kill -TERM $$", "signal 15\n"),
        ("kill -KILL $$", "signal 9\n"),
    ];
    for (i, (command, recorded)) in cases.iter().enumerate() {
        let plain = request(dir.path(), &format!("p{i}"), command, false);
        let supervised = request(dir.path(), &format!("s{i}"), command, true);
        c.launch(plain.clone()).await.unwrap();
        c.launch(supervised.clone()).await.unwrap();
        let expected = c.wait(&plain.container_id).await.unwrap();
        let ended = c.wait(&supervised.container_id).await.unwrap();
        assert_eq!(ended.exit_code, expected.exit_code, "{command}");
        assert_eq!(ended.signal, expected.signal, "{command}");
        assert_eq!(ended.describe(), expected.describe(), "{command}");
        let file = supervised.checkpoint_dir.unwrap().join("termination");
        assert_eq!(std::fs::read_to_string(file).unwrap(), *recorded);
    }
}

#[tokio::test]
async fn supervised_command_keeps_its_argv_and_usage_leaves_out_the_supervisor() {
    let dir = tempfile::tempdir().unwrap();
    let c = ProcessContainerizer::new();
    let mut r = request(dir.path(), "argv", "/bin/sh", true);
    r.command.shell = Some(false);
    r.command.arguments = vec![
        "custom-name".into(),
        "-c".into(),
        "echo $0 > name; exec sleep 300".into(),
    ];
    c.launch(r.clone()).await.unwrap();
    let name = r.sandbox.join("name");
    // The shell creates the file before it writes to it: wait for the line.
    wait_until("the name in its file", || {
        std::fs::read_to_string(&name).is_ok_and(|text| text.ends_with('\n'))
    })
    .await;
    assert_eq!(std::fs::read_to_string(&name).unwrap(), "custom-name\n");
    let usage = c.usage(&r.container_id).await.unwrap();
    assert_eq!(usage.processes, Some(1), "{usage:?}");
    c.kill(&r.container_id, Signal::Kill).await.unwrap();
    assert_eq!(
        c.wait(&r.container_id).await.unwrap().signal,
        Some(libc::SIGKILL)
    );

    let mut missing = request(dir.path(), "missing", "/no/such/program", true);
    missing.command.shell = Some(false);
    let err = c.launch(missing).await.unwrap_err();
    assert!(err.to_string().contains("cannot start"), "{err}");
}

#[tokio::test]
async fn supervisor_holds_none_of_the_agents_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let c = ProcessContainerizer::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let r = request(dir.path(), "fd", "exec sleep 300", true);
    c.launch(r.clone()).await.unwrap();
    drop(listener);
    // Had the supervisor (a fork of this process) kept the socket, the
    // port would still be taken.
    std::net::TcpListener::bind(address).expect("the port is free again");
    c.kill(&r.container_id, Signal::Kill).await.unwrap();
    c.wait(&r.container_id).await.unwrap();
}

#[tokio::test]
async fn new_containerizer_takes_back_running_and_ended_containers() {
    let dir = tempfile::tempdir().unwrap();
    let before = ProcessContainerizer::new();
    let gated = request(
        dir.path(),
        "gated",
        "while [ ! -f go ]; do sleep 0.05; done; exit 5",
        true,
    );
    let ended = request(dir.path(), "ended", "exit 7", true);
    let stubborn = request(
        dir.path(),
        "stubborn",
        "trap '' TERM; sleep 300 & wait",
        true,
    );
    let never = request(dir.path(), "never", "true", true);
    for r in [&gated, &ended, &stubborn] {
        before.launch(r.clone()).await.unwrap();
    }
    before.wait(&ended.container_id).await.unwrap();

    let after = ProcessContainerizer::new();
    let requests = [&gated, &ended, &stubborn, &never].map(recover_request);
    let recovered = after.recover(requests.to_vec()).await.unwrap();
    let running: Vec<(String, bool)> = recovered
        .iter()
        .map(|c| (c.container_id.value.clone(), c.running))
        .collect();
    assert_eq!(
        running,
        [
            ("gated".to_string(), true),
            ("ended".to_string(), false),
            ("stubborn".to_string(), true),
        ],
        "a container that never started is left out"
    );
    let ended_then = after.wait(&ended.container_id).await.unwrap();
    assert_eq!(ended_then.exit_code, Some(7));

    std::fs::write(gated.sandbox.join("go"), "").unwrap();
    let gated_end = after.wait(&gated.container_id).await.unwrap();
    assert_eq!(gated_end.describe(), "Command exited with status 5");

    after
        .kill(&stubborn.container_id, Signal::Terminate)
        .await
        .unwrap();
    let usage = after.usage(&stubborn.container_id).await.unwrap();
    assert!(usage.processes.unwrap_or(0) >= 1, "{usage:?}");
    after
        .kill(&stubborn.container_id, Signal::Kill)
        .await
        .unwrap();
    let killed = after.wait(&stubborn.container_id).await.unwrap();
    assert_eq!(killed.signal, Some(libc::SIGKILL), "{killed:?}");
    let record = std::fs::read_to_string(stubborn.checkpoint_dir.unwrap().join("pid")).unwrap();
    let pid: i32 = record.split_whitespace().next().unwrap().parse().unwrap();
    wait_until("the group to be gone", || !alive(pid)).await;
}
