//! Listings: `/files/browse`'s JSON and LIST_FILES's `FileInfo`s.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use meseta_proto::v1;
use serde_json::{json, Value};

use crate::PathError;

/// `drwxr-xr-x` from a mode.
pub fn mode_string(metadata: &std::fs::Metadata) -> String {
    let kind = if metadata.is_dir() {
        'd'
    } else if metadata.file_type().is_symlink() {
        'l'
    } else {
        '-'
    };
    let mode = metadata.permissions().mode();
    let mut out = String::with_capacity(10);
    out.push(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    out
}

fn user_name(uid: u32) -> String {
    let mut buffer = vec![0u8; 4096];
    // SAFETY: passwd is plain data; all-zero is a valid value to be overwritten.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live local of the stated size;
    // getpwuid_r writes only within them.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || entry.pw_name.is_null() {
        return uid.to_string();
    }
    // SAFETY: on success pw_name points to a NUL-terminated string in `buffer`.
    unsafe { std::ffi::CStr::from_ptr(entry.pw_name) }
        .to_string_lossy()
        .into_owned()
}

fn group_name(gid: u32) -> String {
    let mut buffer = vec![0u8; 4096];
    // SAFETY: group is plain data; all-zero is a valid value to be overwritten.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `user_name`.
    let rc = unsafe {
        libc::getgrgid_r(
            gid,
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || entry.gr_name.is_null() {
        return gid.to_string();
    }
    // SAFETY: on success gr_name points to a NUL-terminated string in `buffer`.
    unsafe { std::ffi::CStr::from_ptr(entry.gr_name) }
        .to_string_lossy()
        .into_owned()
}

/// One entry of `/files/browse`, in Mesos's shape.
pub fn file_info(path: &str, metadata: &std::fs::Metadata) -> Value {
    json!({
        "path": path,
        "nlink": metadata.nlink(),
        "size": metadata.len(),
        "mtime": metadata.mtime(),
        "mode": mode_string(metadata),
        "uid": user_name(metadata.uid()),
        "gid": group_name(metadata.gid()),
    })
}

/// Lists a directory (or describes a file); paths keep the caller's prefix.
pub fn browse_listing(real: &Path, requested: &str) -> Result<Value, PathError> {
    let metadata = std::fs::metadata(real).map_err(|e| PathError::NotFound(e.to_string()))?;
    if !metadata.is_dir() {
        return Ok(json!([file_info(requested, &metadata)]));
    }
    let entries = std::fs::read_dir(real).map_err(|e| PathError::NotFound(e.to_string()))?;
    let prefix = requested.trim_end_matches('/');
    let mut listing: Vec<(String, Value)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let metadata = match std::fs::metadata(entry.path()) {
            Ok(m) => m,
            Err(_) => match std::fs::symlink_metadata(entry.path()) {
                Ok(m) => m,
                Err(_) => continue,
            },
        };
        let path = format!("{prefix}/{name}");
        listing.push((name, file_info(&path, &metadata)));
    }
    listing.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Value::Array(listing.into_iter().map(|(_, v)| v).collect()))
}

/// One `mesos.v1.FileInfo` (LIST_FILES).
fn file_info_v1(path: String, metadata: &std::fs::Metadata) -> v1::FileInfo {
    v1::FileInfo {
        path,
        nlink: i32::try_from(metadata.nlink()).ok(),
        size: Some(metadata.len()),
        mtime: Some(v1::TimeInfo {
            nanoseconds: metadata.mtime().saturating_mul(1_000_000_000),
        }),
        mode: Some(metadata.mode()),
        uid: Some(metadata.uid().to_string()),
        gid: Some(metadata.gid().to_string()),
    }
}

/// LIST_FILES: a directory's entries (or the file itself), their paths
/// under `requested`.
pub fn list_files(real: &Path, requested: &str) -> Result<Vec<v1::FileInfo>, PathError> {
    let metadata = std::fs::metadata(real).map_err(|e| PathError::NotFound(e.to_string()))?;
    if !metadata.is_dir() {
        return Ok(vec![file_info_v1(requested.to_string(), &metadata)]);
    }
    let prefix = requested.trim_end_matches('/');
    let mut file_infos: Vec<v1::FileInfo> = std::fs::read_dir(real)
        .map_err(|e| PathError::NotFound(e.to_string()))?
        .flatten()
        .filter_map(|entry| {
            let metadata = std::fs::symlink_metadata(entry.path()).ok()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            Some(file_info_v1(format!("{prefix}/{name}"), &metadata))
        })
        .collect();
    file_infos.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(file_infos)
}
