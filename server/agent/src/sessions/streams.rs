//! A session's standard streams: output read as it comes and handed to
//! every attached reader, input written as an attached writer sends it.
//!
//! The session's own reader (the LAUNCH_NESTED_CONTAINER_SESSION answer)
//! is waited for: a client that reads slowly slows the command down, as a
//! terminal does. Readers attached later (ATTACH_CONTAINER_OUTPUT) are
//! not: one that falls [`ATTACHED_QUEUE`] chunks behind is dropped (its
//! stream ends) rather than stall the command.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

/// Bytes read at once.
const CHUNK: usize = 64 * 1024;
/// Chunks a later reader may fall behind before it is dropped.
pub(crate) const ATTACHED_QUEUE: usize = 256;
/// How long output is still read after the command ended (a daemon it
/// left may hold the pipes open).
const DRAIN_AFTER_END: Duration = Duration::from_secs(1);

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Stdout,
    Stderr,
}

/// Output as it was read.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub source: Source,
    pub data: Bytes,
}

/// Everyone reading a session's output.
#[derive(Debug, Default)]
pub(crate) struct Readers {
    inner: Mutex<ReaderList>,
}

#[derive(Debug, Default)]
struct ReaderList {
    /// The session's own reader, waited for.
    primary: Option<mpsc::Sender<Chunk>>,
    attached: Vec<mpsc::Sender<Chunk>>,
    /// Output has ended: new readers get an ended stream.
    closed: bool,
}

impl Readers {
    /// Readers with `primary` as the session's own.
    pub fn new(primary: mpsc::Sender<Chunk>) -> Self {
        Self {
            inner: Mutex::new(ReaderList {
                primary: Some(primary),
                ..ReaderList::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReaderList> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new reader of what is read from now on.
    pub fn attach(&self) -> mpsc::Receiver<Chunk> {
        let (tx, rx) = mpsc::channel(ATTACHED_QUEUE);
        let mut list = self.lock();
        if !list.closed {
            list.attached.push(tx);
        }
        rx
    }

    /// Hands `chunk` to every reader.
    async fn deliver(&self, chunk: Chunk) {
        let primary = {
            let mut list = self.lock();
            list.attached
                .retain(|reader| reader.try_send(chunk.clone()).is_ok());
            list.primary.clone()
        };
        if let Some(primary) = primary {
            if primary.send(chunk).await.is_err() {
                self.lock().primary = None;
            }
        }
    }

    /// Output has ended: every reader's stream ends.
    fn close(&self) {
        let mut list = self.lock();
        list.closed = true;
        list.primary = None;
        list.attached.clear();
    }
}

/// Where input goes.
#[derive(Debug)]
pub(crate) enum Input {
    Pipe(tokio::process::ChildStdin),
    Terminal(Arc<Terminal>),
}

impl Input {
    /// Writes `data`; empty data is the end of input (for a terminal, the
    /// EOT character, as a terminal's user would type it).
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<bool> {
        match self {
            Input::Pipe(stdin) if data.is_empty() => {
                stdin.shutdown().await?;
                Ok(false)
            }
            Input::Pipe(stdin) => {
                stdin.write_all(data).await?;
                stdin.flush().await?;
                Ok(true)
            }
            Input::Terminal(terminal) if data.is_empty() => {
                terminal.write_all(b"\x04").await?;
                Ok(true)
            }
            Input::Terminal(terminal) => {
                terminal.write_all(data).await?;
                Ok(true)
            }
        }
    }
}

/// The master side of a session's terminal, non-blocking.
#[derive(Debug)]
pub(crate) struct Terminal {
    fd: AsyncFd<OwnedFd>,
}

impl Terminal {
    pub fn new(master: OwnedFd) -> std::io::Result<Self> {
        let raw = master.as_raw_fd();
        // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(raw, libc::F_GETFL);
            if flags < 0 || libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        // SAFETY: `master` is an owned, open descriptor that the AsyncFd
        // keeps (and closes) for its whole life.
        let fd = unsafe { AsyncFd::register(master) }.map_err(|e| e.into_parts().1)?;
        Ok(Self { fd })
    }

    /// Sets the window size.
    pub fn resize(&self, rows: u16, columns: u16) -> std::io::Result<()> {
        crate::containerizer::enter::resize_terminal(self.fd.get_ref(), rows, columns)
    }

    async fn read(&self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            let result = ready.try_io(|fd| {
                // SAFETY: reading at most buffer.len() bytes into buffer.
                let n =
                    unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            if let Ok(result) = result {
                return result;
            }
        }
    }

    async fn write_all(&self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let mut ready = self.fd.writable().await?;
            let result = ready.try_io(|fd| {
                // SAFETY: writing at most data.len() bytes from data.
                let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            if let Ok(written) = result {
                data = &data[written?..];
            }
        }
        Ok(())
    }
}

/// Reads a session's output until it ends (and at most
/// [`DRAIN_AFTER_END`] after the command did), then ends every reader's
/// stream.
pub(crate) async fn pump_pipes(
    readers: Arc<Readers>,
    stdout: tokio::process::ChildStdout,
    stderr: tokio::process::ChildStderr,
    ended: watch::Receiver<bool>,
) {
    tokio::join!(
        pump(&readers, Source::Stdout, stdout, ended.clone()),
        pump(&readers, Source::Stderr, stderr, ended),
    );
    readers.close();
}

async fn pump(
    readers: &Readers,
    source: Source,
    mut from: impl AsyncRead + Unpin,
    ended: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let read = read_until_drained(from.read(&mut buffer), &ended).await;
        match read {
            Some(Ok(n)) if n > 0 => {
                let data = Bytes::copy_from_slice(&buffer[..n]);
                readers.deliver(Chunk { source, data }).await;
            }
            _ => return,
        }
    }
}

/// [`pump_pipes`] for a terminal: everything is `stdout`; the end of the
/// terminal (EIO once no process holds it) ends the output.
pub(crate) async fn pump_terminal(
    readers: Arc<Readers>,
    terminal: Arc<Terminal>,
    ended: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let read = read_until_drained(terminal.read(&mut buffer), &ended).await;
        match read {
            Some(Ok(n)) if n > 0 => {
                let data = Bytes::copy_from_slice(&buffer[..n]);
                let chunk = Chunk {
                    source: Source::Stdout,
                    data,
                };
                readers.deliver(chunk).await;
            }
            _ => break,
        }
    }
    readers.close();
}

/// One read; `None` once the command has ended and nothing came for
/// [`DRAIN_AFTER_END`].
async fn read_until_drained<F>(
    read: F,
    ended: &watch::Receiver<bool>,
) -> Option<std::io::Result<usize>>
where
    F: std::future::Future<Output = std::io::Result<usize>>,
{
    let mut ended = ended.clone();
    tokio::pin!(read);
    tokio::select! {
        result = &mut read => return Some(result),
        _ = ended.wait_for(|e| *e) => {}
    }
    tokio::time::timeout(DRAIN_AFTER_END, read).await.ok()
}
