//! Several masters elected through a real ZooKeeper server.

use meseta::launcher::{Cluster, ClusterSpec};
use meseta::zookeeper::ZooKeeper;
use meseta_proto::v1::{self, TaskState};

use crate::common::*;

#[test]
fn leader_failover_keeps_agents_frameworks_and_tasks() {
    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let zk = zookeeper.url("/meseta");
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_meseta"), root.path(), 1);
    spec.masters = 2;
    spec.zk = Some(zk.clone());
    spec.agent_resources = Some("cpus:2;mem:512".into());
    spec.master_args = [
        "--allocation-interval",
        "100ms",
        "--agent-ping-timeout",
        "500ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut cluster = Cluster::start(spec).expect("cluster starts");
    let addresses: Vec<String> = cluster.masters_mut().map(|m| m.address.clone()).collect();

    let mut leader = None;
    wait_until(DEADLINE, "one elected master", || {
        leader = elected(&addresses);
        leader.is_some()
    });
    let leader = leader.unwrap_or_default();
    let follower = 1 - leader;
    wait_until(DEADLINE, "the follower redirects to the leader", || {
        request(&addresses[follower], "GET", "/master/redirect", &[], b"").0 == 307
    });
    wait_until(DEADLINE, "the agent registers with the leader", || {
        get_json(&addresses[leader], "/metrics/snapshot")
            .ok()
            .and_then(|m| m["master/slaves_active"].as_f64())
            == Some(1.0)
    });

    // An operator sets a weight and a quota; they are in the ZooKeeper
    // registry.
    let weight = br#"[{"role":"eng","weight":2.5}]"#;
    assert_eq!(
        request(&addresses[leader], "PUT", "/weights", &[], weight).0,
        200
    );
    let quota =
        br#"{"role":"eng","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}}]}"#;
    assert_eq!(
        request(&addresses[leader], "POST", "/quota", &[], quota).0,
        200
    );

    // A framework that knows only the ZooKeeper URL.
    let mut info = framework_info("ha", false);
    info.failover_timeout = Some(3600.0);
    let mut fw = TestFramework::start(&zk, info);
    let offer = fw.offers().remove(0);
    let task = command_task("steady", &offer, "sleep 600", "cpus:0.5;mem:32");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("steady", TaskState::TaskRunning);

    // The leader dies; the other master takes over, the agent re-registers
    // with its running task and the framework re-subscribes.
    cluster
        .masters_mut()
        .nth(leader)
        .expect("leader process")
        .kill();
    let survivor = vec![addresses[follower].clone()];
    wait_until(DEADLINE, "the follower is elected", || {
        elected(&survivor) == Some(0)
    });
    fw.expect("re-registration with the new leader", |e| match e {
        Ev::Reregistered => Some(()),
        _ => None,
    });
    wait_until(DEADLINE, "the agent re-registers with its task", || {
        get_json(&addresses[follower], "/metrics/snapshot")
            .ok()
            .is_some_and(|m| m["master/slaves_active"] == 1.0 && m["master/tasks_running"] == 1.0)
    });
    assert_eq!(
        get_json(&addresses[follower], "/weights").expect("GET /weights"),
        serde_json::json!([{"role": "eng", "weight": 2.5}]),
        "the new leader applies the weight set through the old one"
    );
    let quotas = get_json(&addresses[follower], "/quota").expect("GET /quota");
    assert_eq!(
        quotas["configs"][0]["guarantees"]["cpus"]["value"].as_f64(),
        Some(0.5),
        "and the quota: {quotas}"
    );
    let steady = v1::TaskStatus {
        task_id: v1::TaskId {
            value: "steady".into(),
        },
        state: TaskState::TaskRunning as i32,
        ..Default::default()
    };
    fw.driver.reconcile_tasks(std::slice::from_ref(&steady));
    fw.state("steady", TaskState::TaskRunning);
    fw.driver.kill_task(&steady.task_id);
    let killed = fw.terminal("steady");
    assert_eq!(killed.state, TaskState::TaskKilled as i32, "{killed:?}");
}
