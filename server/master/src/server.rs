//! The shell around the state machine: binds the port, runs the driver loop
//! that owns the [`Master`], and turns its [`Action`]s into bytes on
//! framework streams and agent streams.
//!
//! HTTP (scheduler API, endpoints) and gRPC (agents) share one port: gRPC
//! requests are told apart by their path and HTTP/2. Those edges reach the
//! loop through [`crate::handle`], as the election does; none of them uses
//! this module.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use meseta_allocator::AllocatorConfig;
use meseta_proto::registry::Operation;
use meseta_proto::v1;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::config::{MasterConfig, RegistryConfig};
pub use crate::handle::MasterHandle;
use crate::handle::{wall_clock, Command};
use crate::leadership::{Leadership, LeadershipCell};
use crate::outputs::{perform, Outputs, COMMAND_QUEUE};
use crate::registry::{file::FileStore, zookeeper::ZooKeeperStore, RegistryError, Store};
use crate::state::{Action, CallError, Ids, Master};

/// How long the loop waits to batch events before an allocation cycle.
const ALLOCATION_BATCH: Duration = Duration::from_millis(10);
/// Most commands handled together before their registry operations are
/// written (group commit) and their actions sent.
const COMMAND_BATCH: usize = 1024;

/// How often a following master looks whether the shared registry changed,
/// and reads it again if it did (see [`Store::stand_by`]).
const STANDBY_REFRESH: Duration = Duration::from_secs(5);
/// Errors starting the master.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address tried.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The work directory could not be created.
    #[error("cannot create work dir {path}: {source}")]
    WorkDir {
        /// Path tried.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The registry could not be opened or read.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The registry configuration is unusable.
    #[error("bad registry configuration: {0}")]
    RegistryConfig(String),
    /// A thread the master needs could not be started.
    #[error("cannot start the {what} thread: {source}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// Why a master server ended on its own.
#[derive(Debug, thiserror::Error)]
pub enum Stopped {
    /// The driver loop panicked: the master cannot go on, and must not
    /// stay up holding its leadership.
    #[error("the master's driver loop panicked: {0}")]
    Panicked(String),
    /// The driver loop gave up (e.g. the registry cannot be written).
    #[error("the master's driver loop stopped: {0}")]
    LoopEnded(String),
    /// The HTTP server failed.
    #[error("the master's server failed: {0}")]
    Server(String),
    /// [`MasterServer::stop`] was asked for.
    #[error("the master was stopped")]
    Asked,
}

/// A running master.
pub struct MasterServer {
    address: SocketAddr,
    handle: MasterHandle,
    shutdown: Arc<watch::Sender<bool>>,
    task: Option<tokio::task::JoinHandle<Stopped>>,
}

impl MasterServer {
    /// Binds, starts the loop and the servers, and returns at once.
    pub async fn start(config: MasterConfig) -> Result<Self, ServerError> {
        std::fs::create_dir_all(&config.work_dir).map_err(|source| ServerError::WorkDir {
            path: config.work_dir.display().to_string(),
            source,
        })?;
        let addr = SocketAddr::new(config.ip, config.port);
        let listener = listen(addr).map_err(|source| ServerError::Bind { addr, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let info = master_info(&config, address);
        tracing::info!(id = %info.id, %address, "master starting");

        let (commands, inbox) = mpsc::channel(COMMAND_QUEUE);
        let handle = MasterHandle {
            snapshots: crate::http::batches::Batches::start(commands.clone()).map_err(
                |source| ServerError::Thread {
                    what: "rendering",
                    source,
                },
            )?,
            commands,
            next_id: Arc::new(AtomicU64::new(1)),
            info: Arc::new(info.clone()),
            flags: Arc::new(config.flags.clone()),
            verbosity: config.verbosity.clone(),
            log_file: config.log_file.clone().map(Arc::new),
            leadership: LeadershipCell::new(if config.start_as_leader {
                Leadership::Leading
            } else {
                Leadership::Following(None)
            }),
        };
        let mut master = Master::new(
            config.settings.clone(),
            info,
            AllocatorConfig {
                filter_gpu_resources: config.filter_gpu_resources,
                ..AllocatorConfig::default()
            },
            Ids::random(),
            wall_clock(),
        );
        let mut store = open_store(&config).await?;
        if config.start_as_leader {
            recover(&mut master, &mut store).await?;
        }
        let (shutdown, mut stopped) = watch::channel(false);
        let shutdown = Arc::new(shutdown);
        let mut loop_task = tokio::spawn(driver_loop(
            master,
            store,
            inbox,
            config.allocation_interval,
            handle.leadership.clone(),
            shutdown.clone(),
        ));

        let router = crate::http::router(handle.clone()).merge(crate::grpc::router(handle.clone()));
        // Replies are small and latency matters (status updates, acks):
        // no Nagle delay on them.
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        });
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        let stop_serving = shutdown.clone();
        let task = tokio::spawn(async move {
            let serve = std::pin::pin!(std::future::IntoFuture::into_future(serve));
            tokio::select! {
                served = serve => {
                    loop_task.abort();
                    match served {
                        Ok(()) => Stopped::Asked,
                        Err(error) => Stopped::Server(error.to_string()),
                    }
                }
                ended = &mut loop_task => {
                    // Nobody is served without the loop: stop answering.
                    let _ = stop_serving.send(true);
                    let stopped = match ended {
                        Ok(Ok(())) => Stopped::Asked,
                        Ok(Err(reason)) => Stopped::LoopEnded(reason),
                        Err(error) if error.is_panic() => Stopped::Panicked(panic_text(error.into_panic())),
                        Err(error) => Stopped::LoopEnded(error.to_string()),
                    };
                    if !matches!(stopped, Stopped::Asked) {
                        tracing::error!(reason = %stopped, "the master cannot go on");
                    }
                    stopped
                }
            }
        });
        Ok(Self {
            address,
            handle,
            shutdown,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A handle into the running master.
    pub fn handle(&self) -> MasterHandle {
        self.handle.clone()
    }

    /// Stops serving and waits for the server to end.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Waits until the server ends on its own; why. (Once: later calls
    /// wait forever.)
    pub async fn wait(&mut self) -> Stopped {
        match self.task.as_mut() {
            Some(task) => {
                let stopped = task
                    .await
                    .unwrap_or_else(|e| Stopped::Server(format!("the server task failed: {e}")));
                self.task = None;
                stopped
            }
            None => std::future::pending().await,
        }
    }
}

/// A panic's message, when it has one.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast::<&'static str>()
            .map_or_else(|_| "(no message)".to_string(), |text| text.to_string()),
    }
}

/// Opens the configured registry store (it is read on election).
async fn open_store(config: &MasterConfig) -> Result<Store, ServerError> {
    Ok(match &config.registry {
        RegistryConfig::InMemory => Store::memory(),
        RegistryConfig::Local => Store::File(FileStore::open(&config.work_dir.join("registry"))?),
        RegistryConfig::ZooKeeper {
            url,
            session_timeout,
        } => {
            let url = meseta_coordination::zookeeper::ZkUrl::parse(url)
                .map_err(|e| ServerError::RegistryConfig(e.to_string()))?;
            Store::ZooKeeper(ZooKeeperStore::connect(&url, *session_timeout).await?)
        }
    })
}

/// Binds with a deep accept backlog: after a master failover every agent
/// and framework reconnects at once.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

fn master_info(config: &MasterConfig, address: SocketAddr) -> v1::MasterInfo {
    let hostname = config
        .hostname
        .clone()
        .unwrap_or_else(|| address.ip().to_string());
    let ip = match address.ip() {
        std::net::IpAddr::V4(v4) => u32::from_ne_bytes(v4.octets()),
        std::net::IpAddr::V6(_) => 0,
    };
    v1::MasterInfo {
        id: uuid::Uuid::new_v4().to_string(),
        ip,
        port: u32::from(address.port()),
        pid: Some(format!("master@{}:{}", address.ip(), address.port())),
        hostname: Some(hostname.clone()),
        version: Some(crate::http::MESOS_VERSION.to_string()),
        address: Some(v1::Address {
            hostname: Some(hostname),
            ip: Some(address.ip().to_string()),
            port: i32::from(address.port()),
        }),
        domain: None,
        capabilities: [
            v1::master_info::capability::Type::AgentUpdate,
            v1::master_info::capability::Type::AgentDraining,
        ]
        .into_iter()
        .map(|kind| v1::master_info::Capability {
            r#type: Some(kind as i32),
        })
        .collect(),
    }
}

/// Owns the state machine; the only place it is touched.
///
/// Commands that are already queued are handled together; the registry
/// operations of the whole batch are written at once and only then is any
/// of its actions sent, so nothing is acknowledged before it is durable.
async fn driver_loop(
    mut master: Master,
    mut store: Store,
    mut inbox: mpsc::Receiver<Command>,
    interval: Duration,
    leadership: LeadershipCell,
    shutdown: Arc<watch::Sender<bool>>,
) -> Result<(), String> {
    let mut stopping = shutdown.subscribe();
    let mut outputs = Outputs::default();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut standby = tokio::time::interval(STANDBY_REFRESH);
    standby.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_allocation: Option<Instant> = None;
    loop {
        let mut after = AfterBatch::default();
        let mut actions = tokio::select! {
            _ = stopping.changed() => return Ok(()),
            command = inbox.recv() => match command {
                Some(command) => handle_command(&mut master, command, &mut outputs, &mut after),
                None => return Ok(()),
            },
            _ = ticker.tick() => {
                next_allocation = None;
                master.tick(wall_clock())
            }
            _ = sleep_until(next_allocation), if next_allocation.is_some() => {
                next_allocation = None;
                master.tick(wall_clock())
            }
            _ = standby.tick(), if matches!(leadership.get(), Leadership::Following(_)) => {
                if let Err(error) = store.stand_by().await {
                    tracing::debug!(%error, "cannot read the registry while following; an election will");
                }
                continue;
            }
        };
        for _ in 1..COMMAND_BATCH {
            let Ok(command) = inbox.try_recv() else { break };
            actions.extend(handle_command(
                &mut master,
                command,
                &mut outputs,
                &mut after,
            ));
        }
        if let Err(error) = persist_then_perform(actions, &mut store, &mut outputs).await {
            tracing::error!(%error, "cannot write the registry; this master stops");
            return Err(format!("cannot write the registry: {error}"));
        }
        outputs.operators.retain(|tx| !tx.is_closed());
        master.set_observed(!outputs.operators.is_empty());
        // The batch is durable: accepted calls may be answered.
        for reply in after.accepted {
            let _ = reply.send(Ok(()));
        }
        // After the batch: what the old state acknowledged is out first.
        for reply in after.recoveries {
            let _ = reply.send(recover(&mut master, &mut store).await);
        }
        if master.allocation_wanted() && next_allocation.is_none() {
            next_allocation = Some(Instant::now() + ALLOCATION_BATCH);
        }
    }
}

/// Takes over the registry, and persists what taking over changes in it.
async fn recover(master: &mut Master, store: &mut Store) -> Result<(), RegistryError> {
    let registry = store.recover().await?;
    // Taking over only ever asks for registry writes.
    let (operations, _) = split_persisted(master.recover(wall_clock(), registry));
    if !operations.is_empty() {
        store.apply(&operations).await?;
    }
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

/// What waits until a batch is persisted and sent.
#[derive(Default)]
struct AfterBatch {
    /// Replies to accepted scheduler calls: their answer (`202`, or the
    /// `200` of UPDATE_FRAMEWORK) acknowledges what the batch persists.
    accepted: Vec<oneshot::Sender<Result<(), CallError>>>,
    /// Requests to recover from the registry.
    recoveries: Vec<oneshot::Sender<Result<(), RegistryError>>>,
}

/// Handles one command; the reply to an accepted call and a request to
/// recover are only collected, for when the batch is persisted and sent.
fn handle_command(
    master: &mut Master,
    command: Command,
    outputs: &mut Outputs,
    after: &mut AfterBatch,
) -> Vec<Action> {
    let now = wall_clock();
    let frameworks = &mut outputs.frameworks;
    let agents = &mut outputs.agents;
    match command {
        Command::Subscribe {
            call,
            conn,
            events,
            reply,
        } => {
            frameworks.insert(conn, events);
            match master.subscribe(now, *call, conn) {
                Ok(subscribed) => {
                    let _ = reply.send(Ok((subscribed.stream_id, subscribed.framework_id)));
                    subscribed.actions
                }
                Err(error) => {
                    frameworks.remove(&conn);
                    let _ = reply.send(Err(error));
                    Vec::new()
                }
            }
        }
        Command::Call {
            call,
            stream_id,
            reply,
        } => match master.scheduler_call(now, *call, &stream_id) {
            Ok(actions) => {
                after.accepted.push(reply);
                actions
            }
            Err(error) => {
                let _ = reply.send(Err(error));
                Vec::new()
            }
        },
        Command::Operator { call, reply } => match master.operator_call(now, *call) {
            Ok(actions) => {
                after.accepted.push(reply);
                actions
            }
            Err(error) => {
                let _ = reply.send(Err(error));
                Vec::new()
            }
        },
        Command::OperatorSubscribe { state, events } => {
            let snapshot = crate::state::snapshot::Snapshot::take(master);
            if state.send(snapshot).is_ok() {
                if outputs.operators.len() >= crate::http::MAX_OPERATOR_SUBSCRIBERS {
                    tracing::warn!("too many operator API subscribers; closing the oldest");
                    outputs.operators.remove(0);
                }
                outputs.operators.push(events);
                master.set_observed(true);
            }
            Vec::new()
        }
        Command::FrameworkGone { conn } => {
            frameworks.remove(&conn);
            master.framework_disconnected(now, conn)
        }
        Command::AgentAttached { link, messages } => {
            agents.insert(link, messages);
            Vec::new()
        }
        Command::AgentMessage { link, message } => master.agent_message(now, link, *message),
        Command::AgentGone { link } => {
            agents.remove(&link);
            master.agent_disconnected(now, link)
        }
        Command::Inspect(f) => {
            f(master);
            Vec::new()
        }
        Command::Recover { reply } => {
            after.recoveries.push(reply);
            Vec::new()
        }
    }
}

/// Writes the batch's registry operations, then sends the rest in order.
async fn persist_then_perform(
    actions: Vec<Action>,
    store: &mut Store,
    outputs: &mut Outputs,
) -> Result<(), RegistryError> {
    let (operations, actions) = split_persisted(actions);
    if !operations.is_empty() {
        store.apply(&operations).await?;
    }
    perform(actions, outputs);
    Ok(())
}

/// The registry operations among `actions`, and the other actions in order.
fn split_persisted(actions: Vec<Action>) -> (Vec<Operation>, Vec<Action>) {
    let mut operations = Vec::new();
    let mut others = Vec::with_capacity(actions.len());
    for action in actions {
        match action {
            Action::Persist(operation) => operations.push(operation),
            other => others.push(other),
        }
    }
    (operations, others)
}
