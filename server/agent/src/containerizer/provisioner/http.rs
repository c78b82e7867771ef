//! The registry client's transport: GET with headers, redirects followed,
//! the body into memory (manifests, configurations, tokens) or into a file
//! (blobs). Plain HTTP goes through the agent's own HTTP client (hyper);
//! HTTPS through the machine's `curl`, as Mesos's registry puller does,
//! so the agent carries no TLS stack of its own and TLS is configured the
//! way operators already configure `curl` (system certificates).
//!
//! A redirect to another host drops the `Authorization` header (blob
//! stores behind registries refuse, or must not see, the registry's
//! token). A download that stalls for [`STALL`] is abandoned.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncWriteExt;

/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// How long a transfer may make no progress.
const STALL: Duration = Duration::from_secs(60);
/// The most a document read into memory may hold.
const DOCUMENT_LIMIT: usize = 16 << 20;

/// A response's status and headers (of the last hop).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Where a body goes.
enum Sink<'a> {
    Memory(&'a mut Vec<u8>),
    File(&'a Path, &'a (dyn Fn(u64) + Send + Sync)),
}

/// The transport (cheap to clone).
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http")
    }
}

impl Http {
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// GETs `url` into memory (bodies of errors too, for their messages).
    pub async fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<(Response, Vec<u8>), String> {
        let mut body = Vec::new();
        let response = self.request(url, headers, Sink::Memory(&mut body)).await?;
        Ok((response, body))
    }

    /// GETs `url` into the file `path` (written only on success);
    /// `progress` hears the bytes received so far now and then.
    pub async fn download(
        &self,
        url: &str,
        headers: &[(String, String)],
        path: &Path,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Response, String> {
        self.request(url, headers, Sink::File(path, progress)).await
    }

    async fn request(
        &self,
        url: &str,
        headers: &[(String, String)],
        sink: Sink<'_>,
    ) -> Result<Response, String> {
        if url.starts_with("https://") {
            return curl(url, headers, sink).await;
        }
        let mut url = url.to_string();
        let mut headers = headers.to_vec();
        for _ in 0..=MAX_REDIRECTS {
            let uri: http::Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
            let mut request = http::Request::get(uri.clone());
            for (name, value) in &headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let request = request
                .body(Empty::new())
                .map_err(|e| format!("cannot make a request for {url}: {e}"))?;
            let response = tokio::time::timeout(STALL, self.client.request(request))
                .await
                .map_err(|_| format!("{url}: no response within {STALL:?}"))?
                .map_err(|e| format!("cannot reach {url}: {e}"))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| format!("{url}: redirect ({status}) without a Location"))?;
                let next = resolve(&uri, location);
                if next.starts_with("https://") {
                    return curl(&next, &without_auth(&headers), sink).await;
                }
                let same_host = next
                    .parse::<http::Uri>()
                    .is_ok_and(|n| n.authority() == uri.authority());
                if !same_host {
                    headers = without_auth(&headers);
                }
                url = next;
                continue;
            }
            let summary = Response {
                status: status.as_u16(),
                headers: response
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
            };
            let mut body = response.into_body();
            match sink {
                Sink::Memory(buffer) => {
                    while let Some(frame) = next_frame(&mut body, &url).await? {
                        if buffer.len() + frame.len() > DOCUMENT_LIMIT {
                            return Err(format!(
                                "{url}: the document is larger than {DOCUMENT_LIMIT} bytes"
                            ));
                        }
                        buffer.extend_from_slice(&frame);
                    }
                }
                Sink::File(path, progress) if summary.ok() => {
                    let mut file = tokio::fs::File::create(path)
                        .await
                        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                    let (mut received, mut told) = (0u64, 0u64);
                    while let Some(frame) = next_frame(&mut body, &url).await? {
                        file.write_all(&frame)
                            .await
                            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                        received += frame.len() as u64;
                        if received - told >= 8 << 20 {
                            progress(received);
                            told = received;
                        }
                    }
                    file.flush()
                        .await
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    progress(received);
                }
                Sink::File(..) => {}
            }
            return Ok(summary);
        }
        Err(format!("{url}: more than {MAX_REDIRECTS} redirects"))
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

async fn next_frame(body: &mut hyper::body::Incoming, url: &str) -> Result<Option<Bytes>, String> {
    loop {
        let frame = tokio::time::timeout(STALL, body.frame())
            .await
            .map_err(|_| format!("{url}: the transfer stalled for {STALL:?}"))?;
        match frame {
            None => return Ok(None),
            Some(Err(e)) => return Err(format!("{url}: the transfer broke off: {e}")),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}

fn without_auth(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("authorization"))
        .cloned()
        .collect()
}

/// A `Location` resolved against the request's URI.
pub fn resolve(base: &http::Uri, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = base.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    format!("{scheme}://{authority}{dir}{location}")
}

/// An HTTPS request through `curl` (see the module docs).
async fn curl(url: &str, headers: &[(String, String)], sink: Sink<'_>) -> Result<Response, String> {
    static SCRATCH: AtomicU64 = AtomicU64::new(0);
    let n = SCRATCH.fetch_add(1, Ordering::Relaxed);
    let scratch = std::env::temp_dir().join(format!("meseta-curl-{}-{n}", std::process::id()));
    let header_file = scratch.with_extension("headers");
    let body_file = match &sink {
        Sink::File(path, _) => path.to_path_buf(),
        Sink::Memory(_) => scratch.with_extension("body"),
    };
    let mut command = tokio::process::Command::new("curl");
    command
        .args([
            "--silent",
            "--show-error",
            "--location",
            "--proto-redir",
            "=https",
        ])
        .args(["--max-redirs", &MAX_REDIRECTS.to_string()])
        .args(["--connect-timeout", "30", "--speed-limit", "1"])
        .args(["--speed-time", &STALL.as_secs().to_string()])
        .arg("--dump-header")
        .arg(&header_file)
        .arg("--output")
        .arg(&body_file);
    for (name, value) in headers {
        command.arg("--header").arg(format!("{name}: {value}"));
    }
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| {
        format!("cannot run curl for {url} (HTTPS registries are reached through curl): {e}")
    })?;
    let waiting = child.wait_with_output();
    tokio::pin!(waiting);
    let output = loop {
        tokio::select! {
            output = &mut waiting => break output,
            () = tokio::time::sleep(Duration::from_secs(5)) => {
                if let Sink::File(path, progress) = &sink {
                    if let Ok(meta) = std::fs::metadata(path) {
                        progress(meta.len());
                    }
                }
            }
        }
    };
    let headers_text = std::fs::read_to_string(&header_file).unwrap_or_default();
    let _ = std::fs::remove_file(&header_file);
    let body = match sink {
        Sink::Memory(buffer) => {
            let read = std::fs::read(&body_file).unwrap_or_default();
            let _ = std::fs::remove_file(&body_file);
            if read.len() > DOCUMENT_LIMIT {
                return Err(format!(
                    "{url}: the document is larger than {DOCUMENT_LIMIT} bytes"
                ));
            }
            *buffer = read;
            None
        }
        Sink::File(path, progress) => {
            if let Ok(meta) = std::fs::metadata(path) {
                progress(meta.len());
            }
            Some(path)
        }
    };
    let output = output.map_err(|e| format!("curl for {url}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cannot reach {url}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let response = parse_headers(&headers_text)
        .ok_or_else(|| format!("{url}: curl reported no HTTP response"))?;
    if let (Some(path), false) = (body, response.ok()) {
        let _ = std::fs::remove_file(path);
    }
    Ok(response)
}

/// The last response block of a `--dump-header` file.
fn parse_headers(text: &str) -> Option<Response> {
    let block = text
        .split("\r\n\r\n")
        .filter(|b| b.trim_start().starts_with("HTTP/"))
        .last()?;
    let mut lines = block.trim_start().lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Response { status, headers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_headers_give_the_last_response() {
        let text = "HTTP/1.1 307 Temporary Redirect\r\nLocation: https://cdn/x\r\n\r\nHTTP/2 200\r\ncontent-type: application/json\r\ndocker-content-digest: sha256:ab\r\n\r\n";
        let response = parse_headers(text).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert!(parse_headers("").is_none());
    }

    #[test]
    fn redirects_resolve_against_the_request() {
        let base: http::Uri = "http://h:1/v2/a/blobs/x".parse().unwrap();
        assert_eq!(resolve(&base, "/s/y"), "http://h:1/s/y");
        assert_eq!(resolve(&base, "y"), "http://h:1/v2/a/blobs/y");
        assert_eq!(resolve(&base, "https://cdn/z"), "https://cdn/z");
    }
}
