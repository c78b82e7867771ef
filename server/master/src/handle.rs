//! The one thing the edges and the driver loop share: the `Command`s the
//! edges (HTTP in [`crate::http`], gRPC in [`crate::grpc`], the ZooKeeper
//! election in [`crate::election`]) send into the loop, the
//! [`MasterHandle`] they send them through, and the loop's clock
//! (`wall_clock`).
//!
//! The loop and the wiring live in [`crate::server`], which uses this
//! module; nothing here, and no edge, uses [`crate::server`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meseta_proto::cluster::{AgentMessage, MasterMessage};
use meseta_proto::scheduler::{Call, Event};
use meseta_proto::v1;
use tokio::sync::{mpsc, oneshot};

use crate::leadership::{Leadership, LeadershipCell};
use crate::registry::RegistryError;
use crate::state::{CallError, ConnId, LinkId, Master};

/// Inputs to the driver loop. Messages and calls are boxed: a command is
/// held in every agent's reading task and in the loop's queue, so its size
/// is paid per agent (a `Call` inline is about a kilobyte).
pub(crate) enum Command {
    Subscribe {
        call: Box<Call>,
        conn: ConnId,
        events: mpsc::Sender<Box<Event>>,
        reply: oneshot::Sender<Result<(String, String), CallError>>,
    },
    Call {
        call: Box<Call>,
        stream_id: String,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    FrameworkGone {
        conn: ConnId,
    },
    AgentAttached {
        link: LinkId,
        messages: mpsc::Sender<Box<MasterMessage>>,
    },
    AgentMessage {
        link: LinkId,
        message: Box<AgentMessage>,
    },
    AgentGone {
        link: LinkId,
    },
    /// An operator API call that changes the cluster (answered once its
    /// actions are persisted and sent).
    Operator {
        call: Box<meseta_proto::master::Call>,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    /// An operator API SUBSCRIBE: a snapshot of the state (for SUBSCRIBED)
    /// into `state`, then every change after it into `events`.
    OperatorSubscribe {
        state: oneshot::Sender<crate::state::snapshot::Snapshot>,
        events: mpsc::Sender<Arc<meseta_proto::master::Event>>,
    },
    Inspect(Box<dyn FnOnce(&Master) + Send>),
    /// Read the registry and start leading from it.
    Recover {
        reply: oneshot::Sender<Result<(), RegistryError>>,
    },
}

/// A cheap, cloneable way into the driver loop.
#[derive(Clone)]
pub struct MasterHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) next_id: Arc<AtomicU64>,
    pub(crate) info: Arc<v1::MasterInfo>,
    pub(crate) flags: Arc<BTreeMap<String, String>>,
    pub(crate) verbosity: Option<meseta_proto::verbosity::VerbosityControl>,
    /// The master's log file, if it writes one.
    pub(crate) log_file: Option<Arc<std::path::PathBuf>>,
    pub(crate) leadership: LeadershipCell,
    /// Snapshots for the legacy endpoints, taken in batches.
    pub(crate) snapshots: crate::http::batches::Batches,
}

impl MasterHandle {
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues a command for the loop, waiting while its queue is full (so
    /// a flood of calls or agent messages slows its senders down instead
    /// of growing the master).
    pub(crate) async fn send(&self, command: Command) {
        // The loop only stops when the server does; a failed send then is moot.
        let _ = self.commands.send(command).await;
    }

    /// [`send`](Self::send) from code that cannot wait (a `Drop`): at once
    /// when there is room, else from a task of its own.
    pub(crate) fn send_soon(&self, command: Command) {
        if let Err(mpsc::error::TrySendError::Full(command)) = self.commands.try_send(command) {
            let commands = self.commands.clone();
            tokio::spawn(async move {
                let _ = commands.send(command).await;
            });
        }
    }

    /// Runs `f` on the master's state inside the loop and returns its result.
    pub async fn inspect<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Master) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Inspect(Box::new(move |master| {
            let _ = tx.send(f(master));
        })))
        .await;
        rx.await.ok()
    }

    /// This master's info.
    pub fn info(&self) -> &v1::MasterInfo {
        &self.info
    }

    /// The flags it was started with (Mesos's names).
    pub fn flags(&self) -> &BTreeMap<String, String> {
        &self.flags
    }

    /// Whether this master leads, or who does.
    pub fn leadership(&self) -> Leadership {
        self.leadership.get()
    }

    /// Waits, at most `limit`, while this master follows; the leadership it
    /// ends in.
    pub async fn leadership_won(&self, limit: std::time::Duration) -> Leadership {
        self.leadership.stop_following(limit).await
    }

    /// Waits, at most `limit`, while this master recovers its registry; the
    /// leadership it ends in.
    pub async fn leadership_settled(&self, limit: std::time::Duration) -> Leadership {
        self.leadership.settled(limit).await
    }

    /// Sets who leads (the election drives this; a lone master always leads).
    /// Call [`MasterHandle::recover`] before setting `Leading`.
    pub fn set_leadership(&self, leadership: Leadership) {
        tracing::info!(?leadership, "leadership changed");
        self.leadership.set(leadership);
    }

    /// Reads the registry into the master, once, before it starts leading.
    pub async fn recover(&self) -> Result<(), RegistryError> {
        let (reply, done) = oneshot::channel();
        self.send(Command::Recover { reply }).await;
        done.await.unwrap_or_else(|_| {
            Err(RegistryError::ZooKeeper(
                "the master stopped before recovering".into(),
            ))
        })
    }
}

/// Time since the UNIX epoch, the master's notion of `now`.
pub(crate) fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
