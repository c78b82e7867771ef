//! LIST_FILES and READ_FILE of the agent's operator API: the sandboxes, as
//! `/files/browse` and `/files/read` serve them (same paths, same limits),
//! in the operator API's messages (raw bytes, not JSON text).

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;

use meseta_proto::agent::response;
use meseta_proto::v1;

use super::files::{resolve_in_sandboxes, PathError, MAX_READ_LENGTH};
use crate::inner::Inner;

fn file_info(path: String, metadata: &std::fs::Metadata) -> v1::FileInfo {
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

/// LIST_FILES: a directory's entries (or the file itself).
pub(crate) fn list_files(inner: &Inner, requested: &str) -> Result<response::ListFiles, PathError> {
    let real = resolve_in_sandboxes(inner, requested)?;
    let metadata = std::fs::metadata(&real).map_err(|e| PathError::NotFound(e.to_string()))?;
    if !metadata.is_dir() {
        return Ok(response::ListFiles {
            file_infos: vec![file_info(requested.to_string(), &metadata)],
        });
    }
    let prefix = requested.trim_end_matches('/');
    let mut file_infos: Vec<v1::FileInfo> = std::fs::read_dir(&real)
        .map_err(|e| PathError::NotFound(e.to_string()))?
        .flatten()
        .filter_map(|entry| {
            let metadata = std::fs::symlink_metadata(entry.path()).ok()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            Some(file_info(format!("{prefix}/{name}"), &metadata))
        })
        .collect();
    file_infos.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(response::ListFiles { file_infos })
}

/// READ_FILE: up to `length` bytes (at most [`MAX_READ_LENGTH`]) at
/// `offset`, and the file's size.
pub(crate) fn read_file(
    inner: &Inner,
    requested: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<response::ReadFile, PathError> {
    let real = resolve_in_sandboxes(inner, requested)?;
    let mut file = std::fs::File::open(&real).map_err(|e| PathError::NotFound(e.to_string()))?;
    let metadata = file
        .metadata()
        .map_err(|e| PathError::NotFound(e.to_string()))?;
    if metadata.is_dir() {
        return Err(PathError::Bad(format!("{requested:?} is a directory")));
    }
    let size = metadata.len();
    let length = length.unwrap_or(MAX_READ_LENGTH).min(MAX_READ_LENGTH);
    let count = size.saturating_sub(offset).min(length);
    let mut data = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    if count > 0 {
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.take(count).read_to_end(&mut data))
            .map_err(|e| PathError::NotFound(e.to_string()))?;
    }
    Ok(response::ReadFile { size, data })
}
