//! Killing the leading master again and again while a framework launches
//! tasks, and cutting the leader off from ZooKeeper.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use meseta::launcher::{Cluster, ClusterSpec};
use meseta::zookeeper::ZooKeeper;
use meseta_proto::v1::{self, TaskState};

use crate::common::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn wait_for_leader(cluster: &mut Cluster) -> usize {
    let addresses: Vec<String> = cluster.masters_mut().map(|m| m.address.clone()).collect();
    let mut leader = None;
    wait_until(DEADLINE, "one elected master", || {
        leader = elected(&addresses);
        leader.is_some()
    });
    leader.unwrap_or_default()
}

/// What the framework has been told about each task.
#[derive(Default)]
struct Ledger {
    launched: BTreeSet<String>,
    agents: BTreeMap<String, v1::AgentId>,
    terminal: BTreeMap<String, v1::TaskStatus>,
}

impl Ledger {
    fn record(&mut self, status: &v1::TaskStatus) {
        let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskLost);
        if !state.is_terminal() {
            return;
        }
        let id = status.task_id.value.clone();
        if let Some(first) = self.terminal.get(&id) {
            assert_eq!(
                first.state, status.state,
                "task {id} was reported {first:?} and later {status:?}"
            );
            return;
        }
        self.terminal.insert(id, status.clone());
    }

    fn pending(&self) -> Vec<String> {
        self.launched
            .iter()
            .filter(|id| !self.terminal.contains_key(*id))
            .cloned()
            .collect()
    }
}

/// Launches `count` tasks that leave a marker file in `markers` when they run.
fn launch_batch(
    fw: &mut TestFramework,
    ledger: &mut Ledger,
    next: &mut usize,
    count: usize,
    markers: &Path,
) {
    let mut left = count;
    while left > 0 {
        for offer in fw.offers() {
            let mut tasks = Vec::new();
            while left > 0 && tasks.len() < 4 {
                let id = format!("t{next:03}");
                *next += 1;
                left -= 1;
                let command = format!("touch {}/{id} && sleep 1", markers.display());
                tasks.push(command_task(&id, &offer, &command, "cpus:0.1;mem:16"));
                ledger.agents.insert(id.clone(), offer.agent_id.clone());
                ledger.launched.insert(id);
            }
            fw.driver
                .launch_tasks(std::slice::from_ref(&offer.id), tasks, None);
        }
    }
}

/// Handles events until every launched task is terminal, reconciling the
/// ones without an answer every couple of seconds (naming their agent, so a
/// task whose launch died with the leader is reported TASK_GONE).
fn settle(fw: &mut TestFramework, ledger: &mut Ledger, deadline: Duration) {
    let end = Instant::now() + deadline;
    let mut last_reconcile = Instant::now();
    while !ledger.pending().is_empty() {
        assert!(
            Instant::now() < end,
            "tasks without a terminal state after {deadline:?}: {:?}",
            ledger.pending()
        );
        match fw.next_event(Duration::from_millis(200)) {
            Some(Ev::Update(status)) => ledger.record(&status),
            Some(Ev::Offers(offers)) => {
                let ids: Vec<v1::OfferId> = offers.into_iter().map(|o| o.id).collect();
                for id in ids {
                    fw.driver.decline_offer(&id, None);
                }
            }
            _ => {}
        }
        if last_reconcile.elapsed() > Duration::from_secs(2) {
            last_reconcile = Instant::now();
            let statuses: Vec<v1::TaskStatus> = ledger
                .pending()
                .into_iter()
                .map(|id| v1::TaskStatus {
                    agent_id: ledger.agents.get(&id).cloned(),
                    task_id: v1::TaskId { value: id },
                    state: TaskState::TaskStaging as i32,
                    ..Default::default()
                })
                .collect();
            fw.driver.reconcile_tasks(&statuses);
        }
    }
}

#[test]
fn repeated_leader_kills_during_a_stream_of_launches_lose_nothing() {
    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let zk = zookeeper.url("/meseta");
    let markers = root.path().join("ran");
    std::fs::create_dir_all(&markers).expect("markers dir");
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_meseta"), root.path(), 2);
    spec.masters = 3;
    spec.zk = Some(zk.clone());
    spec.agent_resources = Some("cpus:2;mem:512".into());
    spec.master_args = args(&[
        "--allocation-interval",
        "100ms",
        "--agent-ping-timeout",
        "500ms",
        "--zk-session-timeout",
        "2secs",
        "--agent-reregister-timeout",
        "10secs",
    ]);
    spec.agent_args = args(&["--status-update-retry-interval", "1secs"]);
    let mut cluster = Cluster::start(spec).expect("cluster starts");
    wait_for_leader(&mut cluster);

    let mut info = framework_info("rounds", true);
    info.failover_timeout = Some(3600.0);
    let mut fw = TestFramework::start(&zk, info);
    let mut ledger = Ledger::default();
    let mut next = 0;
    let rounds = 3;
    for round in 0..rounds {
        // Launches are on their way when the leader dies.
        launch_batch(&mut fw, &mut ledger, &mut next, 4, &markers);
        let leader = wait_for_leader(&mut cluster);
        cluster
            .masters_mut()
            .nth(leader)
            .expect("leader process")
            .kill();
        fw.expect(
            &format!("re-registration after kill {round}"),
            |e| match e {
                Ev::Reregistered => Some(()),
                Ev::Update(_) => None,
                _ => None,
            },
        );
        // The dead master comes back as a follower.
        cluster.restart_master(leader).expect("master restarts");
        launch_batch(&mut fw, &mut ledger, &mut next, 4, &markers);
        settle(&mut fw, &mut ledger, Duration::from_secs(60));
    }

    // Every task was reported exactly as it went: finished if and only if
    // it ran, and never reported twice differently.
    assert_eq!(ledger.launched.len(), rounds * 8);
    for (id, status) in &ledger.terminal {
        let ran = markers.join(id).exists();
        let finished = status.state == TaskState::TaskFinished as i32;
        assert_eq!(
            ran, finished,
            "task {id}: ran={ran} but was reported {status:?}"
        );
    }
    let finished = ledger
        .terminal
        .values()
        .filter(|s| s.state == TaskState::TaskFinished as i32)
        .count();
    assert!(
        finished >= rounds * 4,
        "at least every task launched through a settled leader finishes; {finished} did"
    );
}

#[test]
fn a_new_leader_marks_agents_that_stay_away_unreachable() {
    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let zk = zookeeper.url("/meseta");
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_meseta"), root.path(), 2);
    spec.masters = 2;
    spec.zk = Some(zk.clone());
    spec.agent_resources = Some("cpus:1;mem:256".into());
    spec.master_args = args(&[
        "--allocation-interval",
        "100ms",
        "--zk-session-timeout",
        "2secs",
        "--agent-reregister-timeout",
        "4secs",
    ]);
    let mut cluster = Cluster::start(spec).expect("cluster starts");
    let addresses: Vec<String> = cluster.masters_mut().map(|m| m.address.clone()).collect();
    let leader = wait_for_leader(&mut cluster);
    wait_until(DEADLINE, "both agents register", || {
        get_json(&addresses[leader], "/metrics/snapshot")
            .ok()
            .and_then(|m| m["master/slaves_active"].as_f64())
            == Some(2.0)
    });
    // ... and know their IDs: an agent that never got its `Registered`
    // would rightly register anew with the next leader.
    let agent_addresses: Vec<String> = cluster.agents.iter().map(|a| a.address.clone()).collect();
    wait_until(DEADLINE, "both agents know their IDs", || {
        agent_addresses.iter().all(|address| {
            get_json(address, "/state")
                .is_ok_and(|s| s["id"].as_str().is_some_and(|id| !id.is_empty()))
        })
    });

    // One agent and the leader die together; the new leader learns about
    // the agent from the registry in ZooKeeper only.
    cluster.kill_agent(1);
    cluster
        .masters_mut()
        .nth(leader)
        .expect("leader process")
        .kill();
    let survivor = &addresses[1 - leader];
    wait_until(DEADLINE, "the other master leads", || {
        elected(std::slice::from_ref(survivor)) == Some(0)
    });
    wait_until(DEADLINE, "one agent back, one awaited", || {
        get_json(survivor, "/master/state").is_ok_and(|s| {
            s["slaves"].as_array().map(Vec::len) == Some(1)
                && s["recovered_slaves"].as_array().map(Vec::len) == Some(1)
        })
    });
    wait_until(DEADLINE, "the missing agent becomes unreachable", || {
        get_json(survivor, "/metrics/snapshot").is_ok_and(|m| {
            m["master/slaves_unreachable"] == 1.0 && m["master/slaves_active"] == 1.0
        })
    });
}

#[test]
fn a_leader_cut_off_from_zookeeper_steps_down() {
    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let zk = zookeeper.url("/meseta");
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_meseta"), root.path(), 0);
    spec.masters = 2;
    spec.zk = Some(zk);
    spec.master_args = args(&["--zk-session-timeout", "2secs"]);
    let mut cluster = Cluster::start(spec).expect("cluster starts");
    let leader = wait_for_leader(&mut cluster);

    drop(zookeeper);
    let process = cluster.masters_mut().nth(leader).expect("leader process");
    wait_until(DEADLINE, "the leader exits", || process.exited());
    let log = std::fs::read_to_string(&process.log).unwrap_or_default();
    assert!(
        log.contains("stepping down"),
        "the leader says why it left; log:\n{log}"
    );
}
