//! Nested container sessions: a command started inside a running
//! container for as long as the client that asked stays connected
//! (LAUNCH_NESTED_CONTAINER_SESSION, what `meseta exec` and other
//! `task exec` tools use), its output streamed back, its input attached
//! by ATTACH_CONTAINER_INPUT, more readers by ATTACH_CONTAINER_OUTPUT.
//!
//! A session ends when its command ends, when its client goes away (the
//! answer's stream is dropped: the command is killed), or when its parent
//! container ends. How it ended is kept for WAIT_CONTAINER (the last
//! [`RETAINED_ENDED`] sessions). Sessions are not checkpointed: a client's
//! connection does not survive an agent restart, and nor does its session
//! (its processes are in the parent's cgroups and PID namespace, so they
//! end with the parent at the latest).

mod streams;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use meseta_proto::v1;
use tokio::sync::{mpsc, watch};

use crate::containerizer::enter::{self, Entered, Inside, Streams};
use crate::containerizer::{container_key, Containerizer, Termination};
use crate::error::AgentError;
pub(crate) use streams::{Chunk, Input, Source};

use streams::{Readers, Terminal};

/// Ended sessions remembered for WAIT_CONTAINER.
const RETAINED_ENDED: usize = 1024;
/// Output chunks queued towards the session's own client.
const SESSION_QUEUE: usize = 16;

/// Why a session call cannot be served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Bad(String),
    #[error(transparent)]
    Launch(#[from] AgentError),
}

/// One running session.
#[derive(Debug)]
struct Session {
    id: v1::ContainerId,
    pid: i32,
    readers: Arc<Readers>,
    /// Where input goes, while no ATTACH_CONTAINER_INPUT holds it; `None`
    /// while one does, or after the end of input was sent.
    input: Mutex<Option<Input>>,
    terminal: Option<Arc<Terminal>>,
    ended: watch::Receiver<Option<Termination>>,
}

#[derive(Debug, Default)]
struct Table {
    live: HashMap<String, Arc<Session>>,
    ended: HashMap<String, Termination>,
    ended_order: VecDeque<String>,
}

/// The agent's sessions.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    table: Mutex<Table>,
}

/// A new session's output, for its client. Dropping it (the client went
/// away) kills the session.
#[derive(Debug)]
pub(crate) struct SessionOutput {
    pub chunks: mpsc::Receiver<Chunk>,
    /// Kills the session when dropped before it ended.
    pub guard: KillOnDrop,
}

/// Kills a session that has not ended yet when dropped, unless its
/// output ran to its end first (then its command is ending by itself and
/// its exit status must not be a kill's).
#[derive(Debug)]
pub(crate) struct KillOnDrop {
    pid: i32,
    ended: watch::Receiver<Option<Termination>>,
    key: String,
    armed: bool,
}

impl KillOnDrop {
    /// The output was read to its end: dropping no longer kills.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed && self.ended.borrow().is_none() {
            tracing::info!(container = %self.key, "the session's client went away; killing it");
            signal_session(self.pid, libc::SIGKILL);
        }
    }
}

impl SessionOutput {
    /// The session's container key, for logs.
    pub fn key(&self) -> &str {
        &self.guard.key
    }
}

fn kill_group(pid: i32) {
    signal_session(pid, libc::SIGKILL);
}

/// Signals a session's supervisor's group and the supervisor's child (in
/// a terminal session of its own, outside the group).
fn signal_session(pid: i32, signal: i32) {
    if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        for child in children
            .split_whitespace()
            .filter_map(|c| c.parse::<i32>().ok())
        {
            // SAFETY: kill has no memory effects.
            unsafe { libc::kill(child, signal) };
        }
    }
    crate::containerizer::signal_group(pid, signal);
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when `key` names a session, running or ended.
    pub fn knows(&self, id: &v1::ContainerId) -> bool {
        let key = container_key(id);
        let table = self.lock();
        table.live.contains_key(&key) || table.ended.contains_key(&key)
    }

    /// The running sessions' IDs.
    pub fn running(&self) -> Vec<v1::ContainerId> {
        self.lock().live.values().map(|s| s.id.clone()).collect()
    }

    /// Starts `command` inside the running container `id.parent`.
    pub fn launch(
        self: &Arc<Self>,
        containerizer: &Arc<dyn Containerizer>,
        id: &v1::ContainerId,
        command: v1::CommandInfo,
        container: Option<&v1::ContainerInfo>,
    ) -> Result<SessionOutput, SessionError> {
        let key = container_key(id);
        let parent = id.parent.as_deref().ok_or_else(|| {
            SessionError::Bad("Expecting 'container_id.parent' to be present".into())
        })?;
        if container.is_some_and(|c| c.mesos.as_ref().is_some_and(|m| m.image.is_some())) {
            return Err(SessionError::Bad(
                "a session runs in its parent container's filesystem: 'container.mesos.image' is not supported".into(),
            ));
        }
        if container.is_some_and(|c| c.r#type() == v1::container_info::Type::Docker) {
            return Err(SessionError::Bad(
                "a session is a MESOS container inside its parent: 'container.type' DOCKER is not supported".into(),
            ));
        }
        let terminal = container.and_then(|c| c.tty_info.as_ref()).map(|tty| {
            tty.window_size
                .as_ref()
                .map_or((24, 80), |size| (clamp(size.rows), clamp(size.columns)))
        });
        if self.knows(id) {
            return Err(SessionError::Conflict(format!(
                "Container {key} already exists"
            )));
        }
        let parent_key = container_key(parent);
        let pid = containerizer.pid(parent).ok_or_else(|| {
            SessionError::NotFound(format!(
                "Parent container {parent_key} cannot be found, or has no process of its own"
            ))
        })?;
        let inside = Inside {
            environment: crate::builtin_executor::command_environment(&command),
            user: command.user.clone(),
            command,
            terminal,
        };
        let pid = i32::try_from(pid)
            .map_err(|_| SessionError::NotFound(format!("bad PID of {parent_key}")))?;
        let entered = enter::spawn_inside(&key, pid, &inside)?;
        tracing::info!(container = %key, parent = %parent_key, pid = entered.pid, "session started");
        Ok(self.start(id.clone(), containerizer, entered))
    }

    /// Records a started session and starts its pumps and watchers.
    fn start(
        self: &Arc<Self>,
        id: v1::ContainerId,
        containerizer: &Arc<dyn Containerizer>,
        entered: Entered,
    ) -> SessionOutput {
        let key = container_key(&id);
        let parent = id.parent.as_deref().cloned().unwrap_or_default();
        let Entered {
            mut child,
            pid,
            streams,
        } = entered;
        let (primary, chunks) = mpsc::channel(SESSION_QUEUE);
        let readers = Arc::new(Readers::new(primary));
        let (ended_tx, ended_rx) = watch::channel(None);
        let (exited_tx, exited_rx) = watch::channel(false);
        let (input, terminal) = match streams {
            Streams::Pipes {
                stdin,
                stdout,
                stderr,
            } => {
                tokio::spawn(streams::pump_pipes(
                    Arc::clone(&readers),
                    stdout,
                    stderr,
                    exited_rx,
                ));
                (Input::Pipe(stdin), None)
            }
            Streams::Terminal(master) => match Terminal::new(master) {
                Ok(terminal) => {
                    let terminal = Arc::new(terminal);
                    tokio::spawn(streams::pump_terminal(
                        Arc::clone(&readers),
                        Arc::clone(&terminal),
                        exited_rx,
                    ));
                    (Input::Terminal(Arc::clone(&terminal)), Some(terminal))
                }
                Err(error) => {
                    tracing::warn!(container = %key, %error, "cannot read the session's terminal");
                    kill_group(pid);
                    drop(readers);
                    return self.output(key, pid, chunks, ended_rx);
                }
            },
        };
        let session = Arc::new(Session {
            id,
            pid,
            readers,
            input: Mutex::new(Some(input)),
            terminal,
            ended: ended_rx.clone(),
        });
        self.lock().live.insert(key.clone(), session);
        let sessions = Arc::clone(self);
        let containerizer = Arc::clone(containerizer);
        let watched = key.clone();
        tokio::spawn(async move {
            let parent_ended = containerizer.wait(&parent);
            tokio::pin!(parent_ended);
            let status = tokio::select! {
                status = child.wait() => status,
                _ = &mut parent_ended => {
                    tracing::info!(container = %watched, "the parent container ended; killing the session");
                    kill_group(pid);
                    child.wait().await
                }
            };
            // Whatever the command left in its group goes with it.
            kill_group(pid);
            let termination = crate::containerizer::termination_of(status);
            tracing::info!(container = %watched, status = %termination.describe(), "session ended");
            exited_tx.send_replace(true);
            sessions.retire(&watched, termination.clone());
            ended_tx.send_replace(Some(termination));
        });
        self.output(key, pid, chunks, ended_rx)
    }

    fn output(
        &self,
        key: String,
        pid: i32,
        chunks: mpsc::Receiver<Chunk>,
        ended: watch::Receiver<Option<Termination>>,
    ) -> SessionOutput {
        SessionOutput {
            chunks,
            guard: KillOnDrop {
                pid,
                ended,
                key,
                armed: true,
            },
        }
    }

    fn retire(&self, key: &str, termination: Termination) {
        let mut table = self.lock();
        table.live.remove(key);
        table.ended.insert(key.to_string(), termination);
        table.ended_order.push_back(key.to_string());
        while table.ended_order.len() > RETAINED_ENDED {
            if let Some(old) = table.ended_order.pop_front() {
                table.ended.remove(&old);
            }
        }
    }

    fn live(&self, id: &v1::ContainerId) -> Result<Arc<Session>, SessionError> {
        let key = container_key(id);
        let table = self.lock();
        if let Some(session) = table.live.get(&key) {
            return Ok(Arc::clone(session));
        }
        Err(match table.ended.contains_key(&key) {
            true => SessionError::Conflict(format!("Container {key} has terminated")),
            false => SessionError::NotFound(format!(
                "Container {key} cannot be found (only sessions launched by LAUNCH_NESTED_CONTAINER_SESSION can be attached)"
            )),
        })
    }

    /// A new reader of a running session's output.
    pub fn attach_output(
        &self,
        id: &v1::ContainerId,
    ) -> Result<mpsc::Receiver<Chunk>, SessionError> {
        Ok(self.live(id)?.readers.attach())
    }

    /// The session's input, held until [`release_input`](Self::release_input).
    pub fn attach_input(&self, id: &v1::ContainerId) -> Result<Input, SessionError> {
        let session = self.live(id)?;
        let taken = session
            .input
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        taken.ok_or_else(|| {
            SessionError::Conflict(format!(
                "Container {} already has its input attached (or closed)",
                container_key(id)
            ))
        })
    }

    /// Gives the input back for a later ATTACH_CONTAINER_INPUT (not after
    /// the end of input was sent).
    pub fn release_input(&self, id: &v1::ContainerId, input: Input) {
        if let Ok(session) = self.live(id) {
            *session.input.lock().unwrap_or_else(|p| p.into_inner()) = Some(input);
        }
    }

    /// Resizes a session's terminal (nothing for one without).
    pub fn resize(&self, id: &v1::ContainerId, rows: u32, columns: u32) {
        if let Ok(Some(terminal)) = self.live(id).map(|s| s.terminal.clone()) {
            if let Err(error) = terminal.resize(clamp(rows), clamp(columns)) {
                tracing::debug!(%error, "cannot resize a session's terminal");
            }
        }
    }

    /// How the session ended, once it has; `None` for no such session.
    pub async fn wait(&self, id: &v1::ContainerId) -> Option<Termination> {
        let key = container_key(id);
        let mut ended = {
            let table = self.lock();
            if let Some(termination) = table.ended.get(&key) {
                return Some(termination.clone());
            }
            table.live.get(&key)?.ended.clone()
        };
        let termination = ended.wait_for(Option::is_some).await.ok()?;
        termination.clone()
    }

    /// Kills a running session; false for no such session (an ended one
    /// is fine).
    pub fn kill(&self, id: &v1::ContainerId, signal: i32) -> bool {
        match self.live(id) {
            Ok(session) => {
                if session.ended.borrow().is_none() {
                    signal_session(session.pid, signal);
                }
                true
            }
            Err(SessionError::Conflict(_)) => true,
            Err(_) => false,
        }
    }
}

fn clamp(value: u32) -> u16 {
    u16::try_from(value).unwrap_or(u16::MAX)
}
