//! The master's registry across restarts: a lone master keeps it in its work
//! dir, so after a crash it knows its agents and frameworks again.

use meseta_proto::v1::{self, TaskState};

use crate::common::*;

fn metric(master: &str, key: &str) -> Option<f64> {
    get_json(master, "/metrics/snapshot")
        .ok()
        .and_then(|m| m[key].as_f64())
}

#[test]
fn a_restarted_master_recovers_agents_and_frameworks_from_its_registry() {
    let mut tc = start_cluster(
        2,
        "cpus:1;mem:256",
        &["--agent-reregister-timeout", "3secs"],
    );
    let master = tc.master();
    let mut info = framework_info("registry", false);
    info.failover_timeout = Some(3600.0);
    let mut fw = TestFramework::start(&master, info);
    let framework_id = fw.id.clone();
    let offer = fw.offers().remove(0);
    let task = command_task("steady", &offer, "sleep 600", "cpus:0.5;mem:32");
    let steady_agent = offer.agent_id.value.clone();
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("steady", TaskState::TaskRunning);
    let state = get_json(&master, "/master/state").expect("state");
    let other_agent = state["slaves"]
        .as_array()
        .expect("slaves")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .find(|id| *id != steady_agent)
        .expect("a second agent")
        .to_string();
    let other_index = tc
        .cluster
        .agents
        .iter()
        .position(|a| {
            get_json(&a.address, "/state").is_ok_and(|s| s["id"].as_str() == Some(&other_agent))
        })
        .expect("the idle agent's process");

    // The idle agent dies, and right after it the master: the registry
    // still lists the agent as admitted.
    tc.cluster.kill_agent(other_index);
    tc.cluster.restart_master(0).expect("master restarts");

    // The framework re-subscribes on its own and keeps its task; the
    // surviving agent re-registers with it.
    fw.expect("re-registration with the restarted master", |e| match e {
        Ev::Reregistered => Some(()),
        _ => None,
    });
    assert_eq!(fw.id, framework_id);
    wait_until(DEADLINE, "the running agent re-registers", || {
        metric(&master, "master/slaves_active") == Some(1.0)
            && metric(&master, "master/tasks_running") == Some(1.0)
    });
    let steady = v1::TaskStatus {
        task_id: v1::TaskId {
            value: "steady".into(),
        },
        state: TaskState::TaskRunning as i32,
        ..Default::default()
    };
    fw.driver.reconcile_tasks(std::slice::from_ref(&steady));
    fw.state("steady", TaskState::TaskRunning);

    // The dead agent is waited for, then marked unreachable...
    let recovered = get_json(&master, "/master/slaves").expect("slaves")["recovered_slaves"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or_default();
    let unreachable = metric(&master, "master/slaves_unreachable").unwrap_or_default();
    assert_eq!(
        recovered + unreachable as usize,
        1,
        "the dead agent is either still awaited or already unreachable"
    );
    wait_until(DEADLINE, "the dead agent is marked unreachable", || {
        metric(&master, "master/slaves_unreachable") == Some(1.0)
    });
    fw.expect("the dead agent reported lost", |e| match e {
        Ev::AgentLost(id) if *id == other_agent => Some(()),
        _ => None,
    });

    // ... and that, too, survives the next restart.
    tc.cluster.restart_master(0).expect("master restarts again");
    wait_until(DEADLINE, "the master is back with its registry", || {
        metric(&master, "master/slaves_unreachable") == Some(1.0)
            && metric(&master, "master/slaves_active") == Some(1.0)
    });
    fw.expect("re-registration after the second restart", |e| match e {
        Ev::Reregistered => Some(()),
        _ => None,
    });
    fw.driver.kill_task(&steady.task_id);
    let killed = fw.terminal("steady");
    assert_eq!(killed.state, TaskState::TaskKilled as i32, "{killed:?}");
}

#[test]
fn two_masters_cannot_share_a_work_dir() {
    let tc = start_cluster(0, "cpus:1;mem:128", &[]);
    let work_dir = tc.cluster.master.work_dir.clone();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_meseta"))
        .args(["master", "--ip", "127.0.0.1", "--port", "0", "--work-dir"])
        .arg(&work_dir)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("locked by another master"),
        "clear error expected, got: {stderr}"
    );
}

#[test]
fn the_zookeeper_registry_fences_a_deposed_leader() {
    use meseta::zookeeper::ZooKeeper;
    use meseta_master::registry::{ops, zookeeper::ZooKeeperStore, RegistryError};

    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let url = meseta_core::zookeeper::ZkUrl::parse(&zookeeper.url("/fenced")).expect("url");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let timeout = std::time::Duration::from_secs(5);
        let agent = |id: &str| v1::AgentInfo {
            hostname: id.into(),
            id: Some(v1::AgentId { value: id.into() }),
            ..Default::default()
        };
        // The old leader reads the registry, then a new leader reads it too
        // and writes.
        let mut old = ZooKeeperStore::connect(&url, timeout)
            .await
            .expect("connect");
        old.recover().await.expect("recover");
        old.apply(&[ops::admit_agent(&agent("a"))])
            .await
            .expect("write");
        let mut new = ZooKeeperStore::connect(&url, timeout)
            .await
            .expect("connect");
        let seen = new.recover().await.expect("recover");
        assert!(
            seen.agents.contains_key("a"),
            "the new leader sees what was written"
        );
        new.apply(&[ops::admit_agent(&agent("b"))])
            .await
            .expect("write");

        // The old leader's next write is refused and changes nothing.
        match old.apply(&[ops::mark_gone("b", timeout)]).await {
            Err(RegistryError::Fenced(_)) => {}
            other => panic!("expected the deposed leader to be fenced, got {other:?}"),
        }
        let mut reader = ZooKeeperStore::connect(&url, timeout)
            .await
            .expect("connect");
        let state = reader.recover().await.expect("recover");
        assert!(state.agents.contains_key("b") && state.gone.is_empty());
    });
}

#[test]
fn a_following_master_keeps_the_registry_read_but_never_a_stale_copy() {
    use meseta::zookeeper::ZooKeeper;
    use meseta_master::registry::{ops, zookeeper::ZooKeeperStore, RegistryError};

    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let url = meseta_core::zookeeper::ZkUrl::parse(&zookeeper.url("/standby")).expect("url");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let timeout = std::time::Duration::from_secs(5);
        let connect = || ZooKeeperStore::connect(&url, timeout);
        let mut leader = connect().await.expect("connect");
        leader.recover().await.expect("recover");
        leader
            .apply(&[ops::admit_agent(&registry_agent(1))])
            .await
            .expect("write");

        // A follower's copy is taken, then the leader writes again: elected,
        // the follower reads the registry anew.
        let mut follower = connect().await.expect("connect");
        follower.stand_by().await.expect("stand by");
        leader
            .apply(&[ops::admit_agent(&registry_agent(2))])
            .await
            .expect("write");
        let seen = follower.recover().await.expect("recover");
        assert_eq!(seen.agents.len(), 2, "the write after the copy is seen");

        // A copy of the latest registry is used as it is: a bucket spoiled
        // behind the registry's back (no write of the root node) is not
        // even read by the follower, while a fresh reader trips on it.
        let mut follower = connect().await.expect("connect");
        follower.stand_by().await.expect("stand by");
        let client = meseta_core::zookeeper::connect_with_timeout(&url.servers, timeout)
            .await
            .expect("connect");
        client
            .set_data(
                &format!("{}/registry/b-0000", url.path),
                b"not a registry",
                None,
            )
            .await
            .expect("spoil a bucket");
        let seen = follower.recover().await.expect("recover from the copy");
        assert_eq!(seen.agents.len(), 2);
        match connect().await.expect("connect").recover().await {
            Err(RegistryError::Corrupt { .. }) => {}
            other => panic!("a fresh read should find the spoiled bucket, got {other:?}"),
        }
    });
}

/// A realistic agent: hostname, ID and resources.
fn registry_agent(i: usize) -> v1::AgentInfo {
    v1::AgentInfo {
        hostname: format!("agent-{i}.rack-{}.example.com", i % 100),
        id: Some(v1::AgentId {
            value: format!("5a0d3c1e-9f2b-4c7a-8e61-{i:012}-S0"),
        }),
        resources: meseta_proto::resources::parse_resources("cpus:32;mem:131072;disk:1048576")
            .expect("resources"),
        port: Some(5051),
        ..Default::default()
    }
}

#[test]
fn the_zookeeper_registry_holds_a_hundred_thousand_agents() {
    use meseta::zookeeper::ZooKeeper;
    use meseta_master::registry::{ops, zookeeper::ZooKeeperStore};

    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let url = meseta_core::zookeeper::ZkUrl::parse(&zookeeper.url("/big")).expect("url");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let timeout = std::time::Duration::from_secs(10);
        let mut leader = ZooKeeperStore::connect(&url, timeout)
            .await
            .expect("connect");
        leader.recover().await.expect("recover");
        const AGENTS: usize = 100_000;
        for batch in (0..AGENTS).collect::<Vec<_>>().chunks(25_000) {
            let admitted: Vec<_> = batch
                .iter()
                .map(|i| ops::admit_agent(&registry_agent(*i)))
                .collect();
            leader.apply(&admitted).await.expect("a batch is written");
        }
        // One more agent changes one bucket only.
        leader
            .apply(&[ops::mark_gone(
                "5a0d3c1e-9f2b-4c7a-8e61-000000000007-S0",
                timeout,
            )])
            .await
            .expect("a small write");

        let mut successor = ZooKeeperStore::connect(&url, timeout)
            .await
            .expect("connect");
        let state = successor.recover().await.expect("recover");
        assert_eq!(state.agents.len(), AGENTS - 1);
        assert_eq!(state.gone.len(), 1);
        let some = registry_agent(4242);
        let id = some.id.clone().expect("id").value;
        assert_eq!(state.agents.get(&id), Some(&some));
    });
}

#[test]
fn a_single_node_registry_is_read_and_rewritten_in_buckets() {
    use meseta::zookeeper::ZooKeeper;
    use meseta_master::registry::{ops, zookeeper::ZooKeeperStore, RegistryState};
    use prost::Message;

    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let url = meseta_core::zookeeper::ZkUrl::parse(&zookeeper.url("/old")).expect("url");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let timeout = std::time::Duration::from_secs(10);
        // As the earlier layout wrote it: one node holding a whole Registry.
        let mut old = RegistryState::default();
        old.apply(&ops::admit_agent(&registry_agent(1)));
        old.apply(&ops::admit_agent(&registry_agent(2)));
        let client = meseta_core::zookeeper::connect_with_timeout(&url.servers, timeout)
            .await
            .expect("connect");
        meseta_core::zookeeper::ensure_path(&client, &url.path)
            .await
            .expect("the group");
        let options = zookeeper_client::CreateMode::Persistent
            .with_acls(zookeeper_client::Acls::anyone_all());
        client
            .create(
                &format!("{}/registry", url.path),
                &old.to_proto().encode_to_vec(),
                &options,
            )
            .await
            .expect("the old registry");

        let mut store = ZooKeeperStore::connect(&url, timeout)
            .await
            .expect("connect");
        assert_eq!(store.recover().await.expect("recover"), old);
        store
            .apply(&[ops::admit_agent(&registry_agent(3))])
            .await
            .expect("write");
        let mut reader = ZooKeeperStore::connect(&url, timeout)
            .await
            .expect("connect");
        let state = reader.recover().await.expect("recover");
        assert_eq!(state.agents.len(), 3);
        let (children, _) = client
            .get_children(&format!("{}/registry", url.path))
            .await
            .expect("buckets");
        assert_eq!(
            children.len() as u32,
            meseta_master::registry::zookeeper::BUCKETS
        );
    });
}

/// A TCP proxy between a master and ZooKeeper that can cut the
/// connection in the middle of the next request: before it reaches
/// ZooKeeper, or after it did but before its answer comes back, or hold
/// the answer back longer than the client waits (a network blip or a
/// stalled server; the client reconnects through the proxy within its
/// session).
struct Blipper {
    address: String,
    /// 0: pass everything; 1: cut on the next request; 2: cut on the next
    /// answer; 3: hold the next answer back for [`STALL`], then cut; 4: as
    /// 3 once a big request (a transaction of many nodes) has gone by.
    armed: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

/// Longer than a client with a 2 s session waits for an answer (0.8 s).
const STALL: std::time::Duration = std::time::Duration::from_millis(1500);

/// A read of this many bytes at once is part of a big request.
const BIG: usize = 16 * 1024;

impl Blipper {
    async fn start(target: String) -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let armed = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(0));
        let trigger = std::sync::Arc::clone(&armed);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let (mut client_read, mut client_write) = inbound.into_split();
                let (mut server_read, mut server_write) = outbound.into_split();
                let (up, down) = (
                    std::sync::Arc::clone(&trigger),
                    std::sync::Arc::clone(&trigger),
                );
                let (cut_tx, mut cut_rx) = tokio::sync::watch::channel(false);
                let cut_up = cut_tx.clone();
                let mut cut_seen = cut_tx.subscribe();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        tokio::select! {
                            read = client_read.read(&mut buffer) => {
                                let n = match read { Ok(n) if n > 0 => n, _ => break };
                                if up.compare_exchange(1, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                                    break;
                                }
                                if n >= BIG {
                                    let _ = up.compare_exchange(4, 3, Ordering::SeqCst, Ordering::SeqCst);
                                }
                                if server_write.write_all(&buffer[..n]).await.is_err() {
                                    break;
                                }
                            }
                            _ = cut_seen.changed() => break,
                        }
                    }
                    let _ = cut_up.send(true);
                });
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        tokio::select! {
                            read = server_read.read(&mut buffer) => {
                                let n = match read { Ok(n) if n > 0 => n, _ => break };
                                if down.compare_exchange(2, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                                    break;
                                }
                                if down.compare_exchange(3, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                                    tokio::time::sleep(STALL).await;
                                    break;
                                }
                                if client_write.write_all(&buffer[..n]).await.is_err() {
                                    break;
                                }
                            }
                            _ = cut_rx.changed() => break,
                        }
                    }
                    let _ = cut_tx.send(true);
                });
            }
        });
        Self { address, armed }
    }

    fn arm(&self, mode: u8) {
        self.armed.store(mode, std::sync::atomic::Ordering::SeqCst);
    }

    fn fired(&self) -> bool {
        self.armed.load(std::sync::atomic::Ordering::SeqCst) == 0
    }
}

#[test]
fn registry_writes_and_reads_go_through_a_connection_blip() {
    use meseta::zookeeper::ZooKeeper;
    use meseta_master::registry::{ops, zookeeper::ZooKeeperStore};

    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let direct = meseta_core::zookeeper::ZkUrl::parse(&zookeeper.url("/blip")).expect("url");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let proxy = Blipper::start(direct.servers.clone()).await;
        let through = meseta_core::zookeeper::ZkUrl::parse(&format!("zk://{}/blip", proxy.address))
            .expect("url");
        // The first master of a cluster creates the registry: its big
        // transaction's answer held back longer than the client waits.
        let fresh = meseta_core::zookeeper::ZkUrl::parse(&format!("zk://{}/fresh", proxy.address))
            .expect("url");
        let short = std::time::Duration::from_secs(2);
        let mut first = ZooKeeperStore::connect(&fresh, short)
            .await
            .expect("connect");
        proxy.arm(4);
        let created = first
            .recover()
            .await
            .unwrap_or_else(|e| panic!("creating the registry survives the blip: {e}"));
        assert!(
            proxy.fired(),
            "the blip happened while creating the registry"
        );
        assert!(created.agents.is_empty());
        let timeout = std::time::Duration::from_secs(10);
        let mut leader = ZooKeeperStore::connect(&through, timeout)
            .await
            .expect("connect");
        leader.recover().await.expect("recover");
        // Lost on its way to ZooKeeper, then lost on its way back.
        for (round, mode) in [1u8, 2, 1, 2].into_iter().enumerate() {
            proxy.arm(mode);
            let agents: Vec<_> = (round * 1000..round * 1000 + 1000)
                .map(|i| ops::admit_agent(&registry_agent(i)))
                .collect();
            leader
                .apply(&agents)
                .await
                .unwrap_or_else(|e| panic!("round {round}: the write survives the blip: {e}"));
            assert!(proxy.fired(), "round {round}: the blip happened");
        }
        let mut reader = ZooKeeperStore::connect(&direct, timeout)
            .await
            .expect("connect");
        assert_eq!(reader.recover().await.expect("recover").agents.len(), 4000);
        // A newly elected master's read goes through the same: a lost
        // request, a lost answer, a server that stops answering for longer
        // than the client waits (which once made a new leader give up).
        for (round, mode) in [1u8, 2, 3].into_iter().enumerate() {
            let mut elected = ZooKeeperStore::connect(&through, short)
                .await
                .expect("connect");
            proxy.arm(mode);
            let state = elected
                .recover()
                .await
                .unwrap_or_else(|e| panic!("read round {round}: the read survives the blip: {e}"));
            assert!(proxy.fired(), "read round {round}: the blip happened");
            assert_eq!(state.agents.len(), 4000, "read round {round}");
        }
    });
}
