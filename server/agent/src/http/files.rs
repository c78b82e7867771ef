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
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::inner::Inner;

pub use meseta_files::PathError;
use meseta_files::{browse_listing, parse_number, read_chunk};

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

/// The path under which an agent's log file is served (Mesos's).
pub const LOG_PATH: &str = "/slave/log";

/// Resolves a requested path to a real one inside this agent's sandboxes
/// (or the agent's log file, at [`LOG_PATH`], when it writes one).
pub(crate) fn resolve_in_sandboxes(inner: &Inner, requested: &str) -> Result<PathBuf, PathError> {
    if requested.trim().is_empty() {
        return Err(PathError::Bad("Expecting 'path' to be present".into()));
    }
    if requested.trim().trim_end_matches('/') == LOG_PATH {
        return inner.settings.config.log_file.clone().ok_or_else(|| {
            PathError::NotFound(format!(
                "{LOG_PATH}: this agent writes no log file (see --log-dir)"
            ))
        });
    }
    let root = inner.layout.work_dir().join("slaves");
    // Until the first sandbox exists there is nothing to serve.
    let root =
        std::fs::canonicalize(&root).map_err(|_| PathError::NotFound("No sandboxes yet".into()))?;
    let agent_dir = inner.agent_id().map(|id| inner.layout.agent_dir(&id.value));
    resolve(&root, agent_dir.as_deref(), requested)
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

pub(crate) async fn download(
    State(inner): State<Arc<Inner>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match resolve_for(&inner, &params) {
        Ok(real) => meseta_files::download(&real).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
