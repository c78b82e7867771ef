//! `meseta local --control`, the way the Python, Java and C++ harnesses
//! drive it: JSON lines on its stdout, commands on its stdin. A killed or
//! restarted agent comes back, a bad command gets an error and harms
//! nothing, and closing stdin (a test process dying) stops every process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

/// A `meseta local --control` child and its two pipes.
struct Control {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Control {
    fn start(args: &[&str]) -> Control {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meseta"))
            .args(["local", "--control"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("meseta local starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Control {
            child,
            stdin,
            lines,
        }
    }

    /// The next line, which must be one flat JSON object with an event;
    /// None at EOF.
    fn next(&self) -> Option<Value> {
        let line = match self.lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => line,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(timeout) => panic!("no line from meseta local: {timeout}"),
        };
        let value: Value = serde_json::from_str(&line).expect("a JSON line");
        let object = value.as_object().expect("an object");
        assert!(object["event"].is_string(), "no event: {line}");
        for (key, field) in object {
            assert!(
                !field.is_object() && !field.is_array(),
                "{key} is nested: {line}"
            );
        }
        Some(value)
    }

    /// Sends one command and returns its reply.
    fn send(&mut self, command: &str) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").expect("command sent");
        stdin.flush().expect("command flushed");
        self.next().expect("a reply")
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        // EOF stops the cluster; kill only what is left after that.
        self.stdin.take();
        for _ in 0..600 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alive(pid: &Value) -> bool {
    let pid = pid.as_i64().expect("a pid") as i32;
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn active_agents(master: &str) -> Option<f64> {
    get_json(master, "/metrics/snapshot")
        .ok()
        .and_then(|m| m["master/slaves_active"].as_f64())
}

#[test]
fn meseta_local_control_drives_single_processes_and_stops_on_eof() {
    let root = tempfile::tempdir().expect("temp dir");
    let root_path = root.path().display().to_string();
    let mut control = Control::start(&[
        "--agents",
        "2",
        "--port",
        "0",
        "--work-dir",
        &root_path,
        "--resources",
        "cpus:1;mem:256;disk:1024",
        "--master-arg=--hostname",
        "--master-arg=control-test",
        "--agent-arg",
        "--status-update-retry-interval",
        "--agent-arg",
        "1secs",
    ]);

    let mut processes = Vec::new();
    let ready = loop {
        let event = control.next().expect("events before EOF");
        match event["event"].as_str() {
            Some("process") => processes.push(event),
            Some("ready") => break event,
            _ => panic!("unexpected {event}"),
        }
    };
    let names: Vec<&str> = processes
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["master", "agent-0", "agent-1"]);
    for process in &processes {
        assert_eq!(process["running"], true, "{process}");
        assert!(alive(&process["pid"]), "{process}");
        let name = process["name"].as_str().unwrap();
        assert_eq!(process["log"], format!("{root_path}/{name}.log"));
        assert_eq!(process["work_dir"], format!("{root_path}/{name}"));
    }
    let master = ready["leader"].as_str().expect("leader").to_string();
    assert_eq!(processes[0]["address"], master);
    assert_eq!(ready["master"], master);
    assert_eq!(ready["root"], root_path);
    assert_eq!(
        (ready["masters"].as_u64(), ready["agents"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        active_agents(&master),
        Some(2.0),
        "ready means every agent is in"
    );
    let state = get_json(&master, "/master/state").expect("master state");
    assert_eq!(
        state["hostname"], "control-test",
        "--master-arg reached the master"
    );
    let agent = get_json(processes[2]["address"].as_str().unwrap(), "/state").unwrap();
    assert_eq!(
        agent["resources"]["cpus"], 1.0,
        "--resources reached the agents"
    );

    // Killed: gone, and the reply says so; restarted: a new process on the
    // same work dir, which the master has again.
    let killed = control.send("kill agent-1");
    assert_eq!(
        (killed["event"].as_str(), killed["running"].as_bool()),
        (Some("killed"), Some(false))
    );
    assert!(killed["pid"].is_null());
    assert!(!alive(&processes[2]["pid"]), "agent-1 was killed");
    let restarted = control.send("restart agent-1");
    assert_eq!(restarted["event"], "restarted", "{restarted}");
    assert_ne!(restarted["pid"], processes[2]["pid"]);
    assert!(alive(&restarted["pid"]));
    assert_eq!(restarted["work_dir"], processes[2]["work_dir"]);
    let address = restarted["address"].as_str().unwrap().to_string();
    wait_until(DEADLINE, "the restarted agent answers", || {
        get_json(&address, "/state").is_ok_and(|s| s["id"] == agent["id"])
    });
    wait_until(DEADLINE, "two active agents", || {
        active_agents(&master) == Some(2.0)
    });

    // Bad commands: an error line each, and the cluster runs on.
    for bad in [
        "explode agent-0",
        "kill agent-7",
        "restart",
        "start agent-0",
        "resume nobody",
    ] {
        let error = control.send(bad);
        assert_eq!(error["event"], "error", "{bad}: {error}");
        assert_eq!(error["command"], bad);
        assert!(!error["message"].as_str().unwrap_or("").is_empty());
    }
    let status = control.send("status agent-0");
    assert_eq!(
        (status["event"].as_str(), status["pid"].clone()),
        (Some("status"), processes[1]["pid"].clone())
    );
    assert_eq!(
        active_agents(&master),
        Some(2.0),
        "still running after bad commands"
    );

    // Pause and resume: SIGSTOP and SIGCONT.
    let pid = processes[1]["pid"].as_i64().unwrap();
    let state_of = |pid: i64| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            .map(str::to_string)
    };
    assert_eq!(control.send("pause agent-0")["event"], "paused");
    wait_until(DEADLINE, "agent-0 stopped", || {
        state_of(pid).as_deref() == Some("T")
    });
    assert_eq!(control.send("resume agent-0")["event"], "resumed");
    wait_until(DEADLINE, "agent-0 running", || {
        state_of(pid).as_deref() != Some("T")
    });

    // A new agent, then the master restarted on its port.
    let added = control.send("start agent-2");
    assert_eq!(
        (added["event"].as_str(), added["name"].as_str()),
        (Some("started"), Some("agent-2"))
    );
    wait_until(DEADLINE, "three active agents", || {
        active_agents(&master) == Some(3.0)
    });
    let restarted = control.send("restart master");
    assert_eq!(restarted["address"], master, "{restarted}");
    assert_ne!(restarted["pid"], processes[0]["pid"]);
    wait_until(DEADLINE, "the restarted master answers", || {
        active_agents(&master).is_some()
    });

    // EOF on stdin: everything stops, `stopped` is the last line, and the
    // launcher exits 0.
    let pids = [
        restarted["pid"].clone(),
        processes[1]["pid"].clone(),
        control.send("status agent-1")["pid"].clone(),
        added["pid"].clone(),
    ];
    control.stdin.take();
    let last = control.next().expect("a last line");
    assert_eq!(last["event"], "stopped", "{last}");
    assert!(control.next().is_none(), "nothing after stopped");
    let status = control.child.wait().expect("meseta local exits");
    assert!(status.success(), "{status}");
    for pid in &pids {
        assert!(!alive(pid), "{pid} outlived the cluster");
    }
}

#[test]
fn meseta_local_control_reports_a_cluster_that_cannot_start() {
    let root = tempfile::tempdir().expect("temp dir");
    let root_path = root.path().display().to_string();
    let control = Control::start(&[
        "--agents",
        "1",
        "--port",
        "0",
        "--work-dir",
        &root_path,
        "--master-arg=--no-such-flag",
    ]);
    let error = control.next().expect("an error line");
    assert_eq!(error["event"], "error", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("master"),
        "{error}"
    );
    assert!(control.next().is_none(), "then EOF");
}
