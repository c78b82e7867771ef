//! What runs between `fork` and `exec` of a container's first process: the
//! steps a containerizer asks for, prepared before the fork so the child
//! only makes system calls.
//!
//! ```text
//! agent ── fork ─▶ A: join cgroups, unshare namespaces, mounts, hostname
//!                  │   (with a supervisor) fork ─▶ A stays as supervisor
//!                  ▼
//!                  B: (new PID namespace) PID 1: mount /proc, fork ─▶ B stays as init
//!                  ▼
//!                  C: rlimits, groups, gid, uid ─▶ exec the command
//! ```
//! Without a supervisor A itself goes on to exec; without a PID namespace
//! there is no B. A container from an image also gets its root prepared
//! in A and entered by B instead of mounting `/proc` on the host's
//! (see [`super::new_root`]). A (the [supervisor](super::supervisor)) records how the
//! command ended and ends the same way. B is the namespace's init: it
//! reaps orphans, passes C's wait status up to A through a pipe (an init
//! cannot end itself with a signal), and when it exits the kernel kills
//! whatever else runs in the namespace.
//!
//! Every step that fails writes a [`Failure`] record (step, index, errno)
//! to a report pipe before the launch is abandoned, so the agent can say
//! which step failed and why ("cannot set RLMT_NOFILE ...") instead of
//! only an errno.
//!
//! Everything here runs in a forked child of a multi-threaded program: no
//! allocation, no locks, only async-signal-safe calls.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::new_root::{self, NewRoot};
use super::supervisor::{self, Files};

/// The steps that can fail, as reported through the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Step {
    JoinCgroup = 1,
    Unshare = 2,
    Mount = 3,
    Hostname = 4,
    Fork = 5,
    MountProc = 6,
    Rlimit = 7,
    Groups = 8,
    Gid = 9,
    Uid = 10,
    RootSetup = 11,
    PivotRoot = 12,
    Chdir = 13,
    Setns = 14,
    Terminal = 15,
}

impl Step {
    fn from_number(number: u32) -> Option<Self> {
        Some(match number {
            1 => Step::JoinCgroup,
            2 => Step::Unshare,
            3 => Step::Mount,
            4 => Step::Hostname,
            5 => Step::Fork,
            6 => Step::MountProc,
            7 => Step::Rlimit,
            8 => Step::Groups,
            9 => Step::Gid,
            10 => Step::Uid,
            11 => Step::RootSetup,
            12 => Step::PivotRoot,
            13 => Step::Chdir,
            14 => Step::Setns,
            15 => Step::Terminal,
            _ => return None,
        })
    }
}

/// One `mount(2)` call.
#[derive(Debug, Clone)]
pub(crate) struct MountCall {
    pub source: Option<CString>,
    pub target: CString,
    pub fstype: Option<CString>,
    pub flags: libc::c_ulong,
    pub data: Option<CString>,
    /// For error messages: "bind the sandbox at /mnt/mesos/sandbox".
    pub what: String,
}

/// Who the command runs as.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub user: String,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
}

/// One resource limit: `setrlimit(resource, soft, hard)`.
#[derive(Debug, Clone)]
pub(crate) struct Rlimit {
    pub resource: libc::__rlimit_resource_t,
    pub limit: libc::rlimit,
    /// Its Mesos name, for error messages (`RLMT_NOFILE`).
    pub name: String,
}

/// A namespace of a running container to join: its `/proc/PID/ns/…` file,
/// opened before the fork.
#[derive(Debug)]
pub(crate) struct Namespace {
    pub file: OwnedFd,
    /// Its `CLONE_NEW*` type.
    pub kind: libc::c_int,
    /// For error messages: `mnt`, `pid`, ...
    pub name: String,
}

/// Everything the child does before `exec`, prepared in the agent.
#[derive(Debug, Default)]
pub(crate) struct Program {
    /// Fork a supervisor that records how the command ended (in
    /// `termination`, when given).
    pub supervise: bool,
    pub termination: Option<Files>,
    /// `cgroup.procs` files to write "0" into.
    pub join: Vec<CString>,
    /// `CLONE_NEW*` flags for `unshare` (not `CLONE_NEWPID`).
    pub unshare: libc::c_int,
    pub mounts: Vec<MountCall>,
    pub hostname: Option<CString>,
    /// A new PID namespace, the command's init as its PID 1 (needs
    /// `supervise` and a mount namespace for its `/proc`).
    pub pid_namespace: bool,
    pub rlimits: Vec<Rlimit>,
    pub credentials: Option<Credentials>,
    /// A root filesystem of its own (a container from an image; needs
    /// `pid_namespace`).
    pub root: Option<NewRoot>,
    /// Namespaces of a running container to join (a process started
    /// inside it), after the cgroups; a PID namespace takes effect for
    /// the supervisor's child.
    pub enter: Vec<Namespace>,
    /// The command dies with its supervisor (`PR_SET_PDEATHSIG`), so that
    /// killing the supervisor's group reaches it even in a session of its
    /// own.
    pub die_with_supervisor: bool,
    /// The command leads a session of its own with its standard input (a
    /// terminal) as controlling terminal.
    pub terminal: bool,
    /// The command's working directory, entered after everything else
    /// (joining a mount namespace moves to its root).
    pub workdir: Option<CString>,
}

/// What each step is about, in words, kept by the agent to describe a
/// failure the child reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepNames {
    join: Vec<String>,
    mounts: Vec<String>,
    rlimits: Vec<String>,
    user: String,
    setup: Vec<String>,
    workdir: String,
    namespaces: Vec<String>,
}

/// A failed step, as the child reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub step: Step,
    pub index: u32,
    pub errno: i32,
}

/// The agent's side of the report pipe.
pub(crate) struct Reports {
    read: OwnedFd,
}

impl Reports {
    /// The first failure reported, if any (never blocks).
    pub fn failure(&self) -> Option<Failure> {
        let mut record = [0u8; 12];
        // SAFETY: reading at most 12 bytes into a 12-byte buffer from a
        // descriptor we own (non-blocking).
        let read = unsafe { libc::read(self.read.as_raw_fd(), record.as_mut_ptr().cast(), 12) };
        if read != 12 {
            return None;
        }
        let word = |i: usize| [record[i], record[i + 1], record[i + 2], record[i + 3]];
        Some(Failure {
            step: Step::from_number(u32::from_ne_bytes(word(0)))?,
            index: u32::from_ne_bytes(word(4)),
            errno: i32::from_ne_bytes(word(8)),
        })
    }
}

impl StepNames {
    /// Words for a failure the child reported.
    pub fn describe(&self, failure: &Failure) -> String {
        let error = io::Error::from_raw_os_error(failure.errno);
        let name = |names: &[String]| {
            names
                .get(failure.index as usize)
                .cloned()
                .unwrap_or_else(|| "?".to_string())
        };
        match failure.step {
            Step::JoinCgroup => format!("cannot join the cgroup {}: {error}", name(&self.join)),
            Step::Unshare => format!("cannot create the container's namespaces: {error}"),
            Step::Mount => format!("cannot {}: {error}", name(&self.mounts)),
            Step::Hostname => format!("cannot set the container's hostname: {error}"),
            Step::Fork => format!("cannot fork: {error}"),
            Step::MountProc => format!("cannot mount /proc in the PID namespace: {error}"),
            Step::Rlimit => format!("cannot set the rlimit {}: {error}", name(&self.rlimits)),
            Step::Groups | Step::Gid | Step::Uid => {
                format!("cannot switch to user {:?}: {error}", self.user)
            }
            Step::RootSetup => format!("cannot {}: {error}", name(&self.setup)),
            Step::PivotRoot => {
                format!("cannot enter the container's root filesystem (pivot_root): {error}")
            }
            Step::Chdir => format!(
                "cannot change to the working directory {} in the container: {error}",
                self.workdir
            ),
            Step::Setns => format!(
                "cannot join the container's {} namespace: {error}",
                name(&self.namespaces)
            ),
            Step::Terminal => format!("cannot give the command its terminal: {error}"),
        }
    }
}

impl Program {
    /// True when there is nothing to do before `exec`.
    pub fn is_empty(&self) -> bool {
        !self.supervise
            && self.join.is_empty()
            && self.unshare == 0
            && self.mounts.is_empty()
            && self.hostname.is_none()
            && self.rlimits.is_empty()
            && self.credentials.is_none()
            && self.root.is_none()
            && self.enter.is_empty()
            && !self.die_with_supervisor
            && !self.terminal
            && self.workdir.is_none()
    }

    /// The words to describe its steps' failures with.
    pub fn step_names(&self) -> StepNames {
        StepNames {
            join: self
                .join
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
            mounts: self.mounts.iter().map(|m| m.what.clone()).collect(),
            rlimits: self
                .rlimits
                .iter()
                .map(|r| {
                    format!(
                        "{} to soft {} hard {}",
                        r.name,
                        limit_text(r.limit.rlim_cur),
                        limit_text(r.limit.rlim_max)
                    )
                })
                .collect(),
            user: self
                .credentials
                .as_ref()
                .map_or_else(String::new, |c| c.user.clone()),
            setup: self.root.as_ref().map_or_else(Vec::new, |r| {
                r.setup.iter().map(|c| c.what().to_string()).collect()
            }),
            workdir: match (&self.workdir, &self.root) {
                (Some(dir), _) => dir.to_string_lossy().into_owned(),
                (None, Some(root)) => root.workdir.to_string_lossy().into_owned(),
                (None, None) => String::new(),
            },
            namespaces: self.enter.iter().map(|n| n.name.clone()).collect(),
        }
    }

    /// Installs the program as `command`'s `pre_exec`; returns the pipe on
    /// which failed steps are reported.
    pub fn install(self, command: &mut tokio::process::Command) -> io::Result<Reports> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are fresh and owned from here on.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let report = write.as_raw_fd();
        // SAFETY: the closure runs in the forked child before `exec` and
        // only makes async-signal-safe system calls on data prepared
        // before the fork (see the module docs). `write` is moved in, so
        // the descriptor stays open in the agent until the command is
        // dropped after spawning.
        unsafe {
            command.pre_exec(move || {
                let _keep = &write;
                run(&self, report)
            });
        }
        Ok(Reports { read })
    }
}

fn limit_text(value: libc::rlim_t) -> String {
    if value == libc::RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        value.to_string()
    }
}

/// Reports a failed step and returns the error that abandons the launch.
unsafe fn fail(report: libc::c_int, step: Step, index: usize) -> io::Error {
    let errno = io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO);
    let mut record = [0u8; 12];
    record[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    record[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
    record[8..].copy_from_slice(&errno.to_ne_bytes());
    libc::write(report, record.as_ptr().cast(), record.len());
    io::Error::from_raw_os_error(errno)
}

fn ptr(text: &Option<CString>) -> *const libc::c_char {
    text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr())
}

/// The child's whole program (A, then B and C as they are forked).
unsafe fn run(program: &Program, report: libc::c_int) -> io::Result<()> {
    for (i, path) in program.join.iter().enumerate() {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(fail(report, Step::JoinCgroup, i));
        }
        let written = libc::write(fd, b"0".as_ptr().cast(), 1);
        if written != 1 {
            let error = fail(report, Step::JoinCgroup, i);
            libc::close(fd);
            return Err(error);
        }
        libc::close(fd);
    }
    for (i, namespace) in program.enter.iter().enumerate() {
        if libc::setns(namespace.file.as_raw_fd(), namespace.kind) != 0 {
            return Err(fail(report, Step::Setns, i));
        }
    }
    if program.unshare != 0 && libc::unshare(program.unshare) != 0 {
        return Err(fail(report, Step::Unshare, 0));
    }
    for (i, call) in program.mounts.iter().enumerate() {
        let rc = libc::mount(
            ptr(&call.source),
            call.target.as_ptr(),
            ptr(&call.fstype),
            call.flags,
            ptr(&call.data).cast(),
        );
        if rc != 0 {
            return Err(fail(report, Step::Mount, i));
        }
    }
    if let Some(root) = &program.root {
        for (i, call) in root.setup.iter().enumerate() {
            if new_root::apply(call).is_err() {
                return Err(fail(report, Step::RootSetup, i));
            }
        }
    }
    if let Some(name) = &program.hostname {
        if libc::sethostname(name.as_ptr(), name.as_bytes().len()) != 0 {
            return Err(fail(report, Step::Hostname, 0));
        }
    }
    if program.supervise {
        let mut status_pipe = [-1; 2];
        if program.pid_namespace {
            if libc::unshare(libc::CLONE_NEWPID) != 0 {
                return Err(fail(report, Step::Unshare, 0));
            }
            if libc::pipe2(status_pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return Err(fail(report, Step::Fork, 0));
            }
        }
        let pid = libc::fork();
        if pid < 0 {
            return Err(fail(report, Step::Fork, 0));
        }
        if pid > 0 {
            if status_pipe[1] >= 0 {
                libc::close(status_pipe[1]);
            }
            supervisor::supervise(pid, program.termination.as_ref(), status_pipe[0]);
        }
        if program.pid_namespace {
            libc::close(status_pipe[0]);
            if let Some(root) = &program.root {
                if let Err(step) = new_root::enter(root) {
                    return Err(fail(report, step, 0));
                }
            } else {
                let flags = (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as libc::c_ulong;
                let rc = libc::mount(
                    c"proc".as_ptr(),
                    c"/proc".as_ptr(),
                    c"proc".as_ptr(),
                    flags,
                    std::ptr::null(),
                );
                if rc != 0 {
                    return Err(fail(report, Step::MountProc, 0));
                }
            }
            let command = libc::fork();
            if command < 0 {
                return Err(fail(report, Step::Fork, 0));
            }
            if command > 0 {
                supervisor::init(command, status_pipe[1]);
            }
            libc::close(status_pipe[1]);
        }
    }
    if program.die_with_supervisor && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
        return Err(fail(report, Step::Fork, 0));
    }
    if program.terminal && (libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) != 0) {
        return Err(fail(report, Step::Terminal, 0));
    }
    if let Some(dir) = &program.workdir {
        if libc::chdir(dir.as_ptr()) != 0 {
            return Err(fail(report, Step::Chdir, 0));
        }
    }
    for (i, rlimit) in program.rlimits.iter().enumerate() {
        if libc::setrlimit(rlimit.resource, &rlimit.limit) != 0 {
            return Err(fail(report, Step::Rlimit, i));
        }
    }
    if let Some(credentials) = &program.credentials {
        if libc::setgroups(credentials.groups.len(), credentials.groups.as_ptr()) != 0 {
            return Err(fail(report, Step::Groups, 0));
        }
        if libc::setgid(credentials.gid) != 0 {
            return Err(fail(report, Step::Gid, 0));
        }
        if libc::setuid(credentials.uid) != 0 {
            return Err(fail(report, Step::Uid, 0));
        }
    }
    Ok(())
}
