//! Running a task as its user (`--switch-user`): the user's IDs and groups
//! are looked up in the agent before the fork (the lookup allocates), the
//! sandbox is handed to the user, and the container's process switches just
//! before `exec`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::program::Credentials;

/// The IDs and groups of `user`, or why they cannot be had.
pub(crate) fn credentials(user: &str) -> Result<Credentials, String> {
    let name =
        CString::new(user).map_err(|_| format!("the user name {user:?} holds a NUL byte"))?;
    let mut buffer = vec![0u8; 16 * 1024];
    // SAFETY: zeroed is a valid bit pattern for `passwd` (pointers null).
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live local of the stated size;
    // getpwnam_r fills `entry` with pointers into `buffer`.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut found,
        )
    };
    if rc != 0 {
        return Err(format!(
            "cannot look up the user {user:?}: {}",
            std::io::Error::from_raw_os_error(rc)
        ));
    }
    if found.is_null() {
        return Err(format!("the user {user:?} does not exist on this agent"));
    }
    let (uid, gid) = (entry.pw_uid, entry.pw_gid);
    let mut count: libc::c_int = 64;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut wanted = count;
        // SAFETY: `groups` holds `count` entries; getgrouplist writes at
        // most that many and sets `wanted` to the number it needs.
        let rc =
            unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut wanted) };
        if rc >= 0 {
            groups.truncate(usize::try_from(wanted).unwrap_or(0));
            break;
        }
        if wanted <= count || wanted > 65_536 {
            groups = vec![gid];
            break;
        }
        count = wanted;
        groups = vec![0; usize::try_from(count).unwrap_or(64)];
    }
    Ok(Credentials {
        user: user.to_string(),
        uid,
        gid,
        groups,
    })
}

/// Gives `dir` and everything in it to the user (symbolic links
/// themselves, not what they point to).
pub(crate) fn chown_tree(dir: &Path, credentials: &Credentials) -> std::io::Result<()> {
    let chown = |path: &Path| -> std::io::Result<()> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: `c` is a valid NUL-terminated path.
        if unsafe { libc::lchown(c.as_ptr(), credentials.uid, credentials.gid) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    chown(dir)?;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next)?.flatten() {
            let path = entry.path();
            chown(&path)?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_nobody_resolve_and_strangers_do_not() {
        let root = credentials("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        let missing = credentials("no-such-user-here").unwrap_err();
        assert!(
            missing.contains("\"no-such-user-here\" does not exist"),
            "{missing}"
        );
        assert!(credentials("a\0b").is_err());
    }
}
