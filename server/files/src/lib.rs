//! Serving files read-only, as the Mesos master and agent both do: the
//! `/files/browse`, `/files/read` and `/files/download` endpoints (JSON in
//! Mesos's shapes, or the bytes) and the operator API's LIST_FILES and
//! READ_FILE (`mesos.v1.FileInfo`, raw bytes).
//!
//! Which paths may be served, and where they lie on disk, is each server's
//! decision (the agent's sandboxes, the master's and agent's log files):
//! callers resolve a requested path to a real one first and hand it here
//! with the path as requested, which the answers repeat.

mod listing;
mod reading;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub use listing::{browse_listing, file_info, list_files, mode_string};
pub use reading::{download, parse_number, read_chunk, read_file};

/// Longest chunk a read returns.
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

#[cfg(test)]
mod tests;
