//! Persistent volumes: CREATE and DESTROY in offers and by the operator,
//! offered back to their role, used whole, never destroyed under a task.

use meseta_proto::master as operator;
use meseta_proto::v1::resource::{disk_info, DiskInfo, ReservationInfo};

use super::reservations::feedback;
use super::*;

fn trainer() -> v1::FrameworkInfo {
    let mut info = mock::framework()
        .named("trainer")
        .with_roles(&["ml"])
        .build();
    info.principal = Some("alice".into());
    info
}

/// `disk` of `mb` statically reserved for `ml`, as volume `id` when given.
fn disk(mb: f64, id: Option<&str>) -> v1::Resource {
    v1::Resource {
        reservations: vec![ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Static as i32),
            role: Some("ml".into()),
            ..Default::default()
        }],
        disk: id.map(|id| {
            Box::new(DiskInfo {
                persistence: Some(disk_info::Persistence {
                    id: id.into(),
                    principal: Some("alice".into()),
                }),
                volume: Some(v1::Volume {
                    container_path: "data".into(),
                    mode: v1::volume::Mode::Rw as i32,
                    ..Default::default()
                }),
                source: None,
            })
        }),
        ..meseta_proto::resources::scalar("disk", mb)
    }
}

fn operation(
    kind: v1::offer::operation::Type,
    id: &str,
    volume: v1::Resource,
) -> v1::offer::Operation {
    let volumes = vec![volume];
    v1::offer::Operation {
        r#type: Some(kind as i32),
        id: Some(v1::OperationId { value: id.into() }),
        create: (kind == v1::offer::operation::Type::Create).then(|| {
            v1::offer::operation::Create {
                volumes: volumes.clone(),
            }
        }),
        destroy: (kind == v1::offer::operation::Type::Destroy)
            .then_some(v1::offer::operation::Destroy { volumes }),
        ..Default::default()
    }
}

fn volume_offered(offer: &v1::Offer, id: &str) -> f64 {
    offer
        .resources
        .iter()
        .filter(|r| {
            r.disk
                .as_ref()
                .and_then(|d| d.persistence.as_ref())
                .is_some_and(|p| p.id == id)
        })
        .filter_map(|r| r.scalar.as_ref())
        .map(|s| s.value)
        .sum()
}

fn with_disk(task: v1::TaskInfo, volume: v1::Resource) -> v1::TaskInfo {
    let mut task = task;
    task.resources.push(volume);
    task
}

#[test]
fn a_volume_is_created_offered_back_used_whole_and_destroyed_only_when_free() {
    use v1::offer::operation::Type::{Create, Destroy};
    let mut h = Harness::new();
    let agent = h.register(
        1,
        mock::agent().with_resources("cpus:2;mem:1024;disk(ml):100"),
    );
    let fw = h.subscribe(10, trainer());
    let offer = h.cycle(10).remove(0);
    let create = |id: &str, volume| operation(Create, id, volume);
    h.call(
        &fw,
        mock::accept_one(
            &offer,
            vec![
                create("c1", disk(64.0, Some("v1"))),
                create("twice", disk(10.0, Some("v1"))),
                create("too-big", disk(64.0, Some("v2"))),
            ],
        ),
    )
    .expect("accepted");
    let done = feedback(&mut h, 10);
    assert_eq!(done[0].1, v1::OperationState::OperationFinished, "{done:?}");
    assert!(done[1].2.contains("already exists"), "{done:?}");
    assert!(done[2].2.contains("not in the accepted offers"), "{done:?}");
    let kept = mock::to_agent(&h.actions, 1);
    assert!(kept
        .iter()
        .any(|m| matches!(m, master_message::Kind::CheckpointResources(c)
        if c.total.iter().any(|r| r.disk.is_some()))));
    h.actions.clear();

    // Offered back to its role, whole.
    let offer = h.cycle(10).remove(0);
    assert_eq!(volume_offered(&offer, "v1"), 64.0);
    let half = with_disk(
        mock::task("half").on(&agent).build(),
        disk(32.0, Some("v1")),
    );
    h.call(
        &fw,
        mock::accept_one(&offer, vec![mock::launch(vec![half])]),
    )
    .expect("accepted");
    let errors = h.updates(10);
    assert_eq!(errors[0].state, TaskState::TaskError as i32);
    assert!(errors[0]
        .message
        .as_deref()
        .unwrap_or_default()
        .contains("whole"));

    // A task uses it: it cannot be destroyed, in an offer or by the operator.
    let offer = h.cycle(10).remove(0);
    let user = with_disk(
        mock::task("user").on(&agent).build(),
        disk(64.0, Some("v1")),
    );
    h.call(
        &fw,
        mock::accept_one(&offer, vec![mock::launch(vec![user])]),
    )
    .expect("accepted");
    let offer = h.cycle(10).remove(0);
    h.call(
        &fw,
        mock::accept_one(
            &offer,
            vec![operation(Destroy, "d1", disk(64.0, Some("v1")))],
        ),
    )
    .expect("accepted");
    let refused = feedback(&mut h, 10);
    assert!(refused[0].2.contains("in use by task user"), "{refused:?}");
    let destroy_call = operator::Call {
        r#type: Some(operator::call::Type::DestroyVolumes as i32),
        destroy_volumes: Some(operator::call::DestroyVolumes {
            agent_id: v1::AgentId {
                value: agent.clone(),
            },
            volumes: vec![disk(64.0, Some("v1"))],
        }),
        ..Default::default()
    };
    assert!(matches!(
        h.master.operator_call(h.now, destroy_call.clone()),
        Err(CallError::Conflict(m)) if m.contains("in use")
    ));

    // Once the task ended, the operator may destroy it.
    h.status(1, &fw.0, "user", TaskState::TaskFinished);
    let actions = h
        .master
        .operator_call(h.now, destroy_call)
        .expect("destroyed");
    assert!(mock::to_agent(&actions, 1).iter().any(|m| matches!(m,
        master_message::Kind::CheckpointResources(c) if c.total.iter().all(|r| r.disk.is_none()))));
}
