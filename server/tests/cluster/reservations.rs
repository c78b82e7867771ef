//! Reservations end to end: a static reservation from an agent's
//! `--resources` is offered only to its role; a RESERVE made in an offer is
//! kept by the agent, through both its and the master's restart, and
//! an operator's UNRESERVE_RESOURCES gives it back to everyone.

use std::time::Duration;

use serde_json::json;

use crate::common::*;
use meseta_proto::resources::reserved_role;
use meseta_proto::v1::{self, resource::reservation_info, resource::ReservationInfo};

/// A framework in `role`, principal `alice`, that reads refined reservations.
pub fn in_role(name: &str, role: &str) -> v1::FrameworkInfo {
    let mut info = framework_info(name, false);
    info.roles = vec![role.into()];
    info.principal = Some("alice".into());
    info.capabilities.push(v1::framework_info::Capability {
        r#type: Some(v1::framework_info::capability::Type::ReservationRefinement as i32),
    });
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

/// Declined offers come back a moment later.
pub fn briefly() -> Option<v1::Filters> {
    Some(v1::Filters {
        refuse_seconds: Some(0.1),
    })
}

/// The agent's reserved cpus by role, as `/master/slaves` shows them.
fn shown_reserved_cpus(master: &str, role: &str) -> Option<f64> {
    let slaves = get_json(master, "/master/slaves").ok()?;
    slaves["slaves"][0]["reserved_resources"][role]["cpus"].as_f64()
}

fn dynamic_cpus(role: &str, cpus: f64) -> Vec<v1::Resource> {
    let mut list =
        meseta_proto::resources::parse_resources(&format!("cpus:{cpus}")).expect("resources");
    list[0].reservations = vec![ReservationInfo {
        r#type: Some(reservation_info::Type::Dynamic as i32),
        role: Some(role.into()),
        principal: Some("alice".into()),
        labels: None,
    }];
    list
}

#[test]
fn reservations_go_to_their_role_and_survive_restarts() {
    let mut tc = start_cluster(1, "cpus:2;mem:512;cpus(ml):1;mem(ml):256", &[]);
    let master = tc.master();
    wait_until(DEADLINE, "the static reservation shown", || {
        shown_reserved_cpus(&master, "ml") == Some(1.0)
    });
    let roles = get_json(&master, "/master/roles").expect("/master/roles");
    let ml = roles["roles"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "ml"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(ml["reserved"]["cpus"], 1.0, "{roles}");
    // Reservations are quota consumption, used or not.
    assert_eq!(ml["quota"]["consumed"]["cpus"], 1.0, "{roles}");

    // Another role is offered the unreserved part only, again and again.
    let mut web = TestFramework::start(&master, in_role("web", "web"));
    for _ in 0..3 {
        let offers = web.offers();
        for offer in &offers {
            assert_eq!(reserved_cpus(offer, "ml"), 0.0, "{offer:?}");
            web.driver.decline_offer(&offer.id, briefly());
        }
    }
    web.driver.stop(false);
    drop(web);

    // ml is offered its reservation and reserves one more cpu.
    let mut ml = TestFramework::start(&master, in_role("trainer", "ml"));
    let offer = loop {
        let offers = ml.offers();
        if let Some(offer) = offers.iter().find(|o| reserved_cpus(o, "ml") == 1.0) {
            break offer.clone();
        }
        for offer in &offers {
            ml.driver.decline_offer(&offer.id, briefly());
        }
    };
    let reserve = v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Reserve as i32),
        id: Some(v1::OperationId {
            value: "reserve-1".into(),
        }),
        reserve: Some(v1::offer::operation::Reserve {
            resources: dynamic_cpus("ml", 1.0),
            source: Vec::new(),
        }),
        ..Default::default()
    };
    ml.driver
        .accept_offers(std::slice::from_ref(&offer.id), vec![reserve], briefly());
    wait_until(DEADLINE, "two cpus reserved for ml", || {
        shown_reserved_cpus(&master, "ml") == Some(2.0)
    });
    // The master's view changes at once; the agent keeps the reservation
    // when its CheckpointResources arrives.
    let agent = get_json(&master, "/master/slaves").expect("agents")["slaves"][0]["pid"]
        .as_str()
        .and_then(|pid| pid.rsplit_once('@'))
        .map(|(_, address)| address.to_string())
        .expect("agent address");
    wait_until(DEADLINE, "the agent to keep the reservation", || {
        get_json(&agent, "/state")
            .ok()
            .and_then(|s| s["reserved_resources"]["ml"]["cpus"].as_f64())
            == Some(2.0)
    });

    // The agent keeps it: with the agent down, a restarted master knows
    // nothing of it until the agent, restarted too, registers with it.
    tc.cluster.kill_agent(0);
    tc.restart_master_until_it_answers("/master/slaves");
    let master = tc.master();
    tc.cluster.restart_agent(0).expect("agent restarts");
    wait_for_active_agent(&tc, None);
    wait_until(DEADLINE, "the reservation back with the agent", || {
        shown_reserved_cpus(&master, "ml") == Some(2.0)
    });

    // The operator gives the dynamic cpu back (it must be free: ml's
    // outstanding offers are rescinded for it).
    let agent_id = get_json(&master, "/master/slaves").expect("agents")["slaves"][0]["id"]
        .as_str()
        .expect("agent ID")
        .to_string();
    let resources: Vec<serde_json::Value> = dynamic_cpus("ml", 1.0)
        .iter()
        .map(meseta_proto::json::to_value)
        .collect();
    let unreserve = json!({"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
        "agent_id": {"value": agent_id}, "resources": resources}});
    wait_until(DEADLINE, "UNRESERVE_RESOURCES accepted", || {
        call_json(&master, unreserve.clone()).0 == 200
    });
    wait_until(Duration::from_secs(10), "one cpu reserved again", || {
        shown_reserved_cpus(&master, "ml") == Some(1.0)
    });
    // A static reservation cannot be undone that way.
    let mut static_cpu = meseta_proto::resources::parse_resources("cpus(ml):1").expect("resources");
    static_cpu[0].allocation_info = None;
    let refused = json!({"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
        "agent_id": {"value": agent_id},
        "resources": [meseta_proto::json::to_value(&static_cpu[0])]}});
    let (status, body) = call_json(&master, refused);
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("static"), "{body}");
}

/// Reserved disk for `ml` made volume `v1`, seen at `data` in sandboxes.
pub fn volume_v1() -> v1::Resource {
    use v1::resource::{disk_info, DiskInfo};
    v1::Resource {
        reservations: vec![ReservationInfo {
            r#type: Some(reservation_info::Type::Static as i32),
            role: Some("ml".into()),
            ..Default::default()
        }],
        disk: Some(Box::new(DiskInfo {
            persistence: Some(disk_info::Persistence {
                id: "v1".into(),
                principal: Some("alice".into()),
            }),
            volume: Some(v1::Volume {
                container_path: "data".into(),
                mode: v1::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        })),
        ..meseta_proto::resources::scalar("disk", 64.0)
    }
}

fn with_volume(id: &str, offer: &v1::Offer, command: &str) -> v1::TaskInfo {
    let mut task = command_task(id, offer, command, "cpus:0.1;mem:32");
    task.resources.push(volume_v1());
    task
}

/// Waits for an offer of `ml`'s reserved disk, then makes volume `v1` of
/// it and launches `task(offer)` on the volume, in one ACCEPT.
pub fn create_volume_and_launch(
    ml: &mut TestFramework,
    task: impl FnOnce(&v1::Offer) -> v1::TaskInfo,
) {
    let offer = loop {
        let offers = ml.offers();
        if let Some(offer) = offers.iter().find(|o| {
            o.resources
                .iter()
                .any(|r| r.name == "disk" && reserved_role(r) == Some("ml"))
        }) {
            break offer.clone();
        }
        for offer in &offers {
            ml.driver.decline_offer(&offer.id, briefly());
        }
    };
    let create = v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Create as i32),
        create: Some(v1::offer::operation::Create {
            volumes: vec![volume_v1()],
        }),
        ..Default::default()
    };
    let launch = v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Launch as i32),
        launch: Some(v1::offer::operation::Launch {
            task_infos: vec![task(&offer)],
        }),
        ..Default::default()
    };
    ml.driver.accept_offers(
        std::slice::from_ref(&offer.id),
        vec![create, launch],
        briefly(),
    );
}

/// The next offer holding volume `v1` (declining the others).
pub fn offer_with_volume(fw: &mut TestFramework) -> v1::Offer {
    loop {
        let offers = fw.offers();
        let found = offers.iter().find(|o| {
            o.resources.iter().any(|r| {
                r.disk
                    .as_ref()
                    .and_then(|d| d.persistence.as_ref())
                    .is_some_and(|p| p.id == "v1")
            })
        });
        if let Some(offer) = found {
            return offer.clone();
        }
        for offer in &offers {
            fw.driver.decline_offer(&offer.id, briefly());
        }
    }
}

#[test]
fn a_persistent_volume_keeps_its_data_for_the_next_task_across_an_agent_restart() {
    let mut tc = start_cluster(1, "cpus:2;mem:512;disk(ml):100", &[]);
    let master = tc.master();
    let mut ml = TestFramework::start(&master, in_role("trainer", "ml"));
    create_volume_and_launch(&mut ml, |offer| {
        with_volume("writer", offer, "echo hello > data/greeting")
    });
    let ended = ml.terminal("writer");
    assert_eq!(ended.state, v1::TaskState::TaskFinished as i32, "{ended:?}");

    tc.cluster.restart_agent(0).expect("agent restarts");
    wait_for_active_agent(&tc, None);
    // An offer made before the restart was rescinded with it; its launch
    // ends TASK_LOST ("no longer valid") and the next offer is used.
    let mut attempt = 0;
    let ended = loop {
        attempt += 1;
        let offer = offer_with_volume(&mut ml);
        let id = format!("reader-{attempt}");
        let reader = with_volume(&id, &offer, "grep -q hello data/greeting");
        ml.driver
            .launch_tasks(std::slice::from_ref(&offer.id), vec![reader], briefly());
        let ended = ml.terminal(&id);
        let stale = ended.reason == Some(v1::task_status::Reason::InvalidOffers as i32);
        if !stale || attempt == 3 {
            break ended;
        }
    };
    assert_eq!(
        ended.state,
        v1::TaskState::TaskFinished as i32,
        "the next task reads what the first wrote: {ended:?}"
    );
}
