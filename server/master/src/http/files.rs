//! The master's files, as Mesos serves them: its log file (written when
//! the master was started with `--log-dir`) at `/master/log`, through
//! `/files/browse`, `/files/read`, `/files/download`, `/files/debug` and
//! the operator API's LIST_FILES and READ_FILE. Every master answers for
//! its own log, a follower too. How files are listed and read is
//! [`meseta_files`]'s; only which paths exist is decided here.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use meseta_files::PathError;
use meseta_proto::master::response;
use serde_json::json;

use crate::handle::MasterHandle;

/// Where the master's log is served (Mesos's path).
pub(crate) const LOG_PATH: &str = "/master/log";

/// The real file behind a requested path.
fn resolve(master: &MasterHandle, requested: &str) -> Result<PathBuf, PathError> {
    let requested = requested.trim();
    if requested.is_empty() {
        return Err(PathError::Bad("Expecting 'path' to be present".into()));
    }
    if requested.trim_end_matches('/') != LOG_PATH {
        return Err(PathError::NotFound(format!(
            "No file or directory found at path {requested:?} (the master serves {LOG_PATH})"
        )));
    }
    master.log_file.as_deref().cloned().ok_or_else(|| {
        PathError::NotFound(format!(
            "{LOG_PATH}: this master writes no log file (start it with --log-dir)"
        ))
    })
}

fn path_of(params: &HashMap<String, String>) -> String {
    params.get("path").cloned().unwrap_or_default()
}

pub(super) async fn browse(
    State(master): State<MasterHandle>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let requested = path_of(&params);
    let real = match resolve(&master, &requested) {
        Ok(real) => real,
        Err(e) => return e.into_response(),
    };
    let listed =
        tokio::task::spawn_blocking(move || meseta_files::browse_listing(&real, requested.trim()))
            .await;
    match listed {
        Ok(Ok(listing)) => axum::Json(listing).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => PathError::NotFound(e.to_string()).into_response(),
    }
}

pub(super) async fn read(
    State(master): State<MasterHandle>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let parsed = resolve(&master, &path_of(&params)).and_then(|real| {
        Ok((
            real,
            meseta_files::parse_number(&params, "offset")?,
            meseta_files::parse_number(&params, "length")?,
        ))
    });
    let (real, offset, length) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    match meseta_files::read_chunk(&real, offset, length).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(super) async fn download(
    State(master): State<MasterHandle>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match resolve(&master, &path_of(&params)) {
        Ok(real) => meseta_files::download(&real).await,
        Err(e) => e.into_response(),
    }
}

/// `/files/debug`: what is served, and from where.
pub(super) async fn debug(State(master): State<MasterHandle>) -> Response {
    let mut served = serde_json::Map::new();
    if let Some(file) = master.log_file.as_deref() {
        served.insert(LOG_PATH.into(), json!(file.display().to_string()));
    }
    axum::Json(served).into_response()
}

/// LIST_FILES.
pub(super) fn list_files(
    master: &MasterHandle,
    requested: &str,
) -> Result<response::ListFiles, PathError> {
    let real = resolve(master, requested)?;
    Ok(response::ListFiles {
        file_infos: meseta_files::list_files(&real, requested.trim())?,
    })
}

/// READ_FILE.
pub(super) fn read_file(
    master: &MasterHandle,
    requested: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<response::ReadFile, PathError> {
    let real = resolve(master, requested)?;
    let (size, data) = meseta_files::read_file(&real, requested, offset, length)?;
    Ok(response::ReadFile { size, data })
}
