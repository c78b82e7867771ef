//! The operator's side: flags that cannot work stop the agent with a clear
//! error; a host that cannot isolate falls back, loudly, when isolation was
//! only the default.

use std::process::Command;

use meseta_proto::v1::TaskState;

use super::*;

/// Runs `meseta agent` with `args` until it exits (it should, at once);
/// its exit success and its output.
fn agent_exits(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_meseta"))
        .args([
            "agent",
            "--master",
            "127.0.0.1:9",
            "--port",
            "0",
            "--work-dir",
        ])
        .arg(dir.path())
        .args(args)
        .output()
        .expect("meseta agent runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn an_unknown_isolator_stops_the_agent_and_lists_the_valid_ones() {
    let (ok, text) = agent_exits(&["--isolation", "cgroups/cpu,cgroups/memory"]);
    assert!(!ok, "{text}");
    assert!(text.contains("unknown isolator 'cgroups/memory'"), "{text}");
    assert!(
        text.contains("cgroups/mem") && text.contains("namespaces/pid"),
        "{text}"
    );
    let (ok, text) = agent_exits(&["--isolation", "namespaces/pid"]);
    assert!(!ok && text.contains("needs filesystem/linux"), "{text}");
    let (ok, text) = agent_exits(&["--containerizers", "rkt,mesos"]);
    assert!(
        !ok && text.contains("unknown containerizer \"rkt\"") && text.contains("docker"),
        "{text}"
    );
}

#[test]
fn isolation_asked_for_on_a_host_that_cannot_give_it_stops_the_agent() {
    let nowhere = tempfile::tempdir().expect("temp dir");
    let hierarchy = nowhere.path().to_string_lossy().into_owned();
    let (ok, text) = agent_exits(&[
        "--isolation",
        "cgroups/mem",
        "--cgroups-hierarchy",
        &hierarchy,
    ]);
    assert!(!ok, "{text}");
    assert!(text.contains("cgroup"), "{text}");
}

#[test]
fn without_cgroups_the_default_falls_back_to_plain_processes_loudly() {
    let nowhere = tempfile::tempdir().expect("temp dir");
    let hierarchy = nowhere.path().to_string_lossy().into_owned();
    let tc = cluster_with_agent_args("cpus:2;mem:512", &["--cgroups-hierarchy", &hierarchy]);
    let agent = &tc.cluster.agents[0];
    let state = get_json(&agent.address, "/state").expect("state");
    assert_eq!(
        state["flags"]["isolation"], "posix/cpu,posix/mem",
        "{state}"
    );
    let why = state["flags"]["isolation_fallback"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("isolation is off"), "{}", state["flags"]);
    let log = std::fs::read_to_string(&agent.log).unwrap_or_default();
    assert!(log.contains("ISOLATION IS OFF"), "the log says so loudly");
    // Tasks still run, as plain processes that see the host.
    let mut fw = TestFramework::start(&tc.master(), framework_info("plain", false));
    let offer = fw.offers().remove(0);
    let command = "echo processes=$(ls /proc | grep -c '^[0-9]')";
    launch(
        &fw,
        &offer,
        vec![command_task("plain", &offer, command, "cpus:0.1;mem:32")],
    );
    assert_eq!(fw.terminal("plain").state, TaskState::TaskFinished as i32);
    let out = sandbox_file(&tc, "plain", "stdout");
    let count: usize = out
        .trim()
        .strip_prefix("processes=")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        count > 6,
        "a plain process sees the host's processes: {out}"
    );
}

#[test]
fn a_second_agent_on_the_same_cgroup_root_is_refused() {
    let Some(tc) = isolated("cpus:2;mem:512", &[]) else {
        return;
    };
    let root = tc.cluster.agent_cgroups_root(0);
    let (ok, text) = agent_exits(&["--cgroups-root", &root]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("another agent on this machine uses the cgroup root"),
        "{text}"
    );
    // The first agent is unharmed.
    let state = get_json(&tc.cluster.agents[0].address, "/state").expect("state");
    assert_eq!(state["flags"]["cgroups_root"], root.as_str());
}
