//! The supervisor: how a task's exit status outlives the agent.
//!
//! A container's main process is normally a child of the agent, so only the
//! agent can learn how it ended (`waitpid`). If the agent crashes, the
//! process is re-parented to `init`, and a restarted agent can see that it
//! is gone but not whether it succeeded. So a checkpointed container's main
//! process is a *supervisor*: the agent forks, and the forked copy forks
//! once more; the grandchild goes on to `exec` the command, the middle
//! process stays behind, waits for the command, writes how it ended to the
//! container's `termination` file (`exit N` or `signal N`, written to a
//! temporary file and renamed), and then ends *the same way* — it exits with
//! the same code, or kills itself with the same signal. The agent that
//! launched it therefore sees exactly the wait status the command had, and
//! an agent that restarted reads the file.
//!
//! Why not a `/bin/sh` wrapper: a shell cannot tell "killed by signal N"
//! from "exited with 128+N", cannot preserve a custom `argv[0]`, and puts
//! its own signal dispositions in front of the command. The forked
//! supervisor keeps the launch itself untouched (same `exec`, same
//! environment, same signal dispositions in the command).
//!
//! The supervisor runs between `fork` and `exec` of a multi-threaded
//! program, so it may only use async-signal-safe calls: no allocation, no
//! locks, no Rust I/O — just the raw system calls below. It first resets
//! every signal handler it inherited from the agent (tokio's SIGCHLD
//! handler writes to a descriptor) and closes every inherited descriptor
//! (the agent's listening socket must not stay open in it, and the pipe the
//! spawning code waits on must close once the command is exec'd). It
//! ignores SIGTERM, SIGINT, SIGHUP and SIGQUIT, which a kill sends to the
//! whole process group, so that it outlives the command's graceful shutdown;
//! SIGKILL ends it like the rest of the group.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The name of the file the supervisor writes.
pub const TERMINATION_FILE: &str = "termination";
const TERMINATION_TEMPORARY: &str = ".termination.tmp";
/// The supervisor's own PID (`pid N`), written by the supervisor as it
/// starts: the agent records the process only once `spawn` returned, after
/// the command was exec'd, and an agent killed in between would otherwise
/// find a running container with no record (see
/// [`super::identity::ProcessRecord::recover`]).
pub const SUPERVISOR_FILE: &str = "supervisor";
const SUPERVISOR_TEMPORARY: &str = ".supervisor.tmp";
/// Signals a kill sends to the group that the supervisor must survive.
const IGNORED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// Paths prepared before the fork (the supervisor cannot allocate).
#[derive(Debug)]
pub(crate) struct Files {
    termination: CString,
    temporary: CString,
    supervisor: CString,
    supervisor_temporary: CString,
}

impl Files {
    /// The files of a container whose checkpoint directory is `dir`.
    pub fn new(dir: &Path) -> io::Result<Self> {
        let c = |name: &str| {
            CString::new(dir.join(name).as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in a path"))
        };
        Ok(Self {
            termination: c(TERMINATION_FILE)?,
            temporary: c(TERMINATION_TEMPORARY)?,
            supervisor: c(SUPERVISOR_FILE)?,
            supervisor_temporary: c(SUPERVISOR_TEMPORARY)?,
        })
    }
}

/// The supervisor's whole life (see the module docs): waits for `child`,
/// records how the command ended, ends the same way. With a PID
/// namespace, `child` is the namespace's init, which sends the command's
/// wait status through `status_pipe` (else it is `-1`). Never returns.
///
/// # Safety
/// Must only run in a freshly forked child (see [`super::program`]).
pub(super) unsafe fn supervise(
    child: libc::pid_t,
    files: Option<&Files>,
    status_pipe: libc::c_int,
) -> ! {
    reset_signal_handlers();
    for signal in IGNORED {
        libc::signal(signal, libc::SIG_IGN);
    }
    close_descriptors_except(status_pipe);
    libc::prctl(libc::PR_SET_NAME, c"meseta-superv".as_ptr());
    if let Some(files) = files {
        let mut line = [0u8; 32];
        let length = format_line(&mut line, b"pid ", libc::getpid());
        write_atomically(
            &files.supervisor_temporary,
            &files.supervisor,
            &line[..length],
        );
    }
    let mut status = wait_for(child);
    if status_pipe >= 0 {
        let mut reported: libc::c_int = 0;
        let size = std::mem::size_of::<libc::c_int>();
        let read = libc::read(status_pipe, (&raw mut reported).cast(), size);
        if read == size as isize {
            status = reported;
        }
    }
    let mut line = [0u8; 32];
    let length = if libc::WIFEXITED(status) {
        format_line(&mut line, b"exit ", libc::WEXITSTATUS(status))
    } else {
        format_line(&mut line, b"signal ", libc::WTERMSIG(status))
    };
    if let Some(files) = files {
        write_atomically(&files.temporary, &files.termination, &line[..length]);
    }
    if libc::WIFEXITED(status) {
        libc::_exit(libc::WEXITSTATUS(status));
    }
    let signal = libc::WTERMSIG(status);
    // End the same way, without a core dump of the supervisor.
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    libc::setrlimit(libc::RLIMIT_CORE, &no_core);
    libc::signal(signal, libc::SIG_DFL);
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigaddset(&mut set, signal);
    libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    libc::kill(libc::getpid(), signal);
    libc::_exit(128 + signal)
}

/// The life of a PID namespace's init: reaps every process re-parented to
/// it until `command` ends, sends the command's raw wait status up
/// `status_pipe`, and exits (taking the rest of the namespace with it).
///
/// # Safety
/// Must only run in a freshly forked child (see [`super::program`]).
pub(super) unsafe fn init(command: libc::pid_t, status_pipe: libc::c_int) -> ! {
    reset_signal_handlers();
    close_descriptors_except(status_pipe);
    libc::prctl(libc::PR_SET_NAME, c"meseta-init".as_ptr());
    loop {
        let mut status: libc::c_int = 0;
        let rc = libc::waitpid(-1, &mut status, 0);
        if rc == command {
            libc::write(
                status_pipe,
                (&raw const status).cast(),
                std::mem::size_of::<libc::c_int>(),
            );
            libc::_exit(0);
        }
        if rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            libc::_exit(127);
        }
    }
}

/// Waits for `child`, retrying on interruption; its raw wait status.
unsafe fn wait_for(child: libc::pid_t) -> libc::c_int {
    let mut status: libc::c_int = 0;
    loop {
        let rc = libc::waitpid(child, &mut status, 0);
        if rc == child {
            return status;
        }
        if rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            libc::_exit(127);
        }
    }
}

/// Undoes every handler inherited from the agent (tokio's SIGCHLD handler
/// writes to a descriptor about to be closed). Linux numbers signals 1 to
/// 64; resetting a reserved one just fails.
unsafe fn reset_signal_handlers() {
    for signal in 1..=64 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
}

/// Closes every descriptor but stdin, stdout, stderr and `keep` (`-1`:
/// none): the agent's sockets must not stay open in a long-lived process,
/// and the pipe the agent's spawn waits on must close once the command is
/// exec'd.
unsafe fn close_descriptors_except(keep: libc::c_int) {
    if keep < 3 {
        close_range(3, u32::MAX);
    } else {
        close_range(3, (keep - 1) as u32);
        close_range(keep as u32 + 1, u32::MAX);
    }
}

/// Closes the descriptors `first..=last`.
unsafe fn close_range(first: u32, last: u32) {
    if first > last {
        return;
    }
    let rc = libc::syscall(libc::SYS_close_range, first, last, 0u32);
    if rc == 0 {
        return;
    }
    let mut limit: libc::rlimit = std::mem::zeroed();
    let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
        limit.rlim_cur.min(1 << 16) as u32
    } else {
        1024
    };
    for fd in first..max.min(last.saturating_add(1)) {
        libc::close(fd as libc::c_int);
    }
}

/// `prefix` and `value` and a newline into `out`; returns the length.
fn format_line(out: &mut [u8; 32], prefix: &[u8], value: libc::c_int) -> usize {
    let mut length = 0;
    for byte in prefix {
        out[length] = *byte;
        length += 1;
    }
    let mut digits = [0u8; 12];
    let mut count = 0;
    let mut rest = value.unsigned_abs();
    loop {
        digits[count] = b'0' + (rest % 10) as u8;
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out[length] = b'-';
        length += 1;
    }
    while count > 0 {
        count -= 1;
        out[length] = digits[count];
        length += 1;
    }
    out[length] = b'\n';
    length + 1
}

/// `line` into `target`, through `temporary` and a rename.
unsafe fn write_atomically(temporary: &CString, target: &CString, line: &[u8]) {
    let fd = libc::open(
        temporary.as_ptr(),
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
        0o644,
    );
    if fd < 0 {
        return;
    }
    let written = libc::write(fd, line.as_ptr().cast(), line.len());
    libc::close(fd);
    if written == line.len() as isize {
        libc::rename(temporary.as_ptr(), target.as_ptr());
    }
}

/// The PID the supervisor wrote in `dir`, if any.
pub fn read_supervisor(dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(dir.join(SUPERVISOR_FILE)).ok()?;
    let pid: i32 = text.trim().strip_prefix("pid ")?.trim().parse().ok()?;
    (pid > 1).then_some(pid)
}

/// How a supervised command ended, from its `termination` file:
/// `Some(Ok(code))` for an exit, `Some(Err(signal))` for a signal, `None`
/// when the file is missing or unreadable.
pub fn read_termination(dir: &Path) -> Option<Result<i32, i32>> {
    let text = std::fs::read_to_string(dir.join(TERMINATION_FILE)).ok()?;
    let (kind, number) = text.trim().split_once(' ')?;
    let number: i32 = number.trim().parse().ok()?;
    match kind {
        "exit" => Some(Ok(number)),
        "signal" => Some(Err(number)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_formatted_without_allocating() {
        let mut out = [0u8; 32];
        let n = format_line(&mut out, b"exit ", 0);
        assert_eq!(&out[..n], b"exit 0\n");
        let n = format_line(&mut out, b"signal ", 15);
        assert_eq!(&out[..n], b"signal 15\n");
        let n = format_line(&mut out, b"exit ", 255);
        assert_eq!(&out[..n], b"exit 255\n");
    }

    #[test]
    fn termination_files_are_parsed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_termination(dir.path()), None);
        std::fs::write(dir.path().join(TERMINATION_FILE), "exit 3\n").unwrap();
        assert_eq!(read_termination(dir.path()), Some(Ok(3)));
        std::fs::write(dir.path().join(TERMINATION_FILE), "signal 9\n").unwrap();
        assert_eq!(read_termination(dir.path()), Some(Err(9)));
        std::fs::write(dir.path().join(TERMINATION_FILE), "garbage").unwrap();
        assert_eq!(read_termination(dir.path()), None);
    }
}
