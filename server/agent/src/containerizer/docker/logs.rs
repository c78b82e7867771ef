//! A container's output, followed into the sandbox's `stdout` and
//! `stderr` files while it runs, so `/files` and the web UI show it live.
//!
//! The engine keeps the container's whole output; the sandbox files are
//! the copy. Where the copy stands is the file sizes beyond what they
//! held when the container started (kept in its record), so a follower
//! that starts again — after the engine dropped the stream, or in a
//! restarted agent — asks for the output from the beginning and skips
//! what the files already have: nothing is lost or written twice, even
//! after a crash.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::Shared;

/// How long a follower waits before asking again after a broken stream.
const RETRY: Duration = Duration::from_secs(1);

/// Where one output stream stands.
struct Sink {
    path: PathBuf,
    /// The file's size when the container started.
    start: u64,
    file: Option<tokio::fs::File>,
    /// Bytes of the engine's stream the file already has.
    skip: u64,
}

impl Sink {
    fn new(sandbox: &Path, name: &str, start: u64) -> Self {
        Self {
            path: sandbox.join(name),
            start,
            file: None,
            skip: 0,
        }
    }

    /// Counts what the file already holds of this container's output.
    async fn reset(&mut self) {
        let size = tokio::fs::metadata(&self.path)
            .await
            .map(|m| m.len())
            .unwrap_or(self.start);
        self.skip = size.saturating_sub(self.start);
    }

    async fn write(&mut self, bytes: &[u8]) {
        let len = bytes.len() as u64;
        let offset = usize::try_from(self.skip.min(len)).unwrap_or(bytes.len());
        self.skip = self.skip.saturating_sub(len);
        let rest = &bytes[offset..];
        if rest.is_empty() {
            return;
        }
        if self.file.is_none() {
            let opened = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .await;
            match opened {
                Ok(file) => self.file = Some(file),
                Err(error) => {
                    tracing::warn!(path = %self.path.display(), %error, "cannot open a sandbox output file; the container's output is lost");
                    return;
                }
            }
        }
        if let Some(file) = self.file.as_mut() {
            // Flushed at once: the file's size is where the copy stands.
            let written = match file.write_all(rest).await {
                Ok(()) => file.flush().await,
                Err(e) => Err(e),
            };
            if let Err(error) = written {
                tracing::warn!(path = %self.path.display(), %error, "cannot write the container's output");
                self.file = None;
            }
        }
    }
}

/// Follows the output of the container `name` into `sandbox` until the
/// engine ends the stream (the container stopped) or it is gone.
pub(crate) async fn follow(
    shared: Arc<Shared>,
    name: String,
    sandbox: PathBuf,
    offsets: (u64, u64),
) {
    let mut stdout = Sink::new(&sandbox, "stdout", offsets.0);
    let mut stderr = Sink::new(&sandbox, "stderr", offsets.1);
    loop {
        stdout.reset().await;
        stderr.reset().await;
        let client = match shared.engine.long_poll().await {
            Ok(client) => client,
            Err(error) => {
                tracing::debug!(%name, %error, "cannot follow the container's output yet");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let mut stream = client.logs(&name, Some(options));
        let mut broken = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    stdout.write(&message).await;
                }
                Ok(LogOutput::StdErr { message }) => stderr.write(&message).await,
                Ok(LogOutput::StdIn { .. }) => {}
                Err(error) => {
                    broken = Some(error);
                    break;
                }
            }
        }
        match broken {
            None => return,
            Some(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return,
            Some(error) => {
                tracing::debug!(%name, %error, "the container's output stream broke; following it again");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
