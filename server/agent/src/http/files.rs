//! `/files/browse`, `/files/read`, `/files/download`: sandboxes over HTTP.
//!
//! Only what lies under `<work_dir>/slaves` (the sandboxes) is served. A
//! requested path is either an absolute path on this machine (as `/state`
//! reports executor `directory`s) or a Mesos virtual path starting with
//! `/frameworks/...`, taken relative to this agent's directory. Every path
//! is resolved (symlinks included) before the check, so neither `..` nor a
//! symlink planted in a sandbox leads outside. Answers: 400 for bad
//! parameters, 404 for paths that do not exist or are not served.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::inner::Inner;

/// Longest chunk `/files/read` returns.
pub const MAX_READ_LENGTH: u64 = 16 * 1024 * 1024;

/// Why a path cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    /// 400: the request itself is wrong.
    Bad(String),
    /// 404: nothing to serve there.
    NotFound(String),
}

impl IntoResponse for PathError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            PathError::Bad(m) => (StatusCode::BAD_REQUEST, m),
            PathError::NotFound(m) => (StatusCode::NOT_FOUND, m),
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            message,
        )
            .into_response()
    }
}

/// Resolves `requested` to a real path under `root` (canonical).
/// `agent_dir` is where virtual `/frameworks/...` paths start.
pub fn resolve(
    root: &Path,
    agent_dir: Option<&Path>,
    requested: &str,
) -> Result<PathBuf, PathError> {
    let requested = requested.trim();
    if requested.is_empty() {
        return Err(PathError::Bad("Expecting 'path' to be present".into()));
    }
    let path = Path::new(requested);
    if !path.is_absolute() {
        return Err(PathError::Bad(format!(
            "Path {requested:?} must be absolute"
        )));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(PathError::Bad(format!(
            "Path {requested:?} must not contain '..'"
        )));
    }
    let real = match (agent_dir, path.strip_prefix("/frameworks")) {
        (Some(agent_dir), Ok(rest)) if !path.starts_with(root) => {
            agent_dir.join("frameworks").join(rest)
        }
        _ => path.to_path_buf(),
    };
    let not_found = || PathError::NotFound(format!("File {requested:?} not found"));
    let canonical = std::fs::canonicalize(&real).map_err(|_| not_found())?;
    if !canonical.starts_with(root) {
        return Err(PathError::NotFound(format!(
            "File {requested:?} is not in a sandbox of this agent"
        )));
    }
    Ok(canonical)
}

fn resolve_for(inner: &Inner, params: &HashMap<String, String>) -> Result<PathBuf, PathError> {
    let requested = params.get("path").map(String::as_str).unwrap_or("");
    resolve_in_sandboxes(inner, requested)
}

/// Resolves a requested path to a real one inside this agent's sandboxes.
pub(crate) fn resolve_in_sandboxes(inner: &Inner, requested: &str) -> Result<PathBuf, PathError> {
    if requested.trim().is_empty() {
        return Err(PathError::Bad("Expecting 'path' to be present".into()));
    }
    let root = inner.layout.work_dir().join("slaves");
    // Until the first sandbox exists there is nothing to serve.
    let root =
        std::fs::canonicalize(&root).map_err(|_| PathError::NotFound("No sandboxes yet".into()))?;
    let agent_dir = inner.agent_id().map(|id| inner.layout.agent_dir(&id.value));
    resolve(&root, agent_dir.as_deref(), requested)
}

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

pub(crate) async fn browse(
    State(inner): State<Arc<Inner>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let real = match resolve_for(&inner, &params) {
        Ok(real) => real,
        Err(e) => return e.into_response(),
    };
    let requested = params.get("path").cloned().unwrap_or_default();
    match tokio::task::spawn_blocking(move || browse_listing(&real, requested.trim())).await {
        Ok(Ok(listing)) => axum::Json(listing).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn parse_number(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, PathError> {
    match params.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            PathError::Bad(format!("Failed to parse {name}: {text:?} is not a number"))
        }),
    }
}

/// Reads `length` bytes at `offset` (`-1`: just report the size).
pub async fn read_chunk(
    real: &Path,
    offset: Option<i64>,
    length: Option<i64>,
) -> Result<Value, PathError> {
    let offset = offset.unwrap_or(0);
    if offset < -1 {
        return Err(PathError::Bad(format!(
            "Negative offset {offset} is not allowed"
        )));
    }
    if length.is_some_and(|l| l < 0) {
        return Err(PathError::Bad("Negative length is not allowed".into()));
    }
    let metadata = tokio::fs::metadata(real)
        .await
        .map_err(|e| PathError::NotFound(e.to_string()))?;
    if metadata.is_dir() {
        return Err(PathError::Bad("Cannot read a directory".into()));
    }
    let size = metadata.len();
    if offset == -1 {
        return Ok(json!({"data": "", "offset": size}));
    }
    let start = offset as u64;
    let length = length.map_or(MAX_READ_LENGTH, |l| (l as u64).min(MAX_READ_LENGTH));
    let count = size.saturating_sub(start).min(length);
    let mut data = vec![0u8; usize::try_from(count).unwrap_or(0)];
    if count > 0 {
        let mut file = tokio::fs::File::open(real)
            .await
            .map_err(|e| PathError::NotFound(e.to_string()))?;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| PathError::Bad(e.to_string()))?;
        let mut filled = 0;
        while filled < data.len() {
            let n = file
                .read(&mut data[filled..])
                .await
                .map_err(|e| PathError::Bad(e.to_string()))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        data.truncate(filled);
    }
    Ok(json!({"data": String::from_utf8_lossy(&data), "offset": start}))
}

pub(crate) async fn read(
    State(inner): State<Arc<Inner>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let parsed = resolve_for(&inner, &params).and_then(|real| {
        Ok((
            real,
            parse_number(&params, "offset")?,
            parse_number(&params, "length")?,
        ))
    });
    let (real, offset, length) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    match read_chunk(&real, offset, length).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(e) => e.into_response(),
    }
}

fn content_type(path: &Path) -> &'static str {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let types: &[(&str, &str)] = &[
        (".json", "application/json"),
        (".html", "text/html"),
        (".htm", "text/html"),
        (".css", "text/css"),
        (".js", "application/javascript"),
        (".txt", "text/plain"),
        (".log", "text/plain"),
        (".xml", "application/xml"),
        (".tar.gz", "application/x-gzip"),
        (".tgz", "application/x-gzip"),
        (".gz", "application/x-gzip"),
        (".tar", "application/x-tar"),
        (".zip", "application/zip"),
        (".png", "image/png"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".gif", "image/gif"),
        (".svg", "image/svg+xml"),
        (".pdf", "application/pdf"),
    ];
    types
        .iter()
        .find(|(suffix, _)| name.ends_with(suffix))
        .map_or("application/octet-stream", |(_, t)| t)
}

pub(crate) async fn download(
    State(inner): State<Arc<Inner>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let real = match resolve_for(&inner, &params) {
        Ok(real) => real,
        Err(e) => return e.into_response(),
    };
    if real.is_dir() {
        return PathError::Bad("Cannot download a directory".into()).into_response();
    }
    let file = match tokio::fs::File::open(&real).await {
        Ok(file) => file,
        Err(e) => return PathError::NotFound(e.to_string()).into_response(),
    };
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().replace('"', ""))
        .unwrap_or_default();
    let stream = futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buffer)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(&real))
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::from_stream(stream))
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
