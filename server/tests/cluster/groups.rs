//! LAUNCH_GROUP through `accept_offers`: task groups on the default
//! executor start together and fail together.

use meseta_proto::v1::{self, offer::operation, TaskState};

use crate::common::*;

fn group_launch(offer: &v1::Offer, group: &str, commands: &[(&str, &str)]) -> v1::offer::Operation {
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: format!("{group}-executor"),
        },
        resources: meseta_proto::resources::parse_resources("cpus:0.1;mem:32").expect("resources"),
        ..Default::default()
    };
    let tasks = commands
        .iter()
        .map(|(id, command)| {
            let mut task = command_task(id, offer, command, "cpus:0.1;mem:32");
            task.executor = None;
            task
        })
        .collect();
    v1::offer::Operation {
        r#type: Some(operation::Type::LaunchGroup as i32),
        launch_group: Some(operation::LaunchGroup {
            executor,
            task_group: v1::TaskGroupInfo { tasks },
        }),
        ..Default::default()
    }
}

#[test]
fn task_group_runs_together_and_fails_together() {
    let tc = start_cluster(1, "cpus:2;mem:512", &[]);
    let mut fw = TestFramework::start(&tc.master(), framework_info("groups", true));
    let offer = fw.offers().remove(0);
    let good = group_launch(&offer, "good", &[("g1", "true"), ("g2", "true")]);
    let bad = group_launch(&offer, "bad", &[("b1", "exit 1"), ("b2", "sleep 600")]);
    fw.driver
        .accept_offers(std::slice::from_ref(&offer.id), vec![good, bad], None);
    for id in ["g1", "g2"] {
        let status = fw.terminal(id);
        assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    }
    let failed = fw.terminal("b1");
    assert_eq!(failed.state, TaskState::TaskFailed as i32, "{failed:?}");
    let killed = fw.terminal("b2");
    assert_eq!(
        killed.state,
        TaskState::TaskKilled as i32,
        "the rest of a failed group is killed: {killed:?}"
    );
}

#[test]
fn invalid_task_in_a_group_refuses_the_whole_group() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let mut fw = TestFramework::start(&tc.master(), framework_info("groups", true));
    let offer = fw.offers().remove(0);
    let mut operation = group_launch(&offer, "g", &[("ok", "true"), ("huge", "true")]);
    if let Some(group) = operation.launch_group.as_mut() {
        group.task_group.tasks[1].resources =
            meseta_proto::resources::parse_resources("cpus:64;mem:32").expect("resources");
    }
    fw.driver
        .accept_offers(std::slice::from_ref(&offer.id), vec![operation], None);
    for id in ["ok", "huge"] {
        let status = fw.terminal(id);
        assert_eq!(status.state, TaskState::TaskError as i32, "{status:?}");
    }
    let metrics = get_json(&tc.master(), "/metrics/snapshot").expect("metrics");
    assert_eq!(metrics["master/cpus_used"], 0.0);
}
