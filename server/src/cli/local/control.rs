//! `meseta local --control`: the cluster driven through stdin and stdout
//! (see [`super::protocol`]), so that the Python, Java and C++ test
//! harnesses start clusters through the same launcher as the Rust tests
//! instead of each re-implementing it.
//!
//! The cluster lives exactly as long as the harness's end of stdin: EOF
//! (the harness closed it, or died) stops every process, as do `stop`,
//! Ctrl-C and SIGTERM.

use std::io::{BufRead, Write};
use std::sync::mpsc;

use meseta::launcher::{Cluster, Process};

use super::protocol::{self, Command, ProcessInfo, Target};

/// Writes one protocol line on stdout; false once nobody reads it.
pub fn emit(line: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

/// What the control loop hears.
enum Input {
    Line(String),
    /// Stdin closed (or unreadable).
    Eof,
    /// Ctrl-C or SIGTERM.
    Signal,
}

/// Announces every process, then `ready`.
pub fn announce(cluster: &mut Cluster, leader: &str, master: &str) {
    let masters = cluster.masters_mut().count();
    let agents = cluster.agents.len();
    for target in all_targets(masters, agents) {
        if let Some(process) = process_mut(cluster, target) {
            emit(&protocol::process_event("process", &info(target, process)));
        }
    }
    let root = cluster.root().display().to_string();
    emit(&protocol::ready_event(
        leader, master, &root, masters, agents,
    ));
}

/// Answers commands until `stop`, EOF on stdin, a signal, or stdout closes.
/// The caller stops the cluster and then emits `stopped`.
pub fn serve(cluster: &mut Cluster) {
    let (sender, inputs) = mpsc::channel();
    let lines = sender.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.send(Input::Line(line)).is_err() {
                return;
            }
        }
        let _ = lines.send(Input::Eof);
    });
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(super::super::shutdown_signal());
        let _ = sender.send(Input::Signal);
    });
    for input in inputs {
        let line = match input {
            Input::Line(line) => line,
            Input::Eof => {
                eprintln!("meseta local: stdin closed; stopping");
                return;
            }
            Input::Signal => {
                eprintln!("meseta local: signalled; stopping");
                return;
            }
        };
        let reply = match protocol::parse(&line) {
            Ok(Command::Stop) => {
                eprintln!("meseta local: stop; stopping");
                return;
            }
            Ok(command) => apply(cluster, command),
            Err(message) => Err(message),
        };
        let reply = reply.unwrap_or_else(|message| {
            eprintln!("meseta local: {}: {message}", line.trim());
            protocol::error_event(Some(&line), &message)
        });
        if !emit(&reply) {
            eprintln!("meseta local: stdout closed; stopping");
            return;
        }
    }
}

/// Carries out one per-process command; the reply line, or why not.
fn apply(cluster: &mut Cluster, command: Command) -> Result<String, String> {
    let (verb, target) = match command {
        Command::Kill(t) => ("killed", t),
        Command::Start(t) => ("started", t),
        Command::Restart(t) => ("restarted", t),
        Command::Pause(t) => ("paused", t),
        Command::Resume(t) => ("resumed", t),
        Command::Status(t) => ("status", t),
        Command::Stop => unreachable!("handled by serve"),
    };
    let agents = cluster.agents.len();
    let adding = matches!(command, Command::Start(Target::Agent(n)) if n == agents);
    let running = match process_mut(cluster, target) {
        Some(process) => !process.exited(),
        None if adding => false,
        None => return Err(unknown(cluster, target)),
    };
    let name = target.name();
    let launched = match command {
        Command::Start(_) if running => {
            return Err(format!("{name} is running (restart it instead)"));
        }
        Command::Pause(_) | Command::Resume(_) if !running => {
            return Err(format!("{name} is not running"));
        }
        Command::Kill(_) | Command::Pause(_) | Command::Resume(_) | Command::Status(_) => {
            if let Some(process) = process_mut(cluster, target) {
                match command {
                    Command::Kill(_) => process.kill(),
                    Command::Pause(_) => process.pause(),
                    Command::Resume(_) => process.resume(),
                    _ => {}
                }
            }
            Ok(())
        }
        Command::Start(Target::Agent(n)) if adding => cluster.add_agent(n).map(|_| ()),
        Command::Start(Target::Agent(n)) | Command::Restart(Target::Agent(n)) => {
            cluster.restart_agent(n)
        }
        Command::Start(Target::Master(n)) | Command::Restart(Target::Master(n)) => {
            cluster.restart_master(n)
        }
        Command::Stop => unreachable!("handled by serve"),
    };
    launched.map_err(|error| format!("{name}: {error}"))?;
    let Some(process) = process_mut(cluster, target) else {
        return Err(unknown(cluster, target));
    };
    let info = info(target, process);
    if verb != "status" {
        let pid = info.pid.map_or("-".into(), |pid| pid.to_string());
        eprintln!(
            "meseta local: {name} {verb} (at {}, pid {pid})",
            info.address
        );
    }
    Ok(protocol::process_event(verb, &info))
}

fn unknown(cluster: &mut Cluster, target: Target) -> String {
    let masters = cluster.masters_mut().count();
    let names: Vec<String> = all_targets(masters, cluster.agents.len())
        .map(Target::name)
        .collect();
    format!(
        "no process named {}; there are {}",
        target.name(),
        names.join(", ")
    )
}

fn all_targets(masters: usize, agents: usize) -> impl Iterator<Item = Target> {
    (0..masters)
        .map(Target::Master)
        .chain((0..agents).map(Target::Agent))
}

fn process_mut(cluster: &mut Cluster, target: Target) -> Option<&mut Process> {
    match target {
        Target::Master(n) => cluster.masters_mut().nth(n),
        Target::Agent(n) => cluster.agents.get_mut(n),
    }
}

fn info(target: Target, process: &mut Process) -> ProcessInfo {
    let running = !process.exited();
    ProcessInfo {
        name: process.name.clone(),
        role: match target {
            Target::Master(_) => "master",
            Target::Agent(_) => "agent",
        },
        address: process.address.clone(),
        pid: process.pid().filter(|_| running),
        work_dir: process.work_dir.display().to_string(),
        log: process.log.display().to_string(),
    }
}
