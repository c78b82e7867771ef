//! Shared fixtures of the integration tests: a real cluster of `meseta`
//! processes, a scheduler that records every callback, waiting on events
//! with deadlines, and tiny HTTP helpers for poking endpoints.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use meseta::launcher::{Cluster, ClusterSpec};
use meseta_core::scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
use meseta_proto::v1;

/// Default deadline for anything a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A cluster with its temporary root; dropping it stops the processes.
pub struct TestCluster {
    pub cluster: Cluster,
    pub root: tempfile::TempDir,
}

impl TestCluster {
    pub fn master(&self) -> String {
        self.cluster.master_address().to_string()
    }

    /// Kills the master, starts it again on its work dir, and waits until
    /// it answers `path` (it leads again).
    pub fn restart_master_until_it_answers(&mut self, path: &str) {
        self.cluster.restart_master(0).expect("master restarts");
        let master = self.master();
        wait_until(DEADLINE, "the restarted master to answer", || {
            get_json(&master, path).is_ok()
        });
    }
}

/// Starts a master (fast allocation and health checks) and `agents` agents.
pub fn start_cluster(agents: usize, resources: &str, master_args: &[&str]) -> TestCluster {
    let root = tempfile::tempdir().expect("temp dir");
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_meseta"), root.path(), agents);
    spec.agent_resources = Some(resources.to_string());
    spec.master_args = ["--allocation-interval", "100ms"]
        .iter()
        .chain(master_args)
        .map(|s| s.to_string())
        .collect();
    spec.agent_args = vec!["--status-update-retry-interval".into(), "1secs".into()];
    let cluster = Cluster::start(spec).expect("cluster starts");
    let tc = TestCluster { cluster, root };
    wait_until(DEADLINE, "agents register", || {
        get_json(&tc.master(), "/metrics/snapshot")
            .ok()
            .and_then(|m| m["master/slaves_active"].as_f64())
            == Some(agents as f64)
    });
    tc
}

/// A cluster like `start_cluster`'s (one agent) with extra agent flags,
/// its agent registered and active.
pub fn cluster_with_agent_args(resources: &str, agent_args: &[&str]) -> TestCluster {
    let root = tempfile::tempdir().expect("temp dir");
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_meseta"), root.path(), 1);
    spec.agent_resources = Some(resources.to_string());
    spec.master_args = vec!["--allocation-interval".into(), "100ms".into()];
    spec.agent_args = ["--status-update-retry-interval", "1secs"]
        .iter()
        .chain(agent_args)
        .map(|s| s.to_string())
        .collect();
    let cluster = Cluster::start(spec).expect("cluster starts");
    let tc = TestCluster { cluster, root };
    wait_for_active_agent(&tc, None);
    tc
}

/// Waits until the master has one active agent (with this ID, if given).
pub fn wait_for_active_agent(tc: &TestCluster, id: Option<&str>) {
    wait_until(DEADLINE, "the agent to be active", || {
        let slaves = get_json(&tc.master(), "/master/slaves").unwrap_or_default();
        let agent = &slaves["slaves"][0];
        agent["active"] == true && id.is_none_or(|id| agent["id"] == id)
    });
}

/// Polls `condition` until it holds or the deadline passes (then panics).
pub fn wait_until(deadline: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out after {deadline:?} waiting for: {what}");
}

/// Every scheduler callback, as data.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Ev {
    Registered(String),
    Reregistered,
    Disconnected,
    Offers(Vec<v1::Offer>),
    Rescinded(String),
    Update(v1::TaskStatus),
    Message(String, String, Vec<u8>),
    AgentLost(String),
    ExecutorLost(String),
    Error(String),
}

struct Recorder(Sender<Ev>);

impl Scheduler for Recorder {
    fn registered(&mut self, _: &SchedulerDriver, id: &v1::FrameworkId, _: &v1::MasterInfo) {
        let _ = self.0.send(Ev::Registered(id.value.clone()));
    }
    fn reregistered(&mut self, _: &SchedulerDriver, _: &v1::MasterInfo) {
        let _ = self.0.send(Ev::Reregistered);
    }
    fn disconnected(&mut self, _: &SchedulerDriver) {
        let _ = self.0.send(Ev::Disconnected);
    }
    fn resource_offers(&mut self, _: &SchedulerDriver, offers: &[v1::Offer]) {
        let _ = self.0.send(Ev::Offers(offers.to_vec()));
    }
    fn offer_rescinded(&mut self, _: &SchedulerDriver, id: &v1::OfferId) {
        let _ = self.0.send(Ev::Rescinded(id.value.clone()));
    }
    fn status_update(&mut self, _: &SchedulerDriver, status: &v1::TaskStatus) {
        let _ = self.0.send(Ev::Update(status.clone()));
    }
    fn framework_message(
        &mut self,
        _: &SchedulerDriver,
        e: &v1::ExecutorId,
        a: &v1::AgentId,
        data: &[u8],
    ) {
        let _ = self
            .0
            .send(Ev::Message(e.value.clone(), a.value.clone(), data.to_vec()));
    }
    fn slave_lost(&mut self, _: &SchedulerDriver, agent: &v1::AgentId) {
        let _ = self.0.send(Ev::AgentLost(agent.value.clone()));
    }
    fn executor_lost(&mut self, _: &SchedulerDriver, e: &v1::ExecutorId, _: &v1::AgentId, _: i32) {
        let _ = self.0.send(Ev::ExecutorLost(e.value.clone()));
    }
    fn error(&mut self, _: &SchedulerDriver, message: &str) {
        let _ = self.0.send(Ev::Error(message.to_string()));
    }
}

/// A framework under test: its driver and the stream of its callbacks.
pub struct TestFramework {
    pub driver: SchedulerDriver,
    pub events: Receiver<Ev>,
    pub id: String,
    /// Events received but not yet asked for, oldest first.
    backlog: std::collections::VecDeque<Ev>,
}

pub fn framework_info(name: &str, partition_aware: bool) -> v1::FrameworkInfo {
    let mut capabilities = vec![v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
    }];
    if partition_aware {
        capabilities.push(v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
        });
    }
    v1::FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        roles: vec!["*".into()],
        capabilities,
        ..Default::default()
    }
}

impl TestFramework {
    /// Subscribes and waits for `registered`.
    pub fn start(master: &str, info: v1::FrameworkInfo) -> Self {
        let (tx, events) = channel();
        let driver = SchedulerDriver::new(Recorder(tx), SchedulerConfig::new(master, info));
        driver.start();
        let mut fw = TestFramework {
            driver,
            events,
            id: String::new(),
            backlog: Default::default(),
        };
        let id = fw.expect("registered", |e| match e {
            Ev::Registered(id) => Some(id.clone()),
            _ => None,
        });
        fw.id = id;
        fw
    }

    /// Waits for the first event `pick` accepts; events it passes over stay
    /// queued for later calls, so concurrent tasks' updates are not lost.
    pub fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(&Ev) -> Option<T>) -> T {
        if let Some((index, value)) = self
            .backlog
            .iter()
            .enumerate()
            .find_map(|(i, e)| pick(e).map(|v| (i, v)))
        {
            self.backlog.remove(index);
            return value;
        }
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => match pick(&event) {
                    Some(value) => return value,
                    None => self.backlog.push_back(event),
                },
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "timed out after {DEADLINE:?} waiting for {what}; other events: {:?}",
                        self.backlog
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("driver stopped while waiting for {what}")
                }
            }
        }
    }

    /// The next event (queued ones first), if one arrives within `timeout`.
    pub fn next_event(&mut self, timeout: Duration) -> Option<Ev> {
        self.backlog
            .pop_front()
            .or_else(|| self.events.recv_timeout(timeout).ok())
    }

    /// Offers that arrive within `timeout`, if any (other events stay queued).
    pub fn try_offers(&mut self, timeout: Duration) -> Option<Vec<v1::Offer>> {
        let pick = |e: &Ev| match e {
            Ev::Offers(o) => Some(o.clone()),
            _ => None,
        };
        if let Some(index) = self.backlog.iter().position(|e| pick(e).is_some()) {
            return self.backlog.remove(index).and_then(|e| pick(&e));
        }
        let end = Instant::now() + timeout;
        while let Ok(event) = self
            .events
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            match pick(&event) {
                Some(offers) => return Some(offers),
                None => self.backlog.push_back(event),
            }
        }
        None
    }

    /// The next batch of offers.
    pub fn offers(&mut self) -> Vec<v1::Offer> {
        self.expect("offers", |e| match e {
            Ev::Offers(o) => Some(o.clone()),
            _ => None,
        })
    }

    /// The next status update of `task_id` in `state`, skipping others.
    pub fn state(&mut self, task_id: &str, state: v1::TaskState) -> v1::TaskStatus {
        let what = format!("{task_id} in {}", state.as_str_name());
        self.expect(&what, |e| match e {
            Ev::Update(s) if s.task_id.value == task_id && s.state == state as i32 => {
                Some(s.clone())
            }
            _ => None,
        })
    }

    /// The next terminal status of `task_id`.
    pub fn terminal(&mut self, task_id: &str) -> v1::TaskStatus {
        self.expect(&format!("{task_id} terminal"), |e| match e {
            Ev::Update(s)
                if s.task_id.value == task_id
                    && meseta_core::scheduler::is_terminal(
                        v1::TaskState::try_from(s.state).unwrap_or(v1::TaskState::TaskLost),
                    ) =>
            {
                Some(s.clone())
            }
            _ => None,
        })
    }
}

impl Drop for TestFramework {
    fn drop(&mut self) {
        self.driver.stop(false);
    }
}

/// A command task using `resources` of `offer`'s agent.
pub fn command_task(id: &str, offer: &v1::Offer, command: &str, resources: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: offer.agent_id.clone(),
        resources: meseta_proto::resources::parse_resources(resources).expect("resources"),
        command: Some(v1::CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A plain HTTP/1.1 request; returns the status code and the body.
/// Panics if the server cannot be reached (see [`try_request`]).
pub fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    try_request(address, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} http://{address}{path}: {e}"))
}

/// [`request`], with an error where the server cannot be reached or
/// answers something that is not HTTP (a master still starting).
pub fn try_request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let mut stream = TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(DEADLINE))
        .map_err(|e| e.to_string())?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP head in the answer")?;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status code in the answer")?;
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

/// GET returning parsed JSON.
pub fn get_json(address: &str, path: &str) -> Result<serde_json::Value, String> {
    let (status, body) = try_request(address, "GET", path, &[], b"")?;
    if status != 200 {
        return Err(format!(
            "GET {path}: {status} {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

/// Path of a binary built next to `meseta` (e.g. the example executor).
pub fn sibling_binary(name: &str) -> PathBuf {
    let meseta = PathBuf::from(env!("CARGO_BIN_EXE_meseta"));
    let path = meseta.with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries first (`cargo build --workspace --bins`, which `make test` does)",
        path.display()
    );
    path
}

/// Index of the elected master among `addresses`, once exactly one leads
/// (`master/elected` is 1 on it and 0 on the others).
pub fn elected(addresses: &[String]) -> Option<usize> {
    let flags: Vec<bool> = addresses
        .iter()
        .map(|a| {
            get_json(a, "/metrics/snapshot")
                .ok()
                .and_then(|m| m["master/elected"].as_f64())
                == Some(1.0)
        })
        .collect();
    (flags.iter().filter(|f| **f).count() == 1)
        .then(|| flags.iter().position(|f| *f))
        .flatten()
}

/// Fails loudly where ZooKeeper cannot run (`make test` installs it).
pub fn need_zookeeper() {
    if let Some(reason) = meseta::zookeeper::ZooKeeper::unavailable() {
        panic!("ZooKeeper is needed for this test and cannot run here: {reason} (`make test` installs it)");
    }
}

/// A JSON call to the operator API (`POST /api/v1` of a master or an
/// agent); the status and the JSON answer (`Null` when empty).
pub fn call_json(address: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let json = "application/json";
    let headers = [("Content-Type", json), ("Accept", json)];
    let (status, body) = request(
        address,
        "POST",
        "/api/v1",
        &headers,
        body.to_string().as_bytes(),
    );
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    (
        status,
        if body.is_empty() {
            serde_json::Value::Null
        } else {
            value
        },
    )
}
