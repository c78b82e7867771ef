//! GPUs as the master sees them: agents with GPUs are offered only to
//! frameworks with the `GPU_RESOURCES` capability (unless
//! `--filter-gpu-resources=false`), and a task or executor asking for a
//! fraction of a GPU is refused with Mesos's TASK_ERROR.

use v1::task_status::{Reason, Source};

use super::*;

const GPU_AGENT: &str = "cpus:2;mem:1024;gpus:2";
const FRACTIONAL: &str =
    "Task uses invalid resources: Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer";

fn gpu_framework(name: &str) -> v1::FrameworkInfo {
    let mut info = framework_info(name, false);
    info.capabilities.push(v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::GpuResources as i32),
    });
    info
}

/// The agent IDs of the offers pending for `conn`.
fn offered_agents(h: &mut Harness, conn: ConnId) -> Vec<String> {
    h.offers(conn)
        .into_iter()
        .map(|o| o.agent_id.value)
        .collect()
}

#[test]
fn a_framework_without_the_capability_is_not_offered_a_gpu_agent() {
    let mut h = Harness::new();
    let gpu = h.add_agent(1, GPU_AGENT);
    let plain = h.add_agent(2, "cpus:2;mem:1024");
    h.subscribe(10, framework_info("legacy", false));
    h.advance(Duration::from_secs(1));
    assert_eq!(offered_agents(&mut h, 10), vec![plain]);
    h.advance(Duration::from_secs(5));
    assert!(h.offers(10).is_empty());

    h.subscribe(11, gpu_framework("ml"));
    h.advance(Duration::from_secs(1));
    let offers = h.offers(11);
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].agent_id.value, gpu);
    // The whole agent, GPUs included.
    let gpus = meseta_proto::resources::scalar_total(&offers[0].resources, "gpus");
    assert_eq!(gpus, 2.0);
}

#[test]
fn the_capability_can_come_with_update_framework() {
    let mut h = Harness::new();
    let gpu = h.add_agent(1, GPU_AGENT);
    let fw = h.subscribe(10, framework_info("late", false));
    h.advance(Duration::from_secs(1));
    assert!(h.offers(10).is_empty());
    let mut info = h.master.frameworks()[&fw.0].info.clone();
    info.capabilities = gpu_framework("late").capabilities;
    let update = Call {
        r#type: Some(call::Type::UpdateFramework as i32),
        update_framework: Some(call::UpdateFramework {
            framework_info: info,
            suppressed_roles: Vec::new(),
            offer_constraints: None,
        }),
        ..Default::default()
    };
    h.call(&fw, update).unwrap();
    h.advance(Duration::from_secs(1));
    assert_eq!(offered_agents(&mut h, 10), vec![gpu]);
}

#[test]
fn without_the_filter_everyone_is_offered_gpu_agents() {
    let allocator = AllocatorConfig {
        filter_gpu_resources: false,
        ..AllocatorConfig::default()
    };
    let mut h = Harness::build(Settings::default(), allocator, SEED);
    let gpu = h.add_agent(1, GPU_AGENT);
    h.subscribe(10, framework_info("legacy", false));
    h.advance(Duration::from_secs(1));
    assert_eq!(offered_agents(&mut h, 10), vec![gpu]);
}

/// Offers the GPU agent to a capable framework and accepts it with `task`;
/// returns the status update (if any) and what the agent was sent.
fn launch_one(
    task: impl FnOnce(&str) -> v1::TaskInfo,
) -> (Option<v1::TaskStatus>, Vec<master_message::Kind>) {
    let mut h = Harness::new();
    let agent = h.add_agent(1, GPU_AGENT);
    h.agent_messages(1);
    let fw = h.subscribe(10, gpu_framework("ml"));
    h.advance(Duration::from_secs(1));
    let offer = h.offers(10).remove(0);
    h.call(&fw, accept(&offer, vec![task(&agent)])).unwrap();
    let mut updates = h.updates(10);
    assert!(updates.len() <= 1, "more than one update: {updates:?}");
    (updates.pop(), h.agent_messages(1))
}

#[test]
fn a_task_with_a_fraction_of_a_gpu_is_a_task_error() {
    let (status, sent) = launch_one(|agent| task("half", agent, "cpus:1;mem:128;gpus:0.5"));
    let status = status.expect("a status update");
    assert_eq!(status.state, TaskState::TaskError as i32, "{status:?}");
    assert_eq!(status.reason, Some(Reason::TaskInvalid as i32));
    assert_eq!(status.source, Some(Source::Master as i32));
    assert_eq!(status.message.as_deref(), Some(FRACTIONAL));
    assert!(sent.is_empty(), "nothing goes to the agent: {sent:?}");

    // Across several resources the sum counts: 0.5 + 0.5 is whole.
    let (status, sent) = launch_one(|agent| {
        let mut t = task("halves", agent, "cpus:1;mem:128;gpus:0.5");
        t.resources
            .extend(meseta_proto::resources::parse_resources("gpus:0.5").unwrap());
        t
    });
    assert_eq!(status, None, "no update for a valid task");
    assert!(
        matches!(&sent[..], [master_message::Kind::RunTasks(_)]),
        "{sent:?}"
    );
}

#[test]
fn an_executor_with_a_fraction_of_a_gpu_is_a_task_error() {
    let (status, _) = launch_one(|agent| v1::TaskInfo {
        command: None,
        executor: Some(v1::ExecutorInfo {
            executor_id: v1::ExecutorId { value: "e".into() },
            command: Some(v1::CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            }),
            resources: meseta_proto::resources::parse_resources("cpus:0.1;gpus:1.5").unwrap(),
            ..Default::default()
        }),
        ..task("t", agent, "cpus:1;mem:128")
    });
    let status = status.expect("a status update");
    assert_eq!(status.state, TaskState::TaskError as i32, "{status:?}");
    assert_eq!(status.reason, Some(Reason::TaskInvalid as i32));
    assert_eq!(
        status.message.as_deref(),
        Some("Executor uses invalid resources: Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer")
    );
}

#[test]
fn a_task_with_whole_gpus_is_launched() {
    let (status, sent) = launch_one(|agent| task("one", agent, "cpus:1;mem:128;gpus:1"));
    assert_eq!(status, None, "no update for a valid task");
    match &sent[..] {
        [master_message::Kind::RunTasks(run)] => {
            let gpus = meseta_proto::resources::scalar_total(&run.tasks[0].resources, "gpus");
            assert_eq!(gpus, 1.0);
        }
        other => panic!("expected RunTasks, got {other:?}"),
    }
}
