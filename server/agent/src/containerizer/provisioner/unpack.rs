//! Unpacking one layer (a tar, gzipped or not) into a directory of its
//! own, in the form overlayfs reads lower layers in, so the same directory
//! serves both backends:
//!
//! * a whiteout `.wh.NAME` (NAME deleted by this layer) becomes a
//!   character device 0:0 named NAME;
//! * an opaque marker `.wh..wh..opq` (the directory's lower contents are
//!   hidden) becomes the `trusted.overlay.opaque=y` attribute on the
//!   directory;
//! * device nodes and FIFOs are made as such; everything else is unpacked
//!   by the `tar` crate with modes, owners, times and extended attributes,
//!   never outside the directory (`..` entries are skipped, and nothing is
//!   written through a symbolic link).
//!
//! The uncompressed stream is hashed as it is read: a layer whose digest
//! is not the image's `diff_id` is an error naming both.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

use super::digest::{Digest, HashingReader};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Unpacks the layer file `layer` into the (existing, empty) directory
/// `into`; `expected` is the uncompressed digest it must have.
pub fn unpack_layer(layer: &Path, into: &Path, expected: Option<&Digest>) -> Result<(), String> {
    let file = File::open(layer).map_err(|e| format!("cannot open {}: {e}", layer.display()))?;
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 4];
    let peeked =
        peek(&mut reader, &mut magic).map_err(|e| format!("cannot read the layer: {e}"))?;
    let stream: Box<dyn Read> = match &magic[..peeked] {
        [0x1f, 0x8b, ..] => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            return Err("the layer is zstd-compressed, which is not supported".into())
        }
        _ => Box::new(reader),
    };
    let mut archive = tar::Archive::new(HashingReader::new(stream));
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    archive.set_preserve_mtime(true);
    let entries = archive
        .entries()
        .map_err(|e| format!("the layer is not a tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the layer is corrupt: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("the layer has a bad path: {e}"))?
            .into_owned();
        let Some(relative) = relative(&path) else {
            continue;
        };
        let name = relative
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = relative.parent().unwrap_or(Path::new(""));
        if name == OPAQUE {
            let dir = inside(into, parent)?;
            set_opaque(&dir).map_err(|e| format!("cannot mark {} opaque: {e}", dir.display()))?;
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            let dir = inside(into, parent)?;
            let target = dir.join(hidden);
            remove_any(&target);
            make_node(&target, libc::S_IFCHR, 0, 0)
                .map_err(|e| format!("cannot make the whiteout {}: {e}", target.display()))?;
        } else if matches!(
            entry.header().entry_type(),
            EntryType::Char | EntryType::Block | EntryType::Fifo
        ) {
            let dir = inside(into, parent)?;
            let target = dir.join(&name);
            special(&entry, &target)
                .map_err(|e| format!("cannot make {}: {e}", target.display()))?;
        } else {
            entry
                .unpack_in(into)
                .map_err(|e| format!("the layer is corrupt: {}", chain(&e)))?;
        }
    }
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| format!("the layer is corrupt: {e}"))?;
    let (digest, _) = rest.finish();
    match expected {
        Some(expected) if *expected != digest => Err(format!(
            "digest mismatch: the unpacked layer is {digest}, the image says {expected}"
        )),
        _ => Ok(()),
    }
}

/// An error with its causes ("failed to unpack x: Permission denied").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn peek(reader: &mut BufReader<File>, magic: &mut [u8; 4]) -> io::Result<usize> {
    use std::io::BufRead;
    let buffer = reader.fill_buf()?;
    let n = buffer.len().min(4);
    magic[..n].copy_from_slice(&buffer[..n]);
    Ok(n)
}

/// The entry's path relative to the layer root; `None` for the root
/// itself and for anything climbing out of it.
fn relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// `root/relative` as a directory, created as needed, refusing to pass
/// through a symbolic link or a non-directory.
pub(crate) fn inside(root: &Path, relative: &Path) -> Result<PathBuf, String> {
    let mut dir = root.to_path_buf();
    for component in relative.components() {
        let Component::Normal(part) = component else {
            continue;
        };
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "{} is not a directory (a symbolic link or a file)",
                    dir.display()
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            Err(e) => return Err(format!("cannot look at {}: {e}", dir.display())),
        }
    }
    Ok(dir)
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))
}

/// Removes a file, link or directory tree at `path`, if any.
fn remove_any(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

fn make_node(path: &Path, kind: libc::mode_t, major: u32, minor: u32) -> io::Result<()> {
    let c = c_path(path)?;
    // SAFETY: a valid NUL-terminated path; mknod has no memory effects.
    let rc = unsafe { libc::mknod(c.as_ptr(), kind, libc::makedev(major, minor)) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A device node or FIFO, with the entry's mode and owner.
fn special<R: Read>(entry: &tar::Entry<'_, R>, target: &Path) -> io::Result<()> {
    let header = entry.header();
    let kind = match header.entry_type() {
        EntryType::Char => libc::S_IFCHR,
        EntryType::Block => libc::S_IFBLK,
        _ => libc::S_IFIFO,
    };
    let major = header.device_major()?.unwrap_or(0);
    let minor = header.device_minor()?.unwrap_or(0);
    remove_any(target);
    make_node(target, kind, major, minor)?;
    let c = c_path(target)?;
    let mode = header.mode()? & 0o7777;
    let uid = header.uid()? as libc::uid_t;
    let gid = header.gid()? as libc::gid_t;
    // SAFETY: valid NUL-terminated path; no memory effects.
    unsafe {
        libc::chmod(c.as_ptr(), mode as libc::mode_t);
        libc::lchown(c.as_ptr(), uid, gid);
    }
    Ok(())
}

fn set_opaque(dir: &Path) -> io::Result<()> {
    let c = c_path(dir)?;
    // SAFETY: valid NUL-terminated strings and a 1-byte value.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            b"y".as_ptr().cast(),
            1,
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// True when `path` is a whiteout as [`unpack_layer`] makes them.
pub fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// True when the directory carries the opaque marker.
pub fn is_opaque(dir: &Path) -> bool {
    let Ok(c) = c_path(dir) else {
        return false;
    };
    let mut value = [0u8; 4];
    // SAFETY: valid NUL-terminated strings; at most 4 bytes are written
    // into a 4-byte buffer.
    let read = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    read == 1 && value[0] == b'y'
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tar of `(path, contents)` files (a `None` content is a directory).
    pub(crate) fn tar_of(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            match contents {
                Some(bytes) => {
                    header.set_entry_type(EntryType::Regular);
                    header.set_size(bytes.len() as u64);
                    header.set_mode(0o644);
                    header.set_cksum();
                    builder.append_data(&mut header, path, *bytes).unwrap();
                }
                None => {
                    header.set_entry_type(EntryType::Directory);
                    header.set_size(0);
                    header.set_mode(0o755);
                    header.set_cksum();
                    builder.append_data(&mut header, path, &[][..]).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts_and_digests_are_checked() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED (loudly): whiteouts need root (mknod, trusted xattrs)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let bytes = tar_of(&[
            ("etc/", None),
            ("etc/keep", Some(b"kept")),
            ("etc/.wh.gone", Some(b"")),
            ("var/cache/", None),
            ("var/cache/.wh..wh..opq", Some(b"")),
        ]);
        let layer = dir.path().join("layer.tar");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &bytes).unwrap();
        std::fs::write(&layer, gz.finish().unwrap()).unwrap();
        let into = dir.path().join("rootfs");
        std::fs::create_dir(&into).unwrap();
        unpack_layer(&layer, &into, Some(&Digest::of(&bytes))).unwrap();
        assert_eq!(std::fs::read(into.join("etc/keep")).unwrap(), b"kept");
        let gone = std::fs::symlink_metadata(into.join("etc/gone")).unwrap();
        assert!(is_whiteout(&gone));
        assert!(!into.join("etc/.wh.gone").exists());
        assert!(is_opaque(&into.join("var/cache")));
        assert!(!is_opaque(&into.join("etc")));

        let again = dir.path().join("again");
        std::fs::create_dir(&again).unwrap();
        let wrong = Digest::of(b"something else");
        let error = unpack_layer(&layer, &again, Some(&wrong)).unwrap_err();
        assert!(
            error.contains("digest mismatch") && error.contains(&wrong.to_string()),
            "{error}"
        );

        std::fs::write(&layer, b"\x1f\x8b\x08\x00garbage that is not gzip").unwrap();
        let error = unpack_layer(&layer, &again, None).unwrap_err();
        assert!(
            error.contains("corrupt") || error.contains("not a tar"),
            "{error}"
        );
    }

    #[test]
    fn nothing_is_written_through_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        let error = inside(dir.path(), Path::new("link/x")).unwrap_err();
        assert!(error.contains("not a directory"), "{error}");
        let made = inside(dir.path(), Path::new("a/b")).unwrap();
        assert!(made.is_dir());
        assert_eq!(relative(Path::new("./a/../b")), None);
        assert_eq!(relative(Path::new("/a/b")), Some(PathBuf::from("a/b")));
    }
}
