//! Reading: `/files/read`'s JSON chunks, READ_FILE's bytes and
//! `/files/download`'s whole file.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{PathError, MAX_READ_LENGTH};

/// A number among the query parameters (`offset`, `length`), if given.
pub fn parse_number(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<i64>, PathError> {
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

/// READ_FILE: up to `length` bytes (at most [`MAX_READ_LENGTH`]) at
/// `offset`, and the file's size.
pub fn read_file(
    real: &Path,
    requested: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<(u64, Vec<u8>), PathError> {
    let mut file = std::fs::File::open(real).map_err(|e| PathError::NotFound(e.to_string()))?;
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
    Ok((size, data))
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

/// `/files/download`: the whole file, streamed, as an attachment.
pub async fn download(real: &Path) -> Response {
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
        .header(header::CONTENT_TYPE, content_type(real))
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::from_stream(stream))
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}
