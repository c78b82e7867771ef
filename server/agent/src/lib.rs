//! The Meseta agent, as a library: the `meseta agent` command starts one
//! with [`Agent::start`].
//!
//! An agent runs tasks for the master. It dials the master over Meseta's own
//! gRPC stream (`AgentLink.Attach`, see `proto/meseta/cluster.proto`) and
//! serves Mesos's agent HTTP endpoints (`/api/v1/executor`, `/state`,
//! `/metrics/snapshot`, `/files/*`, `/health`) so that executors, tools and
//! the web UI written for Mesos work unchanged.
//!
//! A task's journey through the modules:
//! 1. [`master_link`] receives `RunTasks` and hands it to `launch`, which
//!    creates the sandbox ([`sandbox`]) and picks who runs the task;
//! 2. the built-in executors (`builtin_executor`) or a custom executor
//!    process (`custom_executor`, talking to `executor_api`) run it through
//!    a [`containerizer::Containerizer`], after the [`fetcher`] put its URIs
//!    into the sandbox;
//! 3. every state change becomes a status update, which the
//!    [`status_updates`] manager delivers to the master in order, retrying
//!    until acknowledged;
//! 4. `kill` stops tasks and frameworks; `http` shows it all.
//!
//! What outlives the agent process is [`checkpoint`]ed under the work dir;
//! at start, `recovery` takes back the tasks and executors of frameworks
//! that checkpoint (their processes survive an agent crash), so a restarted
//! agent re-registers with its old ID and nothing is reported lost.
//!
//! All shared state sits in one mutex (`inner`, `state`), never held across
//! an `.await`.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod builtin_executor;
pub mod checkpoint;
pub mod config;
pub mod containerizer;
mod custom_executor;
pub mod error;
mod executor_api;
pub mod fetcher;
mod http;
mod inner;
mod kill;
mod launch;
mod master_link;
mod recovery;
pub mod resources_detect;
pub mod sandbox;
mod sessions;
mod state;
pub mod status_updates;
mod updates;
mod volumes;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{AgentConfig, RecoverMode};
pub use containerizer::{Containerizer, ProcessContainerizer};
pub use error::AgentError;

use checkpoint::journal::FileJournal;
use checkpoint::Checkpointer;
use config::Settings;
use inner::{Inner, MasterSender};
use sandbox::Layout;
use state::AgentState;
use status_updates::StatusUpdateManager;

/// How long [`Agent::shutdown`] waits for the HTTP server to drain.
const SERVER_DRAIN: Duration = Duration::from_secs(5);

/// A running agent. Dropping it stops its background work but leaves the
/// processes it launched, as a crash would (a new agent on the same work
/// dir takes them back); call [`Agent::shutdown`] to stop those too.
pub struct Agent {
    inner: Arc<Inner>,
    jobs: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("http_address", &self.inner.http_address)
            .finish()
    }
}

impl Agent {
    /// Starts an agent with the containerizer its configuration asks for
    /// (isolated by default where the host allows; see
    /// [`containerizer::choose`]). Returns once the HTTP server is bound;
    /// the master is dialled in the background.
    pub async fn start(config: AgentConfig) -> Result<Agent, AgentError> {
        let settings = Settings::derive(config)?;
        let chosen = containerizer::choose(&settings.config.isolation, &settings.resources)?;
        Self::start_derived(settings, chosen).await
    }

    /// Starts an agent with another way of running containers.
    pub async fn start_with_containerizer(
        config: AgentConfig,
        containerizer: Arc<dyn Containerizer>,
    ) -> Result<Agent, AgentError> {
        let settings = Settings::derive(config)?;
        let chosen = containerizer::Chosen {
            containerizer,
            isolation: containerizer::isolators::NO_ISOLATION.to_string(),
            fallback: None,
        };
        Self::start_derived(settings, chosen).await
    }

    async fn start_derived(
        settings: Settings,
        chosen: containerizer::Chosen,
    ) -> Result<Agent, AgentError> {
        let containerizer::Chosen {
            containerizer,
            isolation,
            fallback,
        } = chosen;
        let layout = Layout::new(&settings.config.work_dir);
        let meta = layout.meta_dir();
        let loaded = checkpoint::load::load(&meta);
        let listener = bind(&settings, loaded.agent_info.as_ref()).await?;
        let bound = listener.local_addr().map_err(|e| AgentError::Http {
            addr: settings.config.ip.to_string(),
            reason: e.to_string(),
        })?;
        let advertised = settings.advertised(bound).await;
        let agent_id = layout
            .read_agent_id()
            .map(|value| meseta_proto::v1::AgentId { value });
        let config = &settings.config;
        let sealed = Arc::new(AtomicBool::new(false));
        let updates = StatusUpdateManager::new(
            config.status_update_retry_initial,
            config.status_update_retry_max,
            Box::new(FileJournal::new(meta.clone(), Arc::clone(&sealed))),
        );
        let checkpointer = Checkpointer::new(meta, sealed);
        let mut state = AgentState::new(agent_id, updates, checkpointer);
        state.resources = layout.read_resources(&settings.resources);
        if let Some(kept) = &state.resources {
            volumes::follow(layout.work_dir(), &[], kept);
        }
        let recovered =
            recovery::recover(&settings, &layout, containerizer.as_ref(), state, loaded).await;
        let mut state = recovered.state;
        state.previous_agent_id = recovered.previous_agent_id;
        tracing::info!(
            address = %bound,
            hostname = %settings.hostname,
            work_dir = %config.work_dir.display(),
            master = %config.master,
            agent_id = ?state.agent_id.as_ref().map(|a| &a.value),
            resources = %meseta_proto::resources::describe(&settings.resources),
            %isolation,
            "agent starting"
        );
        let inner = Arc::new(Inner {
            layout,
            state: Mutex::new(state),
            containerizer,
            fetcher: fetcher::Fetcher::new(),
            sessions: Arc::default(),
            master: MasterSender::default(),
            http_address: advertised,
            start_time: SystemTime::now(),
            started: Instant::now(),
            updates_wake: tokio::sync::Notify::new(),
            stop: watch::channel(false).0,
            fatal: watch::channel(None).0,
            isolation,
            isolation_fallback: fallback,
            settings,
        });
        let server = {
            let inner = Arc::clone(&inner);
            let mut stop = inner.stop.subscribe();
            let router = http::router(Arc::clone(&inner));
            tokio::spawn(async move {
                // Executors' calls and their acknowledgements are small
                // and latency matters: no Nagle delay on them.
                let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
                    if let Err(error) = stream.set_nodelay(true) {
                        tracing::debug!(%error, "cannot set TCP_NODELAY");
                    }
                });
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|stopped| *stopped).await;
                    })
                    .await;
                if let Err(e) = served {
                    inner.fail(format!("HTTP server at {bound} failed: {e}"));
                }
            })
        };
        inner.resume(recovered.resume);
        let link = tokio::spawn(Arc::clone(&inner).run_master_link());
        let retries = tokio::spawn(Arc::clone(&inner).run_update_retries());
        Ok(Agent {
            inner,
            jobs: Mutex::new(vec![server, link, retries]),
        })
    }

    /// The address of the HTTP server as the agent advertises it (for a
    /// wildcard IP: the hostname's address, or loopback): connectable, and
    /// what executors get as `MESOS_AGENT_ENDPOINT`.
    pub fn http_address(&self) -> SocketAddr {
        self.inner.http_address
    }

    /// The ID the master assigned, once registered (or saved by an earlier run).
    pub fn agent_id(&self) -> Option<String> {
        self.inner.agent_id().map(|id| id.value)
    }

    /// True while registered with the master.
    pub fn is_registered(&self) -> bool {
        self.inner.lock().registered
    }

    /// Stops the agent: every executor and task it launched is stopped
    /// (gracefully, then with SIGKILL after the shutdown grace period), then
    /// the master link and the HTTP server close.
    pub async fn shutdown(self) {
        tracing::info!("agent shutting down");
        self.inner.stop_everything().await;
        self.inner.stop.send_replace(true);
        let jobs = std::mem::take(&mut *self.jobs.lock().unwrap_or_else(|p| p.into_inner()));
        for job in jobs {
            let abort = job.abort_handle();
            if tokio::time::timeout(SERVER_DRAIN, job).await.is_err() {
                abort.abort();
            }
        }
        tracing::info!("agent stopped");
    }

    /// Resolves when the agent cannot go on (its HTTP server failed), with
    /// the reason. Never resolves for a healthy agent.
    pub async fn wait(&self) -> AgentError {
        let mut fatal = self.inner.fatal.subscribe();
        let reason = match fatal.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => "the agent stopped".to_string(),
        };
        AgentError::Http {
            addr: self.inner.http_address.to_string(),
            reason,
        }
    }
}

impl Drop for Agent {
    /// Stops the agent's background work and leaves what it launched
    /// running, as a crash would: the checkpoint is sealed (this instance
    /// writes nothing more, so an agent started on the same work dir owns
    /// it) and executors' event streams are closed, so they reconnect.
    fn drop(&mut self) {
        if !*self.inner.stop.borrow() {
            let mut state = self.inner.lock();
            state.checkpoint.seal();
            for executor in state
                .frameworks
                .values_mut()
                .flat_map(|f| f.executors.values_mut())
            {
                executor.events = None;
            }
        }
        self.inner.stop.send_replace(true);
    }
}

/// Binds the HTTP server. With `--port 0`, a restarted agent first tries
/// the port it had, so executors that survived the restart find it at the
/// address they were given.
async fn bind(
    settings: &Settings,
    previous: Option<&meseta_proto::v1::AgentInfo>,
) -> Result<tokio::net::TcpListener, AgentError> {
    let ip = settings.config.ip;
    let old_port = previous
        .and_then(|info| info.port)
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port != 0 && settings.config.port == 0);
    if let Some(port) = old_port {
        match tokio::net::TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(listener) => return Ok(listener),
            Err(e) => {
                tracing::info!(port, error = %e, "cannot have the previous run's port again; picking another")
            }
        }
    }
    let address = SocketAddr::new(ip, settings.config.port);
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| AgentError::Http {
            addr: address.to_string(),
            reason: format!("cannot bind: {e}"),
        })
}
