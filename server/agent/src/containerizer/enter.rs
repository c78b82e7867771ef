//! Starting a process inside a running container: what `task exec` tools
//! ask for through LAUNCH_NESTED_CONTAINER_SESSION (Mesos's DEBUG nested
//! containers).
//!
//! It works the same for every containerizer, from the container's first
//! process alone: the new process joins the cgroups that process is in
//! (so the container's limits cover it and its end kills it), its
//! namespaces (mount, PID, IPC, UTS, network: those that differ from the
//! agent's), runs as its user with its environment (plus what the call
//! adds), in its sandbox. With a PID namespace the container's first
//! process is a supervisor outside it; the namespace's init, its child,
//! is the one entered.
//!
//! The process is a [supervisor](super::supervisor) S, in a process group
//! of its own, and its child C, which runs the command. S waits for C and
//! ends the way C did; C dies with S (`PR_SET_PDEATHSIG`), so killing S's
//! group ends the session even when C leads a terminal session of its own.

use std::ffi::{CString, OsStr};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Stdio;

use meseta_proto::v1;

use super::program::{Credentials, Namespace, Program};
use crate::error::AgentError;

/// The namespaces joined, in the order they are joined (mount last: after
/// it the agent's `/proc` paths are gone; the descriptors are opened
/// before).
const NAMESPACES: [(&str, libc::c_int); 5] = [
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("mnt", libc::CLONE_NEWNS),
];

/// What to run inside a container.
#[derive(Debug, Clone)]
pub(crate) struct Inside {
    /// The command (`shell` + `value`, or `value` + `arguments`).
    pub command: v1::CommandInfo,
    /// Variables added to the container's environment.
    pub environment: Vec<(String, String)>,
    /// Who runs it; the container's user when `None`.
    pub user: Option<String>,
    /// A terminal of this size instead of pipes.
    pub terminal: Option<(u16, u16)>,
}

/// The standard streams of a process started inside a container.
#[derive(Debug)]
pub(crate) enum Streams {
    /// Pipes: what the agent writes to stdin and reads from stdout and
    /// stderr.
    Pipes {
        stdin: tokio::process::ChildStdin,
        stdout: tokio::process::ChildStdout,
        stderr: tokio::process::ChildStderr,
    },
    /// The master side of a terminal: input and output in one.
    Terminal(OwnedFd),
}

/// A process started inside a container.
#[derive(Debug)]
pub(crate) struct Entered {
    /// The supervisor, S (see the module docs).
    pub child: tokio::process::Child,
    /// S's PID, also its process group's.
    pub pid: i32,
    pub streams: Streams,
}

/// Starts `inside` in the container whose first process is `container_pid`
/// (as the agent sees it). `key` names the new container in errors.
pub(crate) fn spawn_inside(
    key: &str,
    container_pid: i32,
    inside: &Inside,
) -> Result<Entered, AgentError> {
    let fail = |what: &str, e: std::io::Error| {
        AgentError::container(key, format!("cannot {what} of the parent container: {e}"))
    };
    let target = command_process(container_pid).map_err(|e| fail("find the processes", e))?;
    let environment = environment_of(target).map_err(|e| fail("read the environment", e))?;
    let credentials = match &inside.user {
        Some(user) => super::users::credentials(user).map_err(|e| AgentError::container(key, e))?,
        None => credentials_of(target).map_err(|e| fail("read the user", e))?,
    };
    let workdir = environment
        .iter()
        .find(|(name, _)| name == "MESOS_SANDBOX")
        .map_or_else(|| "/".to_string(), |(_, dir)| dir.clone());
    let join = super::cgroups::procs_files_joining(target)
        .map_err(|e| fail("read the cgroups", e))?
        .into_iter()
        .map(|path| c_path(key, path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut program = Program {
        supervise: true,
        join,
        enter: namespaces_of(target).map_err(|e| fail("open the namespaces", e))?,
        die_with_supervisor: true,
        terminal: inside.terminal.is_some(),
        workdir: Some(c_path(key, PathBuf::from(&workdir))?),
        credentials: Some(credentials),
        ..Program::default()
    };
    let mut command = super::spawn::command_line(key, &inside.command)?;
    command
        .env_clear()
        .envs(environment)
        .envs(inside.environment.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .kill_on_drop(false);
    let terminal = match inside.terminal {
        Some((rows, columns)) => {
            let (master, slave) = open_terminal(rows, columns)
                .map_err(|e| AgentError::container(key, format!("cannot open a terminal: {e}")))?;
            let copy = |fd: &OwnedFd| {
                fd.try_clone()
                    .map(Stdio::from)
                    .map_err(|e| AgentError::container(key, e.to_string()))
            };
            command
                .stdin(copy(&slave)?)
                .stdout(copy(&slave)?)
                .stderr(Stdio::from(slave));
            Some(master)
        }
        None => {
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            None
        }
    };
    let names = program.step_names();
    // The supervisor records nothing: a session does not outlive the agent.
    program.termination = None;
    let reports = program
        .install(&mut command)
        .map_err(|e| AgentError::container(key, format!("cannot prepare the launch: {e}")))?;
    let spawned = command.spawn();
    drop(command);
    let mut child = spawned.map_err(|e| {
        let reason = match reports.failure() {
            Some(failure) => names.describe(&failure),
            None => format!("cannot start the command: {e}"),
        };
        AgentError::container(key, reason)
    })?;
    let pid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .ok_or_else(|| AgentError::container(key, "the process ended before it had a PID"))?;
    let streams = match terminal {
        Some(master) => Streams::Terminal(master),
        None => match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(stdin), Some(stdout), Some(stderr)) => Streams::Pipes {
                stdin,
                stdout,
                stderr,
            },
            _ => return Err(AgentError::container(key, "the process has no pipes")),
        },
    };
    Ok(Entered {
        child,
        pid,
        streams,
    })
}

fn c_path(key: &str, path: PathBuf) -> Result<CString, AgentError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| AgentError::container(key, format!("NUL byte in the path {path:?}")))
}

/// The process that runs the command of the container whose first process
/// is `pid`: `pid` itself, or below the processes the agent forked without
/// `exec` (a supervisor, a PID namespace's init), which still run the
/// agent's program and hold the agent's environment.
pub(crate) fn command_process(pid: i32) -> std::io::Result<i32> {
    let program = |pid: &str| {
        std::fs::read_link(format!("/proc/{pid}/exe")).map(|path| {
            let text = path.to_string_lossy().into_owned();
            text.trim_end_matches(" (deleted)").to_string()
        })
    };
    let agent = program("self")?;
    let mut current = pid;
    // A supervisor, then an init: never more than two levels.
    for _ in 0..2 {
        if program(&current.to_string())? != agent {
            break;
        }
        let children = std::fs::read_to_string(format!("/proc/{current}/task/{current}/children"))?;
        match children.split_whitespace().find_map(|c| c.parse().ok()) {
            Some(child) => current = child,
            None => break,
        }
    }
    Ok(current)
}

/// The namespaces of `pid` that differ from the agent's, opened.
fn namespaces_of(pid: i32) -> std::io::Result<Vec<Namespace>> {
    let mut joined = Vec::new();
    for (name, kind) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        if std::fs::read_link(&theirs)? == std::fs::read_link(format!("/proc/self/ns/{name}"))? {
            continue;
        }
        let file = std::fs::File::open(&theirs)?;
        joined.push(Namespace {
            file: OwnedFd::from(file),
            kind,
            name: name.to_string(),
        });
    }
    Ok(joined)
}

/// The environment `pid` was started with.
fn environment_of(pid: i32) -> std::io::Result<Vec<(String, String)>> {
    let raw = std::fs::read(format!("/proc/{pid}/environ"))?;
    Ok(raw
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let text = OsStr::from_bytes(entry).to_string_lossy();
            let (name, value) = text.split_once('=')?;
            (!name.is_empty()).then(|| (name.to_string(), value.to_string()))
        })
        .collect())
}

/// The user, group and supplementary groups `pid` runs as.
fn credentials_of(pid: i32) -> std::io::Result<Credentials> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse::<u32>().ok())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let missing = || std::io::Error::other("no Uid/Gid in /proc status");
    let uid = *field("Uid:").first().ok_or_else(missing)?;
    let gid = *field("Gid:").first().ok_or_else(missing)?;
    Ok(Credentials {
        user: format!("uid {uid}"),
        uid,
        gid,
        groups: field("Groups:"),
    })
}

/// A new terminal of `rows` × `columns`: (master, slave).
fn open_terminal(rows: u16, columns: u16) -> std::io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: posix_openpt returns a new descriptor or -1.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if master < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `master` is a fresh descriptor we own from here on.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&master);
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: grantpt/unlockpt take the master descriptor; ptsname_r
    // writes a NUL-terminated name into the 128-byte buffer.
    let ok = unsafe {
        libc::grantpt(raw) == 0
            && libc::unlockpt(raw) == 0
            && libc::ptsname_r(raw, name.as_mut_ptr(), name.len()) == 0
    };
    if !ok {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: ptsname_r wrote a NUL-terminated string into `name`.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    // SAFETY: opening the slave by its name; the result is checked.
    let slave = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `slave` is a fresh descriptor we own from here on.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    resize_terminal(&master, rows, columns)?;
    Ok((master, slave))
}

/// Sets a terminal's window size (through its master side).
pub(crate) fn resize_terminal(master: &OwnedFd, rows: u16, columns: u16) -> std::io::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let raw = std::os::fd::AsRawFd::as_raw_fd(master);
    // SAFETY: TIOCSWINSZ reads a `winsize` from the pointer given.
    if unsafe { libc::ioctl(raw, libc::TIOCSWINSZ, &size) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
