//! Test support: a small master that plays its side of `AgentLink.Attach`
//! (a real gRPC server on loopback), a plain HTTP client, and builders.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meseta_agent::{Agent, AgentConfig};
use meseta_proto::cluster::{
    agent_link_server::{AgentLink, AgentLinkServer},
    agent_message, master_message, AgentMessage, MasterMessage, Registered,
};
use meseta_proto::v1;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{TcpListenerStream, UnboundedReceiverStream};
use tonic::{Request, Response, Status, Streaming};

/// How long a test waits for anything before failing.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// What the fake master sees.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // test-only, short-lived values
pub enum Seen {
    Attached,
    Message(agent_message::Kind),
    Detached,
}

type Outbound = mpsc::UnboundedSender<Result<MasterMessage, Status>>;

struct Service {
    seen: mpsc::UnboundedSender<Seen>,
    current: Arc<Mutex<Option<Outbound>>>,
}

#[tonic::async_trait]
impl AgentLink for Service {
    type AttachStream = UnboundedReceiverStream<Result<MasterMessage, Status>>;

    async fn attach(
        &self,
        request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.current.lock().unwrap() = Some(tx);
        let _ = self.seen.send(Seen::Attached);
        let seen = self.seen.clone();
        let mut inbound = request.into_inner();
        tokio::spawn(async move {
            while let Ok(Some(message)) = inbound.message().await {
                if let Some(kind) = message.kind {
                    let _ = seen.send(Seen::Message(kind));
                }
            }
            let _ = seen.send(Seen::Detached);
        });
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }
}

/// The master's side of the agent link.
pub struct FakeMaster {
    pub addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    current: Arc<Mutex<Option<Outbound>>>,
}

impl FakeMaster {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let current = Arc::new(Mutex::new(None));
        let service = Service {
            seen: seen_tx,
            current: Arc::clone(&current),
        };
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(AgentLinkServer::new(service))
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        Self {
            addr,
            seen,
            current,
        }
    }

    /// The next thing seen, pongs included.
    pub async fn next_raw(&mut self) -> Seen {
        tokio::time::timeout(DEADLINE, self.seen.recv())
            .await
            .expect("timed out waiting for the agent")
            .expect("the fake master's server stopped")
    }

    /// The next thing seen, pongs skipped.
    pub async fn next(&mut self) -> Seen {
        loop {
            let seen = self.next_raw().await;
            if !matches!(seen, Seen::Message(agent_message::Kind::Pong(_))) {
                return seen;
            }
        }
    }

    /// The next message from the agent, pongs and stream events skipped.
    pub async fn message(&mut self) -> agent_message::Kind {
        loop {
            if let Seen::Message(kind) = self.next().await {
                return kind;
            }
        }
    }

    pub fn send(&self, kind: master_message::Kind) {
        let current = self.current.lock().unwrap();
        let tx = current.as_ref().expect("no agent attached");
        tx.send(Ok(MasterMessage { kind: Some(kind) })).unwrap();
    }

    /// Ends the current stream from the master's side.
    pub fn hang_up(&self) {
        self.current.lock().unwrap().take();
    }

    /// Waits for `Register` and answers `Registered` with `agent_id`.
    pub async fn accept(&mut self, agent_id: &str) -> meseta_proto::cluster::Register {
        self.accept_with_ping(agent_id, 60.0).await
    }

    /// As [`accept`](Self::accept), announcing a ping interval.
    pub async fn accept_with_ping(
        &mut self,
        agent_id: &str,
        ping_interval: f64,
    ) -> meseta_proto::cluster::Register {
        let register = match self.message().await {
            agent_message::Kind::Register(register) => register,
            other => panic!("expected Register, got {other:?}"),
        };
        self.send(master_message::Kind::Registered(Registered {
            agent_id: v1::AgentId {
                value: agent_id.into(),
            },
            master_info: None,
            ping_interval_seconds: Some(ping_interval),
        }));
        register
    }

    /// The next status update (other messages are skipped).
    pub async fn update(&mut self) -> meseta_proto::cluster::StatusUpdate {
        loop {
            if let agent_message::Kind::StatusUpdate(update) = self.message().await {
                return update;
            }
        }
    }

    /// Acknowledges an update as the master would after the scheduler did.
    pub fn ack(&self, update: &meseta_proto::cluster::StatusUpdate) {
        self.send(master_message::Kind::Acknowledge(
            meseta_proto::cluster::Acknowledge {
                framework_id: update.framework_id.clone(),
                task_id: update.status.task_id.clone(),
                uuid: update
                    .status
                    .uuid
                    .clone()
                    .expect("reliable updates carry a UUID"),
            },
        ));
    }

    /// Receives the next update, checks its state, acknowledges it.
    pub async fn expect_update_any(
        &mut self,
        state: v1::TaskState,
    ) -> meseta_proto::cluster::StatusUpdate {
        let update = self.update().await;
        assert_eq!(update.status.state(), state, "unexpected update {update:?}");
        self.ack(&update);
        update
    }

    /// Receives the next update, checks its task and state, acknowledges it.
    pub async fn expect_update(
        &mut self,
        task: &str,
        state: v1::TaskState,
    ) -> meseta_proto::cluster::StatusUpdate {
        let update = self.update().await;
        assert_eq!(
            (update.status.task_id.value.as_str(), update.status.state()),
            (task, state),
            "unexpected update {update:?}"
        );
        self.ack(&update);
        update
    }
}

pub fn config(master: &FakeMaster, work_dir: PathBuf) -> AgentConfig {
    // These tests are about the agent's logic and read tasks' host PIDs,
    // so tasks run as plain processes here; isolation has its own tests
    // with real processes (server/tests/cluster/isolation). Were an agent
    // here isolated, its cgroup root would be its own: agents of tests
    // running side by side must not take each other's containers for
    // orphans.
    let cgroups_root = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        work_dir.hash(&mut hasher);
        format!("meseta-test/{:016x}", hasher.finish())
    };
    AgentConfig {
        master: master.addr.to_string(),
        ip: "127.0.0.1".parse().unwrap(),
        port: 0,
        hostname: Some("test-agent".into()),
        work_dir,
        resources: Some("cpus:2;mem:1024;disk:1000;ports:[31000-31010]".into()),
        attributes: Some("rack:r1".into()),
        status_update_retry_initial: Duration::from_secs(30),
        status_update_retry_max: Duration::from_secs(60),
        executor_shutdown_grace_period: Duration::from_secs(2),
        reconnect_backoff_max: Duration::from_millis(200),
        registration_backoff_factor: Duration::from_millis(100),
        executor_registration_timeout: Duration::from_secs(30),
        executor_reregistration_timeout: Duration::from_secs(2),
        recover: meseta_agent::RecoverMode::Reconnect,
        isolation: meseta_agent::containerizer::isolators::IsolationConfig {
            isolation: Some("posix/cpu,posix/mem".into()),
            cgroups_root,
            ..Default::default()
        },
        verbosity: None,
        log_file: None,
    }
}

/// An agent registered with `master` as `agent_id`.
pub async fn registered_agent(
    master: &mut FakeMaster,
    config: AgentConfig,
    agent_id: &str,
) -> Agent {
    let agent = Agent::start(config).await.unwrap();
    master.accept(agent_id).await;
    agent
}

pub fn framework(id: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: String::new(),
        name: format!("framework {id}"),
        id: Some(v1::FrameworkId { value: id.into() }),
        ..Default::default()
    }
}

pub fn command_task(id: &str, agent_id: &str, shell: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: format!("task {id}"),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: agent_id.into(),
        },
        resources: meseta_proto::resources::parse_resources("cpus:0.1;mem:32").unwrap(),
        command: Some(v1::CommandInfo {
            value: Some(shell.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn run_tasks(
    framework: v1::FrameworkInfo,
    executor: Option<v1::ExecutorInfo>,
    tasks: Vec<v1::TaskInfo>,
) -> master_message::Kind {
    master_message::Kind::RunTasks(meseta_proto::cluster::RunTasks {
        framework,
        executor,
        tasks,
        group: None,
    })
}

/// `<work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/latest`.
pub fn latest_run(
    work_dir: &std::path::Path,
    agent: &str,
    framework: &str,
    executor: &str,
) -> PathBuf {
    work_dir
        .join("slaves")
        .join(agent)
        .join("frameworks")
        .join(framework)
        .join("executors")
        .join(executor)
        .join("runs/latest")
}

/// Polls `check` until it holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A minimal HTTP client for the agent's endpoints.
pub async fn http(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, hyper::HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

pub async fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, _, body) = http("GET", addr, path, &[], Vec::new()).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// An agent with the test configuration, registered as `agent_id`.
pub async fn agent_for(
    master: &mut FakeMaster,
    work_dir: &std::path::Path,
    agent_id: &str,
) -> Agent {
    let cfg = config(master, work_dir.to_path_buf());
    registered_agent(master, cfg, agent_id).await
}

/// Waits until the agent has had every status update acknowledged (the
/// master's acknowledgements arrive asynchronously).
pub async fn settled(agent: &Agent) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let metrics = get_json(agent.http_address(), "/metrics/snapshot").await;
        if metrics["slave/status_updates_pending"] == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "updates stay pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
