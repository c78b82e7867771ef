//! Starting a container's first process, the part every containerizer
//! shares: the command line (`sh -c` or argv with its own `argv[0]`), the
//! sandbox as working directory, `stdout`/`stderr` appended to the sandbox
//! files, a process group of its own, the [`Program`] run before `exec`,
//! and the PID recorded for recovery. A container from an image
//! ([`ImageRun`]) runs the command its image gives (docker/runtime) with an
//! environment of its own: not the agent's, but a default `PATH`, the
//! image's variables, then the request's.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use meseta_proto::v1;

use super::identity::ProcessRecord;
use super::program::Program;
use super::supervisor::{self, read_termination};
use super::{LaunchRequest, Termination};
use crate::error::AgentError;

/// A started container process.
pub(crate) struct Spawned {
    pub child: tokio::process::Child,
    /// Its PID, also its process group's ID.
    pub pid: i32,
}

/// `PATH` in a container from an image that sets none (Docker's).
pub(crate) const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How a container from an image runs (see the module docs).
pub(crate) struct ImageRun<'a> {
    /// The command its image gives, instead of the request's.
    pub command: Option<&'a v1::CommandInfo>,
    /// The image's variables, under the request's.
    pub environment: &'a [(String, String)],
}

/// Starts the request's command with `program` run before `exec` and
/// `environment` added after the request's own variables.
pub(crate) fn spawn(
    key: &str,
    request: &LaunchRequest,
    program: Program,
    environment: &[(String, String)],
) -> Result<Spawned, AgentError> {
    spawn_in(key, request, program, environment, None)
}

/// [`spawn`], for a container from an image when `image` is given.
pub(crate) fn spawn_in(
    key: &str,
    request: &LaunchRequest,
    mut program: Program,
    environment: &[(String, String)],
    image: Option<ImageRun<'_>>,
) -> Result<Spawned, AgentError> {
    let open = |name: &str| {
        let path = request.sandbox.join(name);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| AgentError::io("cannot open", &path, e))
    };
    let (stdout, stderr) = (open("stdout")?, open("stderr")?);
    let command = image
        .as_ref()
        .and_then(|i| i.command)
        .unwrap_or(&request.command);
    let mut cmd = command_line(key, command)?;
    if let Some(image) = &image {
        cmd.env_clear()
            .env("PATH", IMAGE_PATH)
            .envs(image.environment.iter().map(|(k, v)| (k, v)));
    }
    cmd.current_dir(&request.sandbox)
        .envs(request.environment.iter().map(|(k, v)| (k, v)))
        .envs(environment.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(false);
    if let Some(dir) = &request.checkpoint_dir {
        prepare_checkpoint_dir(dir)?;
        program.termination = Some(
            supervisor::Files::new(dir)
                .map_err(|e| AgentError::io("cannot use checkpoint directory", dir, e))?,
        );
        program.supervise = true;
    }
    let names = program.step_names();
    let reports =
        if program.is_empty() {
            None
        } else {
            Some(program.install(&mut cmd).map_err(|e| {
                AgentError::container(key, format!("cannot prepare the launch: {e}"))
            })?)
        };
    let spawned = cmd.spawn();
    drop(cmd);
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let failure = reports.as_ref().and_then(|r| r.failure());
            let reason = match failure {
                Some(failure) => names.describe(&failure),
                None => format!("cannot start the command: {e}"),
            };
            return Err(AgentError::container(key, reason));
        }
    };
    let pid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .ok_or_else(|| AgentError::container(key, "the process ended before it had a PID"))?;
    if let Some(dir) = &request.checkpoint_dir {
        let recorded = ProcessRecord::of(pid).map(|record| record.write(dir));
        if !matches!(recorded, Some(Ok(()))) {
            tracing::warn!(container = %key, pid, "cannot record the container's process; it cannot be recovered after a restart");
        }
    }
    Ok(Spawned { child, pid })
}

/// `sh -c value`, or `value` with `arguments` (the first is `argv[0]`).
pub(crate) fn command_line(
    key: &str,
    info: &v1::CommandInfo,
) -> Result<tokio::process::Command, AgentError> {
    if info.shell() {
        let mut command = tokio::process::Command::new("/bin/sh");
        command.arg("-c").arg(info.value());
        return Ok(command);
    }
    if info.value().is_empty() {
        return Err(AgentError::container(
            key,
            "the command has no value to execute",
        ));
    }
    let mut command = tokio::process::Command::new(info.value());
    if let Some((first, rest)) = info.arguments.split_first() {
        command.arg0(first).args(rest);
    }
    Ok(command)
}

/// How a container's main process ended, from its wait result.
pub(crate) fn termination_of(status: std::io::Result<std::process::ExitStatus>) -> Termination {
    match status {
        Ok(status) => Termination {
            exit_code: status.code(),
            signal: status.signal(),
            wait_status: Some(status.into_raw()),
            limitation: None,
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot wait for a container");
            Termination::unknown()
        }
    }
}

/// Creates a container's checkpoint directory, without what an earlier
/// container of the same ID left there.
pub(crate) fn prepare_checkpoint_dir(dir: &Path) -> Result<(), AgentError> {
    std::fs::create_dir_all(dir).map_err(|e| AgentError::io("cannot create", dir, e))?;
    for name in [
        supervisor::TERMINATION_FILE,
        supervisor::SUPERVISOR_FILE,
        super::identity::PID_FILE,
    ] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    Ok(())
}

/// How a recovered container ended, as its supervisor recorded it; when
/// nothing was recorded, by SIGKILL if one was sent, else a termination
/// with neither code nor signal.
pub(crate) fn recorded_termination(dir: &Path, killed: bool) -> Termination {
    match read_termination(dir) {
        Some(Ok(code)) => Termination {
            exit_code: Some(code),
            signal: None,
            wait_status: Some((code & 0xff) << 8),
            limitation: None,
        },
        Some(Err(signal)) => Termination {
            exit_code: None,
            signal: Some(signal),
            wait_status: Some(signal & 0x7f),
            limitation: None,
        },
        None if killed => Termination {
            exit_code: None,
            signal: Some(libc::SIGKILL),
            wait_status: Some(libc::SIGKILL),
            limitation: None,
        },
        None => Termination::unknown(),
    }
}

/// Sends `signal` to a process group; a group that is already gone is fine.
pub(crate) fn signal_group(pgid: i32, signal: i32) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: killpg has no memory effects; pgid > 1 is a group we created.
    let rc = unsafe { libc::killpg(pgid, signal) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ESRCH) {
            tracing::warn!(pgid, signal, %error, "cannot signal process group");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containerizer::identity::{ProcessRecord, PID_FILE};

    /// An agent killed after it started a container's supervisor but before
    /// it recorded the process: a restarted agent still finds the container
    /// running (it must not take it for one that never started), and once
    /// it ended, finds how.
    #[tokio::test]
    async fn a_container_whose_process_was_never_recorded_is_found_by_its_supervisor() {
        let dir = tempfile::tempdir().expect("temp dir");
        let checkpoint = dir.path().join("meta");
        let request = LaunchRequest {
            container_id: v1::ContainerId {
                value: "c1".into(),
                ..Default::default()
            },
            command: v1::CommandInfo {
                value: Some("sleep 30".into()),
                ..Default::default()
            },
            environment: Vec::new(),
            sandbox: dir.path().to_path_buf(),
            user: None,
            resources: Vec::new(),
            container: None,
            checkpoint_dir: Some(checkpoint.clone()),
        };
        let mut spawned = spawn("c1", &request, Program::default(), &[]).expect("spawns");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while supervisor::read_supervisor(&checkpoint).is_none() {
            assert!(std::time::Instant::now() < deadline, "no supervisor file");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        std::fs::remove_file(checkpoint.join(PID_FILE)).expect("the agent's record");

        let found = ProcessRecord::recover(&checkpoint).expect("a record");
        assert_eq!(found.pid, spawned.pid);
        assert!(found.is_alive());
        assert_eq!(ProcessRecord::read(&checkpoint), Some(found.clone()));

        // SAFETY: kill only sends a signal to the test's own child group.
        unsafe { libc::kill(-spawned.pid, libc::SIGKILL) };
        let _ = spawned.child.wait().await;
        std::fs::remove_file(checkpoint.join(PID_FILE)).expect("the record");
        let ended = ProcessRecord::recover(&checkpoint).expect("a record");
        assert!(!ended.is_alive());
    }
}
