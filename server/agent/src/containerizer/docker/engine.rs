//! The Docker engine's HTTP API on its unix socket, through bollard, with
//! every call bounded.
//!
//! Mesos's Docker support is known for agents stuck behind a hung
//! `docker` command. Here nothing waits on the engine without a deadline:
//! [`Engine::call`] runs one request under a timeout ([`API_TIMEOUT`] for
//! calls that should answer at once), pulls get [`PULL_TIMEOUT`], and only
//! the watchers' long polls (a container's end, its log stream) wait
//! without one, each in a task of its own that nothing else waits for.
//!
//! The client is made on first use, not at agent start, so an agent whose
//! engine is down starts anyway; the API version is negotiated then (the
//! engine may be older than the client: Debian's speaks 1.41) and kept
//! once it succeeded.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::errors::Error as BollardError;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::Mutex;

use super::config::{API_TIMEOUT, PULL_TIMEOUT};

/// bollard's own request timeout, in seconds: ours govern, so it only
/// must not cut a long poll short.
const CLIENT_TIMEOUT_SECS: u64 = 365 * 24 * 60 * 60;
/// How often a pull in progress is logged.
const PULL_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// A failed engine call, in words an operator can act on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EngineError {
    /// What the agent was doing ("create the container").
    pub what: String,
    /// The engine's own message, or why it could not be asked.
    pub words: String,
    /// The engine's HTTP status, when it answered.
    pub status: Option<u16>,
}

impl EngineError {
    /// The engine answered 404 (no such container or image).
    pub fn not_found(&self) -> bool {
        self.status == Some(404)
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot {}: {}", self.what, self.words)
    }
}

/// The engine at one socket.
pub(crate) struct Engine {
    socket: PathBuf,
    client: Mutex<Option<Docker>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("socket", &self.socket)
            .finish()
    }
}

impl Engine {
    pub fn new(socket: PathBuf) -> Self {
        Self {
            socket,
            client: Mutex::new(None),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A client that has negotiated the API version with the engine.
    async fn client(&self) -> Result<Docker, EngineError> {
        let failed = |words: String, status| EngineError {
            what: format!("reach the Docker engine at {}", self.socket.display()),
            words,
            status,
        };
        let connect = async {
            let mut slot = self.client.lock().await;
            if let Some(client) = slot.as_ref() {
                return Ok(client.clone());
            }
            let path = self.socket.to_string_lossy();
            let client =
                Docker::connect_with_unix(&path, CLIENT_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                    .map_err(|e| failed(describe(&e), status_of(&e)))?;
            let client = client
                .negotiate_version()
                .await
                .map_err(|e| failed(describe(&e), status_of(&e)))?;
            tracing::info!(socket = %self.socket.display(), api_version = %client.client_version(), "connected to the Docker engine");
            *slot = Some(client.clone());
            Ok(client)
        };
        match tokio::time::timeout(API_TIMEOUT, connect).await {
            Ok(result) => result,
            Err(_) => Err(failed(
                format!("it did not answer within {}s", API_TIMEOUT.as_secs()),
                None,
            )),
        }
    }

    /// Runs one request under `limit` (connecting included).
    pub async fn call<T, F, Fut>(
        &self,
        what: &str,
        limit: Duration,
        request: F,
    ) -> Result<T, EngineError>
    where
        F: FnOnce(Docker) -> Fut,
        Fut: Future<Output = Result<T, BollardError>>,
    {
        let run = async {
            let client = self.client().await?;
            request(client).await.map_err(|e| EngineError {
                what: what.to_string(),
                words: describe(&e),
                status: status_of(&e),
            })
        };
        match tokio::time::timeout(limit, run).await {
            Ok(result) => result,
            Err(_) => Err(EngineError {
                what: what.to_string(),
                words: format!(
                    "the Docker engine at {} did not answer within {}s",
                    self.socket.display(),
                    limit.as_secs()
                ),
                status: None,
            }),
        }
    }

    /// A quick call, bounded by [`API_TIMEOUT`].
    pub async fn quick<T, F, Fut>(&self, what: &str, request: F) -> Result<T, EngineError>
    where
        F: FnOnce(Docker) -> Fut,
        Fut: Future<Output = Result<T, BollardError>>,
    {
        self.call(what, API_TIMEOUT, request).await
    }

    /// The client for a long poll (a container's end, its logs), which
    /// its caller bounds or runs on its own; connecting is bounded.
    pub async fn long_poll(&self) -> Result<Docker, EngineError> {
        self.client().await
    }

    /// Makes sure `image` is in the engine: pulled when `force` or when
    /// missing, bounded by [`PULL_TIMEOUT`], with progress logged.
    /// Returns how long a pull took, if one ran.
    pub async fn ensure_image(
        &self,
        image: &str,
        force: bool,
    ) -> Result<Option<Duration>, EngineError> {
        let reference = with_default_tag(image);
        if !force {
            let found = self
                .quick(&format!("inspect the image {reference}"), |c| {
                    let reference = reference.clone();
                    async move { c.inspect_image(&reference).await }
                })
                .await;
            match found {
                Ok(_) => return Ok(None),
                Err(e) if e.not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let started = Instant::now();
        tracing::info!(image = %reference, force, "pulling the image");
        let what = format!("pull the image {reference}");
        let pull = |client: Docker| {
            let reference = reference.clone();
            async move {
                let options = CreateImageOptionsBuilder::new()
                    .from_image(&reference)
                    .build();
                let mut progress = client.create_image(Some(options), None, None);
                let mut logged = Instant::now();
                while let Some(step) = progress.next().await {
                    let step = step?;
                    if logged.elapsed() >= PULL_PROGRESS_EVERY {
                        logged = Instant::now();
                        let detail = step.progress_detail.unwrap_or_default();
                        tracing::info!(image = %reference, status = step.status.as_deref().unwrap_or(""), layer = step.id.as_deref().unwrap_or(""), current = detail.current.unwrap_or(0), total = detail.total.unwrap_or(0), "pulling the image");
                    }
                }
                Ok(())
            }
        };
        self.call(&what, PULL_TIMEOUT, pull).await?;
        let took = started.elapsed();
        tracing::info!(image = %reference, ?took, "image pulled");
        Ok(Some(took))
    }
}

/// `image` with `:latest` when it names no tag, as Mesos pulls it (the
/// last path part holds the tag; `host:port/name` is not a tag).
pub(crate) fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The engine's HTTP status in an error, if it answered.
fn status_of(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's words, or the chain of causes for a transport failure.
pub(crate) fn describe(error: &BollardError) -> String {
    match error {
        BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        BollardError::DockerStreamError { error } => error.trim().to_string(),
        BollardError::SocketNotFoundError(path) => format!(
            "its socket {path} does not exist (is the Docker engine running? see --docker-socket)"
        ),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.contains(&cause_text) {
                    text.push_str(": ");
                    text.push_str(&cause_text);
                }
                source = cause.source();
            }
            if text.contains("Connection refused") {
                text.push_str(" (is the Docker engine running? see --docker-socket)");
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_without_a_tag_get_latest() {
        assert_eq!(with_default_tag("busybox"), "busybox:latest");
        assert_eq!(with_default_tag("busybox:1"), "busybox:1");
        assert_eq!(
            with_default_tag("127.0.0.1:5000/team/app"),
            "127.0.0.1:5000/team/app:latest"
        );
        assert_eq!(
            with_default_tag("127.0.0.1:5000/team/app:2"),
            "127.0.0.1:5000/team/app:2"
        );
        assert_eq!(with_default_tag("app@sha256:abc"), "app@sha256:abc");
    }

    #[tokio::test]
    async fn a_missing_socket_is_named_in_the_error() {
        let engine = Engine::new(PathBuf::from("/nonexistent/docker.sock"));
        let error = engine
            .quick("list the containers", |c| async move {
                c.list_containers(None).await
            })
            .await
            .expect_err("no engine there");
        let text = error.to_string();
        assert!(text.contains("/nonexistent/docker.sock"), "{text}");
        assert!(text.contains("does not exist"), "{text}");
    }

    #[tokio::test]
    async fn a_hung_engine_is_bounded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("hung.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        let held = tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                kept.push(stream);
            }
        });
        let engine = Engine::new(path);
        let started = Instant::now();
        let error = engine
            .call("ping", Duration::from_millis(300), |c| async move {
                c.ping().await
            })
            .await
            .expect_err("it never answers");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(error.words.contains("did not answer"), "{error}");
        held.abort();
    }
}
