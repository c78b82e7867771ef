//! The fetcher: puts a command's URIs into its sandbox before it starts.
//!
//! For each `CommandInfo.URI`:
//! * `http://` is downloaded with our own HTTP client (following up to
//!   [`MAX_REDIRECTS`] redirects); other remote schemes (`https://`, `ftp://`)
//!   go through the machine's `curl` when it is installed;
//! * `file://PATH` and absolute paths are copied;
//! * the result is named `output_file` (a relative path inside the sandbox)
//!   or after the URI's last path segment;
//! * archives are unpacked into the sandbox when `extract` (default true):
//!   `.tar`, `.tar.gz`, `.tgz`, `.tar.bz2`, `.tbz2`, `.tar.xz`, `.txz` with
//!   `tar`, `.zip` with `unzip`; `.gz`, `.bz2` and `.xz` are not archives
//!   and are kept as they are;
//! * `executable` makes the file executable (and is never extracted).
//!
//! What happens is noted in the sandbox's `stderr`, where Mesos users look
//! when a task fails before its command ran. Caching (`cache`) is not
//! supported: every run fetches afresh.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use meseta_proto::v1::command_info::Uri;
use tokio::io::AsyncWriteExt;

use crate::error::AgentError;
use crate::sandbox;

/// Redirects followed for one download.
pub const MAX_REDIRECTS: usize = 5;

/// Fetches URIs into sandboxes. Cheap to clone (shares the HTTP client).
#[derive(Clone)]
pub struct Fetcher {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetcher")
    }
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetcher {
    /// A fetcher with its own connection pool.
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Fetches every URI, in order; the first failure stops the fetch.
    pub async fn fetch_all(&self, uris: &[Uri], sandbox: &Path) -> Result<(), AgentError> {
        for uri in uris {
            sandbox::note(sandbox, &format!("Fetching URI '{}'", uri.value));
            match self.fetch(uri, sandbox).await {
                Ok(path) => sandbox::note(
                    sandbox,
                    &format!("Fetched '{}' to '{}'", uri.value, path.display()),
                ),
                Err(e) => {
                    sandbox::note(sandbox, &format!("Failed to fetch '{}': {e}", uri.value));
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Fetches one URI; returns where the file was put.
    pub async fn fetch(&self, uri: &Uri, sandbox: &Path) -> Result<PathBuf, AgentError> {
        let fail = |reason: String| AgentError::Fetch {
            uri: uri.value.clone(),
            reason,
        };
        let value = uri.value.trim();
        let name = match uri.output_file.as_deref().filter(|s| !s.is_empty()) {
            Some(output) => safe_relative(output).ok_or_else(|| {
                fail(format!(
                    "output_file {output:?} must be a relative path inside the sandbox"
                ))
            })?,
            None => {
                PathBuf::from(basename(value).ok_or_else(|| fail("the URI names no file".into()))?)
            }
        };
        let destination = sandbox.join(&name);
        if let Some(parent) = destination.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
        }
        if let Some(path) = local_path(value) {
            tokio::fs::copy(&path, &destination)
                .await
                .map_err(|e| fail(format!("cannot copy {}: {e}", path.display())))?;
        } else if value.starts_with("http://") {
            self.download(value, &destination).await.map_err(fail)?;
        } else if value.contains("://") {
            curl(value, &destination).await.map_err(fail)?;
        } else {
            return Err(fail(
                "relative paths are not supported; use an absolute path or a URL".into(),
            ));
        }
        if uri.executable() {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&destination, std::fs::Permissions::from_mode(0o755))
                .await
                .map_err(|e| fail(format!("cannot make executable: {e}")))?;
        } else if uri.extract() {
            if let Some(kind) = archive_kind(&name) {
                extract(kind, &destination, sandbox).await.map_err(fail)?;
            }
        }
        Ok(destination)
    }

    async fn download(&self, url: &str, destination: &Path) -> Result<(), String> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let target: http::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
            let response = self
                .client
                .get(target.clone())
                .await
                .map_err(|e| format!("HTTP request failed: {e}"))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("HTTP {status} without a Location"))?;
                url = resolve_redirect(&target, location);
                continue;
            }
            if !status.is_success() {
                return Err(format!("HTTP {status}"));
            }
            let mut file = tokio::fs::File::create(destination)
                .await
                .map_err(|e| format!("cannot create {}: {e}", destination.display()))?;
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| format!("download interrupted: {e}"))?;
                if let Some(data) = frame.data_ref() {
                    file.write_all(data)
                        .await
                        .map_err(|e| format!("cannot write {}: {e}", destination.display()))?;
                }
            }
            file.flush().await.map_err(|e| e.to_string())?;
            return Ok(());
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    }
}

/// The local file a URI names, for `file://` URIs and absolute paths.
fn local_path(value: &str) -> Option<PathBuf> {
    if let Some(rest) = value.strip_prefix("file://") {
        return Some(PathBuf::from(rest));
    }
    value.starts_with('/').then(|| PathBuf::from(value))
}

/// The last path segment of a URI, without query or fragment.
fn basename(value: &str) -> Option<String> {
    let without_scheme = value.split_once("://").map_or(value, |(_, rest)| rest);
    let path = without_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or(without_scheme);
    // For URLs, the first segment is the host: never a file name.
    let path = if value.contains("://") && !value.starts_with("file://") {
        path.split_once('/').map(|(_, p)| p).unwrap_or("")
    } else {
        path
    };
    let name = path.rsplit('/').find(|s| !s.is_empty())?;
    (name != "." && name != "..").then(|| name.to_string())
}

/// `output` if it is a relative path that stays inside the sandbox.
fn safe_relative(output: &str) -> Option<PathBuf> {
    let path = Path::new(output);
    let normal = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    (normal && path.components().any(|c| matches!(c, Component::Normal(_))))
        .then(|| path.to_path_buf())
}

fn resolve_redirect(base: &http::Uri, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    let scheme = base.scheme_str().unwrap_or("http");
    if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        format!("{scheme}://{authority}{dir}/{location}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchiveKind {
    Tar,
    Zip,
}

fn archive_kind(name: &Path) -> Option<ArchiveKind> {
    let name = name.file_name()?.to_str()?.to_ascii_lowercase();
    const TARS: &[&str] = &[
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
    ];
    if TARS.iter().any(|suffix| name.ends_with(suffix)) {
        Some(ArchiveKind::Tar)
    } else if name.ends_with(".zip") {
        Some(ArchiveKind::Zip)
    } else {
        None
    }
}

async fn extract(kind: ArchiveKind, archive: &Path, into: &Path) -> Result<(), String> {
    let mut command = match kind {
        ArchiveKind::Tar => {
            let mut c = tokio::process::Command::new("tar");
            c.arg("-C").arg(into).arg("-xf").arg(archive);
            c
        }
        ArchiveKind::Zip => {
            let mut c = tokio::process::Command::new("unzip");
            c.arg("-o").arg("-q").arg("-d").arg(into).arg(archive);
            c
        }
    };
    run(&mut command, "extract").await
}

async fn curl(url: &str, destination: &Path) -> Result<(), String> {
    let mut command = tokio::process::Command::new("curl");
    command
        .args([
            "--fail",
            "--silent",
            "--show-error",
            "--location",
            "--output",
        ])
        .arg(destination)
        .arg("--")
        .arg(url);
    run(&mut command, "download with curl").await
}

async fn run(command: &mut tokio::process::Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot {what}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "cannot {what} ({}): {}",
        output.status,
        stderr.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_uri_or_output_file() {
        assert_eq!(
            basename("http://h:80/a/b/app.tar.gz?x=1").as_deref(),
            Some("app.tar.gz")
        );
        assert_eq!(basename("http://host").as_deref(), None);
        assert_eq!(basename("/opt/x/run.sh").as_deref(), Some("run.sh"));
        assert_eq!(basename("file:///opt/x/").as_deref(), Some("x"));
        assert_eq!(safe_relative("bin/tool"), Some(PathBuf::from("bin/tool")));
        assert_eq!(safe_relative("../escape"), None);
        assert_eq!(safe_relative("/abs"), None);
        assert_eq!(safe_relative("."), None);
    }

    #[test]
    fn archives_are_recognised_by_extension() {
        assert_eq!(archive_kind(Path::new("a.TGZ")), Some(ArchiveKind::Tar));
        assert_eq!(archive_kind(Path::new("a.tar.xz")), Some(ArchiveKind::Tar));
        assert_eq!(archive_kind(Path::new("a.zip")), Some(ArchiveKind::Zip));
        assert_eq!(archive_kind(Path::new("a.gz")), None);
    }

    #[test]
    fn redirects_resolve_against_the_request() {
        let base: http::Uri = "http://h:1/d/f".parse().unwrap();
        assert_eq!(resolve_redirect(&base, "/x"), "http://h:1/x");
        assert_eq!(resolve_redirect(&base, "y"), "http://h:1/d/y");
        assert_eq!(resolve_redirect(&base, "http://o/z"), "http://o/z");
    }
}
