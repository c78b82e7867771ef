//! A container's root filesystem from its image's layers, under
//! `<work_dir>/provisioner/containers/<container>/`:
//!
//! * **overlay** (`rootfs` is an overlay mount, made in the agent's mount
//!   namespace): the layers are the lower directories, `upper` and `work`
//!   the container's own; nothing is copied and the store's layers are
//!   never written. The lower directories are reached through short links
//!   (`lower/<n>`) so that images with many layers fit in one mount call.
//! * **copy**: the layers are copied into `rootfs`, bottom first, each
//!   layer's whiteouts deleting what lower ones had.
//!
//! Either way the directory (and the mount) is removed when the container
//! ends, and at the next start for containers that did not come back.
//! Paths inside a root are resolved by [`resolve`], which reads the
//! image's symbolic links as the container will (an absolute target is
//! relative to the root), so preparing the root never touches the host.

use std::collections::{HashMap, VecDeque};
use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::unpack::{is_opaque, is_whiteout};

/// How a root filesystem is made from layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Overlay,
    Copy,
}

impl Backend {
    /// `--image-provisioner-backend`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "overlay" => Ok(Self::Overlay),
            "copy" => Ok(Self::Copy),
            other => Err(format!(
                "--image-provisioner-backend: {other:?} is not available (valid: overlay, copy)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Overlay => "overlay",
            Self::Copy => "copy",
        }
    }
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("the path {} holds a NUL byte", path.display()))
}

/// Makes the root filesystem of a container in `dir` from `layers`
/// (bottom first); returns the root. Blocking.
pub fn create(backend: Backend, dir: &Path, layers: &[PathBuf]) -> Result<PathBuf, String> {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs)
        .map_err(|e| format!("cannot create {}: {e}", rootfs.display()))?;
    match backend {
        Backend::Overlay => mount_overlay(dir, &rootfs, layers)?,
        Backend::Copy => {
            for layer in layers {
                copy_layer(layer, &rootfs)
                    .map_err(|e| format!("cannot copy the layer {}: {e}", layer.display()))?;
            }
        }
    }
    Ok(rootfs)
}

fn mount_overlay(dir: &Path, rootfs: &Path, layers: &[PathBuf]) -> Result<(), String> {
    let (upper, work, lower) = (dir.join("upper"), dir.join("work"), dir.join("lower"));
    for sub in [&upper, &work, &lower] {
        std::fs::create_dir_all(sub)
            .map_err(|e| format!("cannot create {}: {e}", sub.display()))?;
    }
    let mut lowers = Vec::new();
    for (index, layer) in layers.iter().enumerate().rev() {
        let link = lower.join(index.to_string());
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(layer, &link)
            .map_err(|e| format!("cannot link {}: {e}", link.display()))?;
        lowers.push(link.display().to_string());
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        work.display()
    );
    let paths = [upper.display().to_string(), work.display().to_string()];
    if lowers
        .iter()
        .chain(&paths)
        .any(|p| p.contains(',') || p.contains(':'))
    {
        return Err(format!(
            "the path {} cannot be given to overlayfs (',' or ':' in it)",
            dir.display()
        ));
    }
    if options.len() >= 4000 {
        return Err(format!(
            "the image has too many layers ({}) for one overlay mount here; use --image-provisioner-backend=copy",
            layers.len()
        ));
    }
    let (target, data) = (
        c_path(rootfs)?,
        CString::new(options).map_err(|e| e.to_string())?,
    );
    // SAFETY: valid NUL-terminated strings; mount has no memory effects.
    let rc = unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            target.as_ptr(),
            c"overlay".as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "cannot mount the overlay root filesystem at {}: {}",
            rootfs.display(),
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Removes a container's root filesystem directory, unmounting first;
/// refuses to delete through a mount it could not remove. Blocking.
pub fn destroy(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        return Ok(());
    }
    for point in mounts_below(dir) {
        if let Ok(c) = c_path(&point) {
            // SAFETY: valid NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
    let left = mounts_below(dir);
    if !left.is_empty() {
        return Err(format!(
            "{} still has mounts ({left:?}); left in place",
            dir.display()
        ));
    }
    std::fs::remove_dir_all(dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))
}

/// Mount points at or below `dir` in the agent's namespace, deepest first.
fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points
}

/// Checks that overlay mounts work with lower layers in `store` and the
/// containers' directories in `containers`, by making one.
pub fn probe_overlay(store: &Path, containers: &Path) -> Result<(), String> {
    let nonce: u32 = rand::random();
    let lower = store.join(format!(".tmp-{}-probe-{nonce:08x}", std::process::id()));
    let dir = containers.join(format!(".probe-{}-{nonce:08x}", std::process::id()));
    let made = std::fs::create_dir_all(&lower)
        .map_err(|e| format!("cannot create {}: {e}", lower.display()))
        .and_then(|()| create(Backend::Overlay, &dir, std::slice::from_ref(&lower)));
    let removed = destroy(&dir);
    let _ = std::fs::remove_dir_all(&lower);
    made.and(removed).map(|_| ())
}

/// Copies one layer onto `rootfs`, honouring its whiteouts (see the module
/// docs); never follows a link in `rootfs`.
fn copy_layer(layer: &Path, rootfs: &Path) -> io::Result<()> {
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in std::fs::read_dir(layer.join(&relative))? {
            let entry = entry?;
            let name = relative.join(entry.file_name());
            let (from, to) = (layer.join(&name), rootfs.join(&name));
            let meta = std::fs::symlink_metadata(&from)?;
            let kind = meta.file_type();
            if is_whiteout(&meta) {
                remove_any(&to)?;
                continue;
            }
            if kind.is_dir() {
                let keep = std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir());
                if !keep || is_opaque(&from) {
                    remove_any(&to)?;
                    std::fs::create_dir(&to)?;
                }
                std::fs::set_permissions(
                    &to,
                    std::fs::Permissions::from_mode(meta.mode() & 0o7777),
                )?;
                own(&to, &meta)?;
                pending.push(name);
                continue;
            }
            remove_any(&to)?;
            if kind.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
            } else if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                std::fs::hard_link(first, &to)?;
                continue;
            } else if kind.is_file() {
                std::fs::copy(&from, &to)?;
                if meta.nlink() > 1 {
                    links.insert((meta.dev(), meta.ino()), to.clone());
                }
            } else {
                let c = CString::new(to.as_os_str().as_bytes())
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))?;
                // SAFETY: valid NUL-terminated path; no memory effects.
                if unsafe { libc::mknod(c.as_ptr(), meta.mode(), meta.rdev()) } != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            own(&to, &meta)?;
        }
    }
    Ok(())
}

fn own(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()))
}

fn remove_any(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The host path of `path` inside `root`, reading symbolic links as the
/// container will; missing directories are created (mode 0755) when
/// `create`. Blocking.
pub fn resolve(root: &Path, path: &str, create: bool) -> Result<PathBuf, String> {
    let mut pending: VecDeque<OsString> = parts(Path::new(path));
    let mut resolved: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&resolved);
        candidate.push(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return Err(format!(
                        "too many symbolic links in {path} inside the image"
                    ));
                }
                let target = std::fs::read_link(&candidate)
                    .map_err(|e| format!("cannot read {}: {e}", candidate.display()))?;
                if target.is_absolute() {
                    resolved.clear();
                }
                for (i, p) in parts(&target).into_iter().enumerate() {
                    pending.insert(i, p);
                }
            }
            Ok(meta) if meta.is_dir() => resolved.push(part),
            Ok(_) => return Err(format!("{path} is not a directory in the image")),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                std::fs::create_dir(&candidate)
                    .map_err(|e| format!("cannot create {path} in the image: {e}"))?;
                resolved.push(part);
            }
            Err(e) => return Err(format!("{path} in the image: {e}")),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&resolved);
    Ok(out)
}

fn parts(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("/usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("usr/up")).unwrap();
        std::fs::write(root.join("file"), b"x").unwrap();
        assert_eq!(
            resolve(&root, "/lib/x", true).unwrap(),
            root.join("usr/lib/x")
        );
        assert!(root.join("usr/lib/x").is_dir());
        assert_eq!(
            resolve(&root, "/usr/up/up2", true).unwrap(),
            root.join("up2")
        );
        assert_eq!(
            resolve(&root, "/../../etc", true).unwrap(),
            root.join("etc")
        );
        assert!(resolve(&root, "/file/x", true).is_err());
        assert!(resolve(&root, "/missing", false).is_err());
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(resolve(&root, "/loop", true)
            .unwrap_err()
            .contains("too many"));
    }

    #[test]
    fn layers_are_copied_with_their_whiteouts() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED (loudly): whiteouts need root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (bottom, top) = (dir.path().join("bottom"), dir.path().join("top"));
        std::fs::create_dir_all(bottom.join("etc")).unwrap();
        std::fs::create_dir_all(bottom.join("cache")).unwrap();
        std::fs::write(bottom.join("etc/gone"), b"old").unwrap();
        std::fs::write(bottom.join("etc/kept"), b"old").unwrap();
        std::fs::write(bottom.join("cache/old"), b"old").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", bottom.join("danger")).unwrap();
        let layer = dir.path().join("top.tar");
        let tar = crate::containerizer::provisioner::unpack::tests::tar_of(&[
            ("etc/.wh.gone", Some(b"")),
            ("etc/kept", Some(b"new")),
            ("cache/", None),
            ("cache/.wh..wh..opq", Some(b"")),
            ("cache/fresh", Some(b"new")),
            ("danger", Some(b"replaced, not written through")),
        ]);
        std::fs::write(&layer, tar).unwrap();
        std::fs::create_dir(&top).unwrap();
        super::super::unpack::unpack_layer(&layer, &top, None).unwrap();
        for backend in [Backend::Copy, Backend::Overlay] {
            let container = dir.path().join(backend.name());
            let rootfs = create(backend, &container, &[bottom.clone(), top.clone()]).unwrap();
            assert!(!rootfs.join("etc/gone").exists(), "{backend:?}");
            assert_eq!(std::fs::read(rootfs.join("etc/kept")).unwrap(), b"new");
            assert!(!rootfs.join("cache/old").exists(), "{backend:?}");
            assert_eq!(std::fs::read(rootfs.join("cache/fresh")).unwrap(), b"new");
            let danger = std::fs::symlink_metadata(rootfs.join("danger")).unwrap();
            assert!(danger.is_file(), "{backend:?}");
            destroy(&container).unwrap();
            assert!(!container.exists());
        }
        probe_overlay(dir.path(), &dir.path().join("containers")).unwrap();
    }
}
