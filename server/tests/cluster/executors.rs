//! Custom executors over the v1 executor API, and messages both ways.

use meseta_proto::v1::{self, TaskState};

use crate::common::*;

#[test]
fn custom_executor_runs_tasks_and_exchanges_messages() {
    let executor_path = sibling_binary("example_executor");
    let tc = start_cluster(1, "cpus:2;mem:512", &[]);
    let mut fw = TestFramework::start(&tc.master(), framework_info("executor", false));
    let offer = fw.offers().remove(0);
    let executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "example".into(),
        },
        command: Some(v1::CommandInfo {
            value: Some(executor_path.display().to_string()),
            ..Default::default()
        }),
        resources: meseta_proto::resources::parse_resources("cpus:0.1;mem:32").expect("resources"),
        ..Default::default()
    };
    let tasks: Vec<v1::TaskInfo> = (0..2)
        .map(|i| v1::TaskInfo {
            name: format!("x{i}"),
            task_id: v1::TaskId {
                value: format!("x{i}"),
            },
            agent_id: offer.agent_id.clone(),
            resources: meseta_proto::resources::parse_resources("cpus:0.2;mem:32")
                .expect("resources"),
            executor: Some(executor.clone()),
            ..Default::default()
        })
        .collect();
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), tasks, None);
    let (executor_id, agent_id) = fw.expect("a message from the executor", |e| match e {
        Ev::Message(executor, agent, _) => Some((executor.clone(), agent.clone())),
        _ => None,
    });
    assert_eq!(executor_id, "example");
    assert_eq!(agent_id, offer.agent_id.value);
    for id in ["x0", "x1"] {
        let status = fw.terminal(id);
        assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    }
    // The framework can talk to the executor too; the example executor
    // answers every message it gets.
    fw.driver.send_framework_message(
        &v1::ExecutorId {
            value: "example".into(),
        },
        &offer.agent_id,
        b"ping".to_vec(),
    );
    fw.expect("the executor's answer", |e| match e {
        Ev::Message(_, _, data) if data.starts_with(b"ping") || data.ends_with(b"ping") => Some(()),
        _ => None,
    });
}
