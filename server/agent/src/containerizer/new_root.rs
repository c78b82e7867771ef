//! Entering a container's own root filesystem (a container from an
//! image), the part of the [launch program](super::program) that runs
//! between `fork` and `exec` — so only system calls on data prepared
//! before the fork, and each failure reported as a step.
//!
//! In the first process (A, the supervisor, whose mount namespace is the
//! container's): the root is bound onto itself (a mount point of the
//! container's own), and a minimal `/dev` (a tmpfs with `null`, `zero`,
//! `full`, `random`, `urandom`, `tty`, the `fd` and `std*` links, a
//! `devpts` of its own at `/dev/pts`, a tmpfs at `/dev/shm`), a read-only
//! `/sys` and the isolators' mounts (the sandbox) are made inside it.
//!
//! In the PID namespace's init (B): a mount namespace of its own (so that
//! A keeps the host's view and can still write how the command ended),
//! `/proc` of the new PID namespace mounted inside the root, `pivot_root`
//! into it, the old root detached, and the working directory entered. C
//! (the command) inherits all of it.

use std::ffi::CString;

use super::program::{MountCall, Step};

/// One filesystem step in A (see the module docs).
#[derive(Debug, Clone)]
pub(crate) enum FsCall {
    Mount(MountCall),
    /// `mkdir` (an existing directory is fine).
    Dir {
        path: CString,
        what: String,
    },
    /// A character device with mode 0666.
    Device {
        path: CString,
        major: u32,
        minor: u32,
        what: String,
    },
    /// A symbolic link.
    Link {
        target: CString,
        path: CString,
        what: String,
    },
}

impl FsCall {
    /// In words, for a failure report ("mount /proc ...").
    pub fn what(&self) -> &str {
        match self {
            FsCall::Mount(call) => &call.what,
            FsCall::Dir { what, .. } | FsCall::Device { what, .. } | FsCall::Link { what, .. } => {
                what
            }
        }
    }
}

/// The root a container enters, prepared by the agent.
#[derive(Debug, Clone)]
pub(crate) struct NewRoot {
    /// Steps in A, after the container's mount namespace exists.
    pub setup: Vec<FsCall>,
    /// The root filesystem, as the host sees it.
    pub rootfs: CString,
    /// `<rootfs>/proc`.
    pub proc: CString,
    /// Where the old root goes: as the host sees it, and inside.
    pub put_old: CString,
    pub put_old_inside: CString,
    /// Where the command starts, inside the root.
    pub workdir: CString,
}

fn ptr(text: &Option<CString>) -> *const libc::c_char {
    text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr())
}

/// Runs one setup step in A; `Err` with errno set on failure.
///
/// # Safety
/// Only system calls on prepared data (see the module docs).
pub(crate) unsafe fn apply(call: &FsCall) -> Result<(), ()> {
    let rc = match call {
        FsCall::Mount(m) => libc::mount(
            ptr(&m.source),
            m.target.as_ptr(),
            ptr(&m.fstype),
            m.flags,
            ptr(&m.data).cast(),
        ),
        FsCall::Dir { path, .. } => {
            let rc = libc::mkdir(path.as_ptr(), 0o755);
            if rc != 0 && *libc::__errno_location() == libc::EEXIST {
                0
            } else {
                rc
            }
        }
        FsCall::Device {
            path, major, minor, ..
        } => {
            let rc = libc::mknod(
                path.as_ptr(),
                libc::S_IFCHR | 0o666,
                libc::makedev(*major, *minor),
            );
            if rc == 0 {
                // The umask must not narrow who can use it.
                libc::chmod(path.as_ptr(), 0o666)
            } else {
                rc
            }
        }
        FsCall::Link { target, path, .. } => libc::symlink(target.as_ptr(), path.as_ptr()),
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(())
    }
}

/// B's part: enters the root; the failed step (errno set) on failure.
///
/// # Safety
/// Only system calls on prepared data, in the freshly forked init.
pub(crate) unsafe fn enter(root: &NewRoot) -> Result<(), Step> {
    if libc::unshare(libc::CLONE_NEWNS) != 0 {
        return Err(Step::PivotRoot);
    }
    let private = (libc::MS_REC | libc::MS_PRIVATE) as libc::c_ulong;
    let none = std::ptr::null();
    if libc::mount(none, c"/".as_ptr(), none, private, std::ptr::null()) != 0 {
        return Err(Step::PivotRoot);
    }
    let flags = (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as libc::c_ulong;
    let proc = c"proc".as_ptr();
    if libc::mount(proc, root.proc.as_ptr(), proc, flags, std::ptr::null()) != 0 {
        return Err(Step::MountProc);
    }
    if libc::syscall(
        libc::SYS_pivot_root,
        root.rootfs.as_ptr(),
        root.put_old.as_ptr(),
    ) != 0
    {
        return Err(Step::PivotRoot);
    }
    if libc::chdir(c"/".as_ptr()) != 0
        || libc::umount2(root.put_old_inside.as_ptr(), libc::MNT_DETACH) != 0
    {
        return Err(Step::PivotRoot);
    }
    libc::rmdir(root.put_old_inside.as_ptr());
    if libc::chdir(root.workdir.as_ptr()) != 0 {
        return Err(Step::Chdir);
    }
    Ok(())
}
