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
