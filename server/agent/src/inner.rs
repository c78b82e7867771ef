//! The agent's shared core: settings, the state under its mutex, the
//! containerizer, and the outbound side of the master link.
//!
//! Each operation (launching, killing, status updates, the executor API, the
//! master link) lives in its own module as an `impl Inner` block; this module
//! only holds what they share. Rule: lock, change plain data, unlock, then do
//! I/O — never hold the lock across an `.await`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use meseta_proto::cluster::{agent_message, AgentMessage};
use meseta_proto::v1;
use tokio::sync::{mpsc, watch, Notify};

use crate::config::Settings;
use crate::containerizer::Containerizer;
use crate::fetcher::Fetcher;
use crate::sandbox::Layout;
use crate::state::AgentState;

/// Messages queued towards the master before the stream pushes back.
pub(crate) const OUTBOUND_QUEUE: usize = 4096;

/// The sending half of the current master stream, if connected.
#[derive(Debug, Default)]
pub(crate) struct MasterSender {
    current: Mutex<Option<mpsc::Sender<AgentMessage>>>,
}

impl MasterSender {
    /// Sends a message on the current stream; false when disconnected or
    /// the queue is full (callers that need delivery retry on their own).
    pub fn send(&self, kind: agent_message::Kind) -> bool {
        let sender = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(sender) = sender else {
            return false;
        };
        match sender.try_send(AgentMessage { kind: Some(kind) }) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot queue a message for the master");
                false
            }
        }
    }

    pub fn connect(&self, sender: mpsc::Sender<AgentMessage>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender);
    }

    pub fn disconnect(&self) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

pub(crate) struct Inner {
    pub settings: Settings,
    pub layout: Layout,
    pub state: Mutex<AgentState>,
    pub containerizer: Arc<dyn Containerizer>,
    pub fetcher: Fetcher,
    /// Commands started inside running containers for a connected client.
    pub sessions: Arc<crate::sessions::Sessions>,
    pub master: MasterSender,
    /// The address executors and the master use to reach us.
    pub http_address: SocketAddr,
    pub start_time: SystemTime,
    pub started: Instant,
    /// Wakes the status update retry loop when a deadline may have moved.
    pub updates_wake: Notify,
    /// Set once when the agent stops.
    pub stop: watch::Sender<bool>,
    /// Set when the agent cannot go on.
    pub fatal: watch::Sender<Option<String>>,
    /// The isolators in force, as `--isolation` names them.
    pub isolation: String,
    /// Why isolation is off although it was the default.
    pub isolation_fallback: Option<String>,
}

impl Inner {
    pub fn lock(&self) -> MutexGuard<'_, AgentState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn agent_id(&self) -> Option<v1::AgentId> {
        self.lock().agent_id.clone()
    }

    /// `ip:port` of our HTTP server, as executors get it.
    pub fn endpoint(&self) -> String {
        self.http_address.to_string()
    }

    /// The `AgentInfo` we register with and hand to executors.
    pub fn agent_info(&self) -> v1::AgentInfo {
        let resources = self.lock().resources.clone();
        v1::AgentInfo {
            hostname: self.settings.hostname.clone(),
            port: Some(i32::from(self.http_address.port())),
            resources: resources.unwrap_or_else(|| self.settings.resources.clone()),
            attributes: self.settings.attributes.clone(),
            id: self.agent_id(),
            ..Default::default()
        }
    }

    /// Registers a container about to be started; false once the agent is
    /// shutting down (then nothing may start: the shutdown would not see
    /// it). Pair with [`end_launch`](Self::end_launch).
    pub fn begin_launch(&self) -> bool {
        let mut state = self.lock();
        if state.shutting_down {
            return false;
        }
        state.launching += 1;
        true
    }

    /// The container registered with `begin_launch` started (or failed to).
    pub fn end_launch(&self) {
        let mut state = self.lock();
        state.launching = state.launching.saturating_sub(1);
    }

    /// Hands an executor's new limits (see
    /// [`AgentState::executor_limits`]) to the containerizer.
    pub fn update_limits(&self, target: Option<(v1::ContainerId, Vec<v1::Resource>)>) {
        let Some((container_id, resources)) = target else {
            return;
        };
        let containerizer = Arc::clone(&self.containerizer);
        tokio::spawn(async move {
            if let Err(error) = containerizer.update(&container_id, resources).await {
                tracing::warn!(container = %container_id.value, %error, "cannot update the executor's limits");
            }
        });
    }

    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Records a failure that ends the agent ([`crate::Agent::wait`] returns).
    pub fn fail(&self, reason: String) {
        tracing::error!(%reason, "the agent cannot continue");
        self.fatal.send_replace(Some(reason));
    }
}
