//! Maintenance: a schedule drains machines (offers carry the
//! unavailability, frameworks with tasks there get inverse offers and
//! answer them), START_MAINTENANCE takes them down (agents removed and
//! refused), STOP_MAINTENANCE brings them up; bad input changes nothing.

use meseta_proto::allocator::inverse_offer_status::Status;
use meseta_proto::maintenance::{Schedule, Window};
use meseta_proto::master as operator;

use super::*;
use crate::registry::RegistryState;

fn host(hostname: &str) -> v1::MachineId {
    v1::MachineId {
        hostname: Some(hostname.into()),
        ip: None,
    }
}

fn schedule(machines: Vec<v1::MachineId>) -> operator::Call {
    let window = Window {
        machine_ids: machines,
        unavailability: v1::Unavailability {
            start: v1::TimeInfo {
                nanoseconds: 1_000_000_000,
            },
            duration: None,
        },
    };
    let windows = if window.machine_ids.is_empty() {
        vec![]
    } else {
        vec![window]
    };
    operator::Call {
        r#type: Some(operator::call::Type::UpdateMaintenanceSchedule as i32),
        update_maintenance_schedule: Some(operator::call::UpdateMaintenanceSchedule {
            schedule: Schedule { windows },
        }),
        ..Default::default()
    }
}

fn down(machines: Vec<v1::MachineId>) -> operator::Call {
    operator::Call {
        r#type: Some(operator::call::Type::StartMaintenance as i32),
        start_maintenance: Some(operator::call::StartMaintenance { machines }),
        ..Default::default()
    }
}

fn up(machines: Vec<v1::MachineId>) -> operator::Call {
    operator::Call {
        r#type: Some(operator::call::Type::StopMaintenance as i32),
        stop_maintenance: Some(operator::call::StopMaintenance { machines }),
        ..Default::default()
    }
}

#[test]
fn a_schedule_drains_the_machine_and_frameworks_answer_inverse_offers() {
    let (mut h, fw, agent_id) = mock::running(mock::framework());
    let actions = h
        .master
        .operator_call(h.now, schedule(vec![host("AGENT")]))
        .expect("valid schedule");
    h.actions.extend(actions);
    let events = h.events(10);
    let inverse: Vec<&v1::InverseOffer> = events
        .iter()
        .filter_map(|e| e.inverse_offers.as_ref())
        .flat_map(|i| i.inverse_offers.iter())
        .collect();
    assert_eq!(inverse.len(), 1, "{events:?}");
    assert_eq!(
        inverse[0].agent_id.as_ref().map(|a| a.value.as_str()),
        Some(agent_id.as_str())
    );
    assert_eq!(inverse[0].unavailability.start.nanoseconds, 1_000_000_000);
    let inverse_id = inverse[0].id.clone();

    let offers = h.cycle(10);
    assert!(!offers.is_empty());
    assert!(
        offers.iter().all(|o| o.unavailability.is_some()),
        "offers carry the unavailability"
    );

    let status = h.master.maintenance_status();
    assert_eq!(status.draining_machines.len(), 1);
    assert_eq!(
        status.draining_machines[0].statuses[0].status,
        Status::Unknown as i32
    );
    let decline = Call {
        r#type: Some(call::Type::DeclineInverseOffers as i32),
        decline_inverse_offers: Some(call::DeclineInverseOffers {
            inverse_offer_ids: vec![inverse_id],
            filters: None,
        }),
        ..Default::default()
    };
    h.call(&fw, decline).expect("answered");
    let status = h.master.maintenance_status();
    assert_eq!(
        status.draining_machines[0].statuses[0].status,
        Status::Decline as i32
    );

    // An empty schedule ends the draining: the inverse offer answers go.
    h.master
        .operator_call(h.now, schedule(vec![]))
        .expect("cleared");
    assert!(h.master.maintenance_status().draining_machines.is_empty());
    assert!(h.cycle(10).iter().all(|o| o.unavailability.is_none()));
}

#[test]
fn machines_go_down_and_come_back_up() {
    let (mut h, _fw, agent_id) = mock::running(mock::framework());
    let refused = h.master.operator_call(h.now, down(vec![host("agent")]));
    assert!(
        matches!(&refused, Err(CallError::BadRequest(m)) if m.contains("not in the maintenance schedule")),
        "{refused:?}"
    );
    h.master
        .operator_call(h.now, schedule(vec![host("agent")]))
        .expect("scheduled");
    let actions = h
        .master
        .operator_call(h.now, down(vec![host("agent")]))
        .expect("down");
    h.actions.extend(actions);
    assert!(
        !h.master.agents().contains_key(&agent_id),
        "the agent is removed"
    );
    let lost = h.updates(10);
    assert_eq!(lost.len(), 1, "its task is reported: {lost:?}");
    assert_eq!(h.master.maintenance_status().down_machines.len(), 1);

    // A down machine must stay in the schedule, and its agents are refused.
    let refused = h.master.operator_call(h.now, schedule(vec![]));
    assert!(matches!(&refused, Err(CallError::BadRequest(m)) if m.contains("is down")));
    let message = AgentMessage {
        kind: Some(agent_message::Kind::Register(mock::agent().build())),
    };
    let answer = h.master.agent_message(h.now, 7, message);
    assert!(
        answer
            .iter()
            .any(|a| matches!(a, Action::CloseAgent { link: 7 })),
        "{answer:?}"
    );

    let refused = h.master.operator_call(h.now, up(vec![host("other")]));
    assert!(matches!(&refused, Err(CallError::BadRequest(m)) if m.contains("not down")));
    h.master
        .operator_call(h.now, up(vec![host("agent")]))
        .expect("up");
    assert!(
        h.master.maintenance_schedule().windows.is_empty(),
        "out of the schedule"
    );
    h.register(8, mock::agent());
    assert_eq!(
        h.master.agents().len(),
        1,
        "the machine's agent registers again"
    );
}

#[test]
fn a_bad_schedule_changes_nothing() {
    let mut h = Harness::new();
    h.master
        .operator_call(h.now, schedule(vec![host("a")]))
        .expect("valid");
    let before = h.master.maintenance_schedule();
    let nameless = v1::MachineId {
        hostname: None,
        ip: None,
    };
    let bad_ip = v1::MachineId {
        hostname: None,
        ip: Some("not-an-ip".into()),
    };
    for (machines, complaint) in [
        (vec![host("b"), host("B")], "more than once"),
        (vec![nameless], "hostname or an ip"),
        (vec![bad_ip], "not an IP address"),
    ] {
        let refused = h.master.operator_call(h.now, schedule(machines));
        assert!(
            matches!(&refused, Err(CallError::BadRequest(m)) if m.contains(complaint)),
            "{refused:?}"
        );
        assert_eq!(h.master.maintenance_schedule(), before);
    }
}

#[test]
fn maintenance_survives_in_the_registry() {
    let mut h = Harness::new();
    let mut registry = RegistryState::default();
    for call in [schedule(vec![host("a"), host("b")]), down(vec![host("a")])] {
        for action in h.master.operator_call(h.now, call).expect("valid") {
            if let Action::Persist(op) = action {
                registry.apply(&op);
            }
        }
    }
    let registry = RegistryState::from_proto(registry.to_proto());
    let mut next = Harness::new();
    next.master.recover(next.now, registry);
    assert_eq!(
        next.master.maintenance_schedule(),
        h.master.maintenance_schedule()
    );
    assert_eq!(next.master.maintenance_status().down_machines, [host("a")]);
}

#[test]
fn a_framework_launching_on_a_draining_agent_is_asked_for_it_back() {
    let mut h = Harness::new();
    let agent_id = h.register(1, mock::agent());
    let fw = h.subscribe(10, mock::framework().build());
    h.master
        .operator_call(h.now, schedule(vec![host("agent")]))
        .expect("scheduled");
    let offer = h.cycle(10).remove(0);
    assert!(offer.unavailability.is_some());
    h.launch(&fw, &offer, vec![mock::task("t1").on(&agent_id).build()]);
    let inverse: Vec<Event> = h
        .events(10)
        .into_iter()
        .filter(|e| e.inverse_offers.is_some())
        .collect();
    assert_eq!(inverse.len(), 1, "asked once, at the launch");
    let offer = h.cycle(10);
    if let Some(offer) = offer.first() {
        h.launch(&fw, offer, vec![mock::task("t2").on(&agent_id).build()]);
    }
    assert!(
        h.events(10).iter().all(|e| e.inverse_offers.is_none()),
        "not asked twice"
    );
}
