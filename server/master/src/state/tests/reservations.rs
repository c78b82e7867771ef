//! Reservations: static ones from the agent's resources, dynamic ones made
//! and undone by RESERVE/UNRESERVE in offers and by the operator, each
//! offered only to its role, kept by the agent, refused with a reason.

use meseta_proto::master as operator;
use meseta_proto::resources::reserved_role;
use meseta_proto::v1::resource::{reservation_info, ReservationInfo};

use super::*;

const REFINEMENT: v1::framework_info::capability::Type =
    v1::framework_info::capability::Type::ReservationRefinement;

fn in_role(name: &str, role: &str, principal: Option<&str>, refinement: bool) -> v1::FrameworkInfo {
    let mut info = mock::framework().named(name).with_roles(&[role]).build();
    info.principal = principal.map(str::to_string);
    if refinement {
        info.capabilities.push(v1::framework_info::Capability {
            r#type: Some(REFINEMENT as i32),
        });
    }
    info
}

fn reserved_cpus(offer: &v1::Offer, role: &str) -> f64 {
    offer
        .resources
        .iter()
        .filter(|r| r.name == "cpus" && reserved_role(r) == Some(role))
        .filter_map(|r| r.scalar.as_ref())
        .map(|s| s.value)
        .sum()
}

/// `cpus:N` and `mem:M` dynamically reserved for `role` by `principal`.
fn dynamic(role: &str, principal: &str, cpus: f64, mem: f64) -> Vec<v1::Resource> {
    let stack = vec![ReservationInfo {
        r#type: Some(reservation_info::Type::Dynamic as i32),
        role: Some(role.into()),
        principal: Some(principal.into()),
        labels: None,
    }];
    let mut list = meseta_proto::resources::parse_resources(&format!("cpus:{cpus};mem:{mem}"))
        .expect("resources");
    for r in &mut list {
        r.reservations = stack.clone();
    }
    list
}

fn reserve(id: &str, resources: Vec<v1::Resource>) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Reserve as i32),
        id: Some(v1::OperationId { value: id.into() }),
        reserve: Some(v1::offer::operation::Reserve {
            resources,
            source: Vec::new(),
        }),
        ..Default::default()
    }
}

fn unreserve(id: &str, resources: Vec<v1::Resource>) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Unreserve as i32),
        id: Some(v1::OperationId { value: id.into() }),
        unreserve: Some(v1::offer::operation::Unreserve { resources }),
        ..Default::default()
    }
}

/// The operation statuses `conn` got: (operation ID, state, message).
pub(super) fn feedback(h: &mut Harness, conn: ConnId) -> Vec<(String, v1::OperationState, String)> {
    h.events(conn)
        .into_iter()
        .filter_map(|e| e.update_operation_status)
        .map(|u| {
            (
                u.status.operation_id.map(|i| i.value).unwrap_or_default(),
                v1::OperationState::try_from(u.status.state).expect("a known state"),
                u.status.message.unwrap_or_default(),
            )
        })
        .collect()
}

fn checkpointed(h: &mut Harness, link: LinkId) -> Vec<Vec<v1::Resource>> {
    h.agent_messages(link)
        .into_iter()
        .filter_map(|m| match m {
            master_message::Kind::CheckpointResources(c) => Some(c.total),
            _ => None,
        })
        .collect()
}

#[test]
fn a_static_reservation_is_offered_to_its_role_only_in_the_form_it_reads() {
    let mut h = Harness::new();
    h.register(
        1,
        mock::agent().with_resources("cpus:1;mem:512;cpus(ml):2;mem(ml):512"),
    );
    h.subscribe(10, in_role("web", "web", None, true));
    let web = h.cycle(10);
    assert_eq!(web.len(), 1);
    assert_eq!(mock::scalar(&web[0], "cpus"), 1.0);
    assert!(web[0].resources.iter().all(|r| reserved_role(r).is_none()));

    h.subscribe(11, in_role("trainer", "ml", None, true));
    h.subscribe(12, in_role("old", "ml", None, false));
    let trainer = h.cycle(11);
    let old = h.cycle(12);
    let mut offered = 0.0;
    for (offers, refinement) in [(&trainer, true), (&old, false)] {
        for offer in offers {
            offered += reserved_cpus(offer, "ml");
            #[allow(deprecated)]
            let forms: Vec<(usize, Option<&str>)> = offer
                .resources
                .iter()
                .filter(|r| reserved_role(r).is_some())
                .map(|r| (r.reservations.len(), r.role.as_deref()))
                .collect();
            // With RESERVATION_REFINEMENT: the `reservations` stack; without,
            // the older `role` field.
            let form = if refinement {
                (1, None)
            } else {
                (0, Some("ml"))
            };
            assert!(forms.iter().all(|f| *f == form), "{forms:?}");
        }
    }
    assert_eq!(offered, 2.0, "the reservation is offered once");
    let roles = crate::state::operator::views::role_usage(&h.master);
    assert_eq!(roles["ml"].reserved.scalar("cpus"), 2.0);
    assert_eq!(roles["web"].reserved.scalar("cpus"), 0.0);
}

#[test]
fn reserve_and_unreserve_in_offers_convert_in_place_and_report() {
    let mut h = Harness::new();
    let agent = h.register(1, mock::agent().with_resources("cpus:4;mem:1024"));
    let fw = h.subscribe(10, in_role("trainer", "ml", Some("alice"), true));
    let offer = h.cycle(10).remove(0);

    // Reserve 3 cpus and launch a task on 1 of them, in one ACCEPT.
    let task = v1::TaskInfo {
        resources: dynamic("ml", "alice", 1.0, 128.0),
        ..mock::task("t1").on(&agent).build()
    };
    h.call(
        &fw,
        mock::accept_one(
            &offer,
            vec![
                reserve("r1", dynamic("ml", "alice", 3.0, 512.0)),
                mock::launch(vec![task]),
            ],
        ),
    )
    .expect("accepted");
    let statuses = feedback(&mut h, 10);
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].0, "r1");
    assert_eq!(statuses[0].1, v1::OperationState::OperationFinished);
    let kept = checkpointed(&mut h, 1);
    assert_eq!(kept.len(), 1, "the agent is sent its new resources");
    let total = meseta_allocator::Resources::from_mesos(&kept[0]);
    assert_eq!(total.scalar("cpus"), 4.0);
    assert_eq!(total.reserved_parts()[0].1.scalar("cpus"), 3.0);

    // Another role never sees the reservation.
    h.subscribe(11, in_role("web", "web", None, true));
    for _ in 0..3 {
        for offer in h.cycle(11) {
            assert_eq!(reserved_cpus(&offer, "ml"), 0.0);
        }
    }
    // Its own role is offered what is left of it.
    let again = h.cycle(10);
    let reserved: f64 = again.iter().map(|o| reserved_cpus(o, "ml")).sum();
    assert_eq!(reserved, 2.0);

    // A stranger's UNRESERVE is refused and changes nothing.
    let bob = h.subscribe(12, in_role("bob", "ml", Some("bob"), true));
    let _ = h.cycle(12);
    h.call(&fw, mock::decline(&again, Some(0.0)))
        .expect("declined");
    let offers = h.cycle(12);
    if let Some(offer) = offers.iter().find(|o| reserved_cpus(o, "ml") > 0.0) {
        h.call(
            &bob,
            mock::accept_one(
                offer,
                vec![unreserve("u0", dynamic("ml", "alice", 1.0, 0.0))],
            ),
        )
        .expect("accepted");
        let refused = feedback(&mut h, 12);
        assert_eq!(refused[0].1, v1::OperationState::OperationError);
        assert!(refused[0].2.contains("principal"), "{}", refused[0].2);
        assert!(checkpointed(&mut h, 1).is_empty());
    }
}

#[test]
fn bad_reservations_are_refused_with_a_reason() {
    let mut h = Harness::new();
    h.register(1, mock::agent().with_resources("cpus:2;mem:1024"));
    let fw = h.subscribe(10, in_role("trainer", "ml", Some("alice"), true));
    let offer = h.cycle(10).remove(0);
    let cases = [
        (
            "more",
            dynamic("ml", "alice", 3.0, 0.0),
            "not in the accepted offers",
        ),
        (
            "other-role",
            dynamic("web", "alice", 1.0, 0.0),
            "role 'web'",
        ),
        (
            "other-principal",
            dynamic("ml", "eve", 1.0, 0.0),
            "principal",
        ),
    ];
    let operations = cases
        .iter()
        .map(|(id, resources, _)| reserve(id, resources.clone()))
        .collect();
    h.call(&fw, mock::accept_one(&offer, operations))
        .expect("accepted");
    let statuses = feedback(&mut h, 10);
    assert_eq!(statuses.len(), cases.len());
    for ((id, _, why), (got_id, state, message)) in cases.iter().zip(&statuses) {
        assert_eq!(id, got_id);
        assert_eq!(*state, v1::OperationState::OperationError);
        assert!(message.contains(why), "{id}: {message}");
    }
    assert!(checkpointed(&mut h, 1).is_empty());
    let offers = h.cycle(10);
    assert_eq!(
        offers.iter().map(|o| mock::scalar(o, "cpus")).sum::<f64>(),
        2.0
    );
    assert!(offers.iter().all(|o| reserved_cpus(o, "ml") == 0.0));
}

#[test]
fn the_operator_reserves_free_resources_and_cannot_unreserve_static_ones() {
    let mut h = Harness::new();
    let agent = h.register(
        1,
        mock::agent().with_resources("cpus:2;mem:1024;cpus(ops):1"),
    );
    let call = |kind: operator::call::Type, resources: Vec<v1::Resource>| operator::Call {
        r#type: Some(kind as i32),
        reserve_resources: (kind == operator::call::Type::ReserveResources).then(|| {
            operator::call::ReserveResources {
                agent_id: v1::AgentId {
                    value: agent.clone(),
                },
                source: Vec::new(),
                resources: resources.clone(),
            }
        }),
        unreserve_resources: (kind == operator::call::Type::UnreserveResources).then(|| {
            operator::call::UnreserveResources {
                agent_id: v1::AgentId {
                    value: agent.clone(),
                },
                resources: resources.clone(),
            }
        }),
        ..Default::default()
    };
    let reserve_call = call(
        operator::call::Type::ReserveResources,
        dynamic("ml", "op", 2.0, 0.0),
    );
    let actions = h
        .master
        .operator_call(h.now, reserve_call)
        .expect("reserved");
    assert_eq!(mock::to_agent(&actions, 1).len(), 1);
    let total = &h.master.agents[&agent].total;
    assert_eq!(total.unreserved().scalar("cpus"), 0.0);
    // Nothing unreserved is left to reserve.
    let again = call(
        operator::call::Type::ReserveResources,
        dynamic("ml", "op", 1.0, 0.0),
    );
    assert!(matches!(
        h.master.operator_call(h.now, again),
        Err(CallError::Conflict(_))
    ));
    let mut static_one =
        meseta_proto::resources::parse_resources("cpus(ops):1").expect("resources");
    static_one[0].reservations[0].principal = None;
    let refused = h.master.operator_call(
        h.now,
        call(operator::call::Type::UnreserveResources, static_one),
    );
    assert!(matches!(refused, Err(CallError::BadRequest(m)) if m.contains("static")));
    let undo = call(
        operator::call::Type::UnreserveResources,
        dynamic("ml", "op", 2.0, 0.0),
    );
    h.master.operator_call(h.now, undo).expect("unreserved");
    assert_eq!(
        h.master.agents[&agent].total.unreserved().scalar("cpus"),
        2.0
    );
}

#[test]
fn a_refined_reservation_is_offered_only_to_frameworks_that_read_refinements() {
    let mut h = Harness::new();
    h.register(1, mock::agent().with_resources("cpus(eng):2;mem(eng):512"));
    let refiner = h.subscribe(10, in_role("refiner", "eng/ml", Some("alice"), true));
    let offer = h.cycle(10).remove(0);
    // Refine eng's static reservation to eng/ml: a stack of two.
    let mut refined = meseta_proto::resources::parse_resources("cpus:1;mem:256").expect("ok");
    for r in &mut refined {
        r.reservations = vec![
            ReservationInfo {
                r#type: Some(reservation_info::Type::Static as i32),
                role: Some("eng".into()),
                ..Default::default()
            },
            ReservationInfo {
                r#type: Some(reservation_info::Type::Dynamic as i32),
                role: Some("eng/ml".into()),
                principal: Some("alice".into()),
                labels: None,
            },
        ];
    }
    h.call(
        &refiner,
        mock::accept_one(&offer, vec![reserve("refine", refined)]),
    )
    .expect("accepted");
    assert_eq!(
        feedback(&mut h, 10)[0].1,
        v1::OperationState::OperationFinished
    );
    let rest = h.cycle(10);
    h.call(&refiner, mock::decline(&rest, Some(3600.0)))
        .expect("declined");

    // A framework of eng/ml that cannot read a stack of two is offered
    // eng's unrefined reservation only, however often it declines.
    let old = h.subscribe(11, in_role("old", "eng/ml", None, false));
    for _ in 0..3 {
        let offers = h.cycle(11);
        assert_eq!(offers.len(), 1);
        assert_eq!(mock::scalar(&offers[0], "cpus"), 1.0, "{offers:?}");
        assert!(offers[0]
            .resources
            .iter()
            .all(|r| r.reservations.len() <= 1 && reserved_role(r) != Some("eng/ml")));
        h.call(&old, mock::decline(&offers, Some(0.0)))
            .expect("declined");
    }
}
