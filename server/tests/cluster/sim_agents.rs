//! `sim-agents` (the load tool in `meseta-bench`) against a real master:
//! hundreds of agents over a few shared HTTP/2 connections register, run
//! what they are given, and come back with their tasks when the master
//! restarts, as real agents do.

use std::process::{Child, Command, Stdio};

use meseta_proto::v1::TaskState;

use crate::common::*;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn active_agents(master: &str) -> Option<f64> {
    get_json(master, "/metrics/snapshot")
        .ok()
        .and_then(|m| m["master/slaves_active"].as_f64())
}

#[test]
fn simulated_agents_share_connections_and_come_back_after_a_master_restart() {
    let mut tc = start_cluster(
        0,
        "cpus:1;mem:128",
        &["--agent-reregister-timeout", "1mins"],
    );
    let master = tc.master();
    let _agents = Running(
        Command::new(sibling_binary("sim-agents"))
            .args([
                "--master",
                &master,
                "--agents",
                "300",
                "--agents-per-connection",
                "100",
            ])
            .args(["--resources", "cpus:2;mem:4096", "--report-every", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sim-agents starts"),
    );
    wait_until(DEADLINE, "300 simulated agents over 3 connections", || {
        active_agents(&master) == Some(300.0)
    });

    let mut fw = TestFramework::start(&master, framework_info("on-simulated", false));
    let offer = fw.offers().remove(0);
    let task = command_task("simulated", &offer, "sleep 600", "cpus:1;mem:64");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state("simulated", TaskState::TaskRunning);

    tc.cluster.restart_master(0).expect("the master restarts");
    wait_until(
        DEADLINE,
        "every agent back with the restarted master",
        || active_agents(&master) == Some(300.0),
    );
    let tasks = get_json(&master, "/master/tasks").expect("tasks");
    let task = tasks["tasks"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["id"] == "simulated"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        task["state"], "TASK_RUNNING",
        "reported by its agent: {tasks}"
    );
    assert_eq!(task["slave_id"], offer.agent_id.value.as_str(), "{tasks}");
}
