//! LAUNCH_GROUP: a task group is launched whole, with its executor, or not
//! at all; whatever it does not use goes back to the allocator.

use v1::task_status::Reason;

use super::*;

/// One agent with [`mock::AGENT_RESOURCES`], offered to a framework
/// (stream 10). Returns the harness, the framework, the agent and the offer.
fn offered() -> (Harness, (String, String), String, v1::Offer) {
    let mut h = Harness::new();
    let agent = h.register(1, mock::agent());
    let fw = h.subscribe(10, mock::framework().build());
    let offer = h.cycle(10).remove(0);
    h.actions.clear();
    (h, fw, agent, offer)
}

fn group_tasks(agent: &str, ids: &[&str]) -> Vec<v1::TaskInfo> {
    ids.iter()
        .map(|id| mock::task(id).on(agent).build())
        .collect()
}

/// The one RunTasks the agent on stream 1 was sent.
fn run_tasks(h: &mut Harness) -> cluster::RunTasks {
    match h.agent_messages(1).as_slice() {
        [master_message::Kind::RunTasks(run)] => run.clone(),
        other => panic!("expected one RunTasks, got {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn a_valid_group_goes_to_the_agent_whole_with_its_executor() {
    let (mut h, fw, agent, offer) = offered();
    let executor = mock::executor("e").build();
    let tasks = group_tasks(&agent, &["g1", "g2"]);
    h.call(
        &fw,
        mock::accept_one(&offer, vec![mock::launch_group(executor, tasks)]),
    )
    .unwrap();

    let run = run_tasks(&mut h);
    assert_eq!(run.group, Some(true));
    assert_eq!(run.framework.id.as_ref().unwrap().value, fw.0);
    let ids: Vec<&str> = run.tasks.iter().map(|t| t.task_id.value.as_str()).collect();
    assert_eq!(ids, vec!["g1", "g2"]);
    let executor = run.executor.expect("the group's executor");
    assert_eq!(executor.executor_id.value, "e");
    assert_eq!(executor.framework_id.as_ref().unwrap().value, fw.0);
    assert!(executor
        .resources
        .iter()
        .chain(run.tasks.iter().flat_map(|t| t.resources.iter()))
        .all(|r| r.allocation_info.as_ref().and_then(|a| a.role.as_deref()) == Some("*")));
    assert!(h.events(10).is_empty(), "no update from the master");

    // Two tasks and the new executor are taken from the agent. The
    // executor is charged with each task of the group, as the code does
    // today (`validate_task` sees it as new for every task of the group);
    // Mesos charges it once per group, which would leave 2.9 cpus and
    // 3936 MB. Kept as it is; this pins it until that is decided.
    let offer = h.cycle(10).remove(0);
    assert!(
        close(mock::scalar(&offer, "cpus"), 4.0 - 2.0 * (0.5 + 0.1)),
        "{offer:?}"
    );
    assert!(close(
        mock::scalar(&offer, "mem"),
        4096.0 - 2.0 * (64.0 + 32.0)
    ));
}

#[test]
fn a_second_group_for_a_running_executor_does_not_pay_for_it_again() {
    let (mut h, fw, agent, offer) = offered();
    let executor = mock::executor("e").build();
    let first = mock::launch_group(executor.clone(), group_tasks(&agent, &["g1"]));
    h.call(&fw, mock::accept_one(&offer, vec![first])).unwrap();
    h.agent_messages(1);

    let offer = h.cycle(10).remove(0);
    let known: Vec<&str> = offer
        .executor_ids
        .iter()
        .map(|e| e.value.as_str())
        .collect();
    assert_eq!(known, vec!["e"], "the offer names the running executor");
    let second = mock::launch_group(executor, group_tasks(&agent, &["g2"]));
    h.call(&fw, mock::accept_one(&offer, vec![second])).unwrap();
    assert_eq!(run_tasks(&mut h).tasks.len(), 1);
    let offer = h.cycle(10).remove(0);
    assert!(close(mock::scalar(&offer, "cpus"), 4.0 - 2.0 * 0.5 - 0.1));
}

#[test]
fn an_empty_group_launches_nothing_and_returns_the_offer() {
    let (mut h, fw, _, offer) = offered();
    let empty = mock::launch_group(mock::executor("e").build(), Vec::new());
    h.call(&fw, mock::accept_one(&offer, vec![empty])).unwrap();
    assert!(h.agent_messages(1).is_empty());
    assert!(h.events(10).is_empty(), "no task, no update");
    let offer = h.cycle(10).remove(0);
    assert_eq!(mock::scalar(&offer, "cpus"), 4.0);
    assert!(offer.executor_ids.is_empty(), "the executor never started");
}

/// Launches `group` (built for the offered agent) and checks that every
/// task of it gets TASK_ERROR with a message containing `expected`, that
/// the agent is sent nothing and that the whole offer comes back.
fn refused_whole(
    group: impl FnOnce(&str) -> (v1::ExecutorInfo, Vec<v1::TaskInfo>),
    expected: &str,
) {
    let (mut h, fw, agent, offer) = offered();
    let (executor, tasks) = group(&agent);
    let ids: Vec<String> = tasks.iter().map(|t| t.task_id.value.clone()).collect();
    h.call(
        &fw,
        mock::accept_one(&offer, vec![mock::launch_group(executor, tasks)]),
    )
    .unwrap();
    let updates = h.updates(10);
    let updated: Vec<String> = updates.iter().map(|s| s.task_id.value.clone()).collect();
    assert_eq!(updated, ids, "one update per task of the group");
    for status in &updates {
        assert_eq!(status.state, TaskState::TaskError as i32, "{status:?}");
        assert_eq!(status.reason, Some(Reason::TaskInvalid as i32));
        let message = status.message.as_deref().unwrap_or("");
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    assert!(h.agent_messages(1).is_empty(), "nothing is launched");
    let offer = h.cycle(10).remove(0);
    assert_eq!(mock::scalar(&offer, "cpus"), 4.0, "all of it comes back");
}

#[test]
fn a_group_with_a_task_for_another_agent_is_refused_whole() {
    refused_whole(
        |agent| {
            let tasks = vec![
                mock::task("g1").on(agent).build(),
                mock::task("g2").on("elsewhere").build(),
            ];
            (mock::executor("e").build(), tasks)
        },
        "Task uses agent ID elsewhere but the offer is for agent",
    );
}

#[test]
fn a_group_whose_task_sets_an_executor_is_refused_whole() {
    refused_whole(
        |agent| {
            let own = mock::executor("own").build();
            let tasks = vec![
                mock::task("g1").on(agent).build(),
                mock::task("g2").on(agent).with_executor(own).build(),
            ];
            (mock::executor("e").build(), tasks)
        },
        "Task in a task group must not set 'executor'",
    );
}

#[test]
fn a_group_with_an_invalid_executor_id_is_refused_whole() {
    for (id, expected) in [
        ("", "Executor ID must not be empty"),
        ("a/b", "Executor ID 'a/b' contains invalid characters"),
        ("..", "Executor ID '..' is not allowed"),
    ] {
        refused_whole(
            |agent| (mock::executor(id).build(), group_tasks(agent, &["g1"])),
            expected,
        );
    }
}

#[test]
fn a_group_with_invalid_executor_resources_is_refused_whole() {
    for bad in [f64::NAN, -1.0, f64::INFINITY] {
        refused_whole(
            |agent| {
                let mut executor = mock::executor("e").build();
                if let Some(scalar) = executor.resources[0].scalar.as_mut() {
                    scalar.value = bad;
                }
                (executor, group_tasks(agent, &["g1"]))
            },
            "has an invalid amount",
        );
    }
}

#[test]
fn a_group_larger_than_the_offer_is_refused_whole() {
    // Each task fits; together (with the executor) they do not.
    refused_whole(
        |agent| {
            let tasks = vec![
                mock::task("g1")
                    .on(agent)
                    .with_resources("cpus:3;mem:64")
                    .build(),
                mock::task("g2")
                    .on(agent)
                    .with_resources("cpus:1;mem:64")
                    .build(),
            ];
            (mock::executor("e").build(), tasks)
        },
        "uses more resources",
    );
    // The executor's resources count.
    refused_whole(
        |agent| {
            let tasks = vec![mock::task("g1")
                .on(agent)
                .with_resources("cpus:3.5;mem:64")
                .build()];
            let executor = mock::executor("e").with_resources("cpus:1;mem:32");
            (executor.build(), tasks)
        },
        "uses more resources",
    );
}

#[test]
fn a_group_with_a_task_id_twice_is_refused_whole() {
    refused_whole(
        |agent| {
            (
                mock::executor("e").build(),
                group_tasks(agent, &["g1", "g1"]),
            )
        },
        "Task g1 is launched twice in this call",
    );
}

#[test]
fn a_group_whose_executor_differs_from_the_running_one_is_refused_whole() {
    let (mut h, fw, agent, offer) = offered();
    let first = mock::launch_group(mock::executor("e").build(), group_tasks(&agent, &["g1"]));
    h.call(&fw, mock::accept_one(&offer, vec![first])).unwrap();
    h.agent_messages(1);

    let offer = h.cycle(10).remove(0);
    let other = mock::executor("e").with_command("./other").build();
    let second = mock::launch_group(other, group_tasks(&agent, &["g2", "g3"]));
    h.call(&fw, mock::accept_one(&offer, vec![second])).unwrap();
    let updates = h.updates(10);
    assert_eq!(updates.len(), 2);
    for status in &updates {
        assert_eq!(status.state, TaskState::TaskError as i32);
        assert_eq!(
            status.message.as_deref(),
            Some("ExecutorInfo is not compatible with the running executor e")
        );
    }
    assert!(h.agent_messages(1).is_empty());
}

#[test]
fn a_group_on_offers_of_two_agents_is_dropped_and_both_offers_come_back() {
    for (framework, expected) in [
        (mock::framework().partition_aware(), TaskState::TaskDropped),
        (mock::framework(), TaskState::TaskLost),
    ] {
        let mut h = Harness::new();
        let a1 = h.register(1, mock::agent());
        h.register(2, mock::agent());
        let fw = h.subscribe(10, framework.build());
        let offers = h.cycle(10);
        assert_eq!(offers.len(), 2);
        let group =
            mock::launch_group(mock::executor("e").build(), group_tasks(&a1, &["g1", "g2"]));
        let call = mock::accept(&[&offers[0], &offers[1]], vec![group], Some(0.0));
        h.call(&fw, call).unwrap();
        let updates = h.updates(10);
        assert_eq!(updates.len(), 2, "{updates:?}");
        for status in &updates {
            assert_eq!(status.state, expected as i32, "{status:?}");
            assert_eq!(status.reason, Some(Reason::InvalidOffers as i32));
            assert_eq!(
                status.message.as_deref(),
                Some("Aggregated offers must belong to one single agent")
            );
        }
        assert!(h.agent_messages(1).is_empty());
        assert!(h.agent_messages(2).is_empty());
        let offers = h.cycle(10);
        assert_eq!(offers.len(), 2);
        assert!(offers.iter().all(|o| mock::scalar(o, "cpus") == 4.0));
    }
}
