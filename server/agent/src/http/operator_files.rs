//! LIST_FILES and READ_FILE of the agent's operator API: the sandboxes (and
//! the agent's log file), as `/files/browse` and `/files/read` serve them
//! (same paths, same limits), in the operator API's messages (raw bytes,
//! not JSON text).

use meseta_proto::agent::response;

use super::files::{resolve_in_sandboxes, PathError};
use crate::inner::Inner;

/// LIST_FILES: a directory's entries (or the file itself).
pub(crate) fn list_files(inner: &Inner, requested: &str) -> Result<response::ListFiles, PathError> {
    let real = resolve_in_sandboxes(inner, requested)?;
    Ok(response::ListFiles {
        file_infos: meseta_files::list_files(&real, requested)?,
    })
}

/// READ_FILE: up to `length` bytes at `offset`, and the file's size.
pub(crate) fn read_file(
    inner: &Inner,
    requested: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<response::ReadFile, PathError> {
    let real = resolve_in_sandboxes(inner, requested)?;
    let (size, data) = meseta_files::read_file(&real, requested, offset, length)?;
    Ok(response::ReadFile { size, data })
}
