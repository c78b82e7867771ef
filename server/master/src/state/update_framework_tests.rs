//! UPDATE_FRAMEWORK and `suppressed_roles`, as the state machine sees them:
//! what changes, what is refused (and then left untouched), what is
//! persisted, and how suppression turns offers off and on.

use meseta_proto::registry::{operation::Kind, Operation};

use super::*;
use crate::registry::RegistryState;

/// The registry operations among the harness's pending actions (taken out).
fn take_persisted(h: &mut Harness) -> Vec<Operation> {
    let mut out = Vec::new();
    h.actions.retain(|a| match a {
        Action::Persist(op) => {
            out.push(op.clone());
            false
        }
        _ => true,
    });
    out
}

/// The framework's current info, as UPDATE_FRAMEWORK wants it (ID set).
fn current_info(h: &Harness, framework_id: &str) -> v1::FrameworkInfo {
    h.master.frameworks()[framework_id].info.clone()
}

/// A change to a `FrameworkInfo`.
type Change = fn(&mut v1::FrameworkInfo);

fn update_call(info: v1::FrameworkInfo, suppressed_roles: &[&str]) -> Call {
    Call {
        r#type: Some(call::Type::UpdateFramework as i32),
        update_framework: Some(call::UpdateFramework {
            framework_info: info,
            suppressed_roles: suppressed_roles.iter().map(|r| r.to_string()).collect(),
            offer_constraints: None,
        }),
        ..Default::default()
    }
}

fn subscribe_suppressed(
    h: &mut Harness,
    conn: ConnId,
    info: v1::FrameworkInfo,
    suppressed_roles: &[&str],
) -> Result<(String, String), CallError> {
    let call = Call {
        framework_id: info.id.clone(),
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: info,
            suppressed_roles: suppressed_roles.iter().map(|r| r.to_string()).collect(),
            offer_constraints: None,
        }),
        ..Default::default()
    };
    let subscribed = h.master.subscribe(h.now, call, conn)?;
    h.actions.extend(subscribed.actions);
    Ok((subscribed.framework_id, subscribed.stream_id))
}

fn with_roles(name: &str, roles: &[&str]) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        roles: roles.iter().map(|r| r.to_string()).collect(),
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..framework_info(name, false)
    }
}

fn decline(offer: &v1::Offer, refuse_seconds: f64) -> Call {
    Call {
        r#type: Some(call::Type::Decline as i32),
        decline: Some(call::Decline {
            offer_ids: vec![offer.id.clone()],
            filters: Some(v1::Filters {
                refuse_seconds: Some(refuse_seconds),
            }),
        }),
        ..Default::default()
    }
}

/// Ticks `seconds` times, one second apart, and returns the offers made.
fn offers_over(h: &mut Harness, conn: ConnId, seconds: u64) -> Vec<v1::Offer> {
    let mut out = Vec::new();
    for _ in 0..seconds {
        h.advance(Duration::from_secs(1));
        out.extend(h.offers(conn));
    }
    out
}

#[test]
fn update_framework_changes_name_and_failover_timeout_and_persists_them() {
    let mut h = Harness::new();
    let fw = h.subscribe(10, framework_info("agent-fw", false));
    take_persisted(&mut h);

    let mut info = current_info(&h, &fw.0);
    info.name = "agent-fw-renamed".into();
    info.failover_timeout = Some(3600.0);
    info.webui_url = Some("http://ui.example:8080".into());
    h.call(&fw, update_call(info.clone(), &[])).unwrap();

    let framework = &h.master.frameworks()[&fw.0];
    assert_eq!(framework.info.name, "agent-fw-renamed");
    assert_eq!(framework.info.failover_timeout, Some(3600.0));
    assert_eq!(framework.info, info);
    assert!(framework.active && !framework.suppressed());
    assert!(matches!(
        take_persisted(&mut h).as_slice(),
        [Operation { kind: Some(Kind::SaveFramework(saved)) }] if *saved == info
    ));

    // The new failover timeout is the one a disconnection starts.
    let actions = h.master.framework_disconnected(h.now, 10);
    h.actions.extend(actions);
    assert_eq!(
        h.master.frameworks()[&fw.0].failover_deadline,
        Some(h.now + Duration::from_secs(3600))
    );
}

#[test]
fn an_update_that_changes_nothing_persists_nothing() {
    let mut h = Harness::new();
    let fw = h.subscribe(10, framework_info("agent-fw", false));
    take_persisted(&mut h);
    let info = current_info(&h, &fw.0);
    h.call(&fw, update_call(info, &[])).unwrap();
    assert!(take_persisted(&mut h).is_empty());
}

#[test]
fn changing_principal_user_or_checkpoint_is_refused_and_nothing_changes() {
    let mut h = Harness::new();
    h.add_agent(1, "cpus:1;mem:256");
    let fw = h.subscribe(10, framework_info("agent-fw", false));
    take_persisted(&mut h);
    let before = current_info(&h, &fw.0);
    let changes: [(&str, Change); 3] = [
        ("principal", |i| i.principal = Some("mallory".into())),
        ("user", |i| i.user = "nobody".into()),
        ("checkpoint", |i| i.checkpoint = Some(true)),
    ];
    for (field, change) in changes {
        let mut info = before.clone();
        info.name = "renamed".into();
        change(&mut info);
        // Suppression is part of the refused call too.
        let refused = h.call(&fw, update_call(info, &["*"]));
        match refused {
            Err(CallError::BadRequest(message)) => {
                assert!(message.contains(field), "{field}: {message}")
            }
            other => panic!("{field}: expected a 400, got {other:?}"),
        }
        let framework = &h.master.frameworks()[&fw.0];
        assert_eq!(framework.info, before, "{field}: info unchanged");
        assert!(!framework.suppressed(), "{field}: suppression unchanged");
        assert!(
            take_persisted(&mut h).is_empty(),
            "{field}: nothing persisted"
        );
    }
    assert_eq!(h.master.counters().invalid_calls, 3);
    // Offers still flow: the refused suppression did not happen.
    assert_eq!(offers_over(&mut h, 10, 1).len(), 1);
}

#[test]
fn a_framework_info_for_another_framework_is_refused() {
    let mut h = Harness::new();
    let fw = h.subscribe(10, framework_info("agent-fw", false));
    let other = h.subscribe(11, framework_info("other", false));
    take_persisted(&mut h);

    let mut info = current_info(&h, &other.0);
    info.name = "hijacked".into();
    let refused = h.call(&fw, update_call(info, &[]));
    assert!(
        matches!(&refused, Err(CallError::BadRequest(m)) if m.contains("differs")),
        "{refused:?}"
    );
    let mut no_id = current_info(&h, &fw.0);
    no_id.id = None;
    assert!(matches!(
        h.call(&fw, update_call(no_id, &[])),
        Err(CallError::BadRequest(_))
    ));
    let missing_body = Call {
        r#type: Some(call::Type::UpdateFramework as i32),
        ..Default::default()
    };
    assert!(matches!(
        h.call(&fw, missing_body),
        Err(CallError::BadRequest(_))
    ));
    assert_eq!(h.master.frameworks()[&other.0].info.name, "other");
    assert_eq!(h.master.frameworks()[&fw.0].info.name, "agent-fw");
    assert!(take_persisted(&mut h).is_empty());
}

#[test]
fn a_suppressed_role_gets_no_offers_and_unsuppressing_resumes_them() {
    let mut h = Harness::new();
    h.add_agent(1, "cpus:1;mem:256");
    let fw = h.subscribe(10, framework_info("agent-fw", false));
    let offer = offers_over(&mut h, 10, 1).remove(0);

    let info = current_info(&h, &fw.0);
    h.call(&fw, update_call(info.clone(), &["*"])).unwrap();
    assert!(h.master.frameworks()[&fw.0].suppressed());
    // Suppression keeps the outstanding offer (Mesos does not rescind it).
    assert!(h.events(10).iter().all(|e| e.rescind.is_none()));
    assert!(h.master.offers().contains_key(&offer.id.value));

    // Declined without a filter: still nothing while suppressed.
    h.call(&fw, decline(&offer, 0.0)).unwrap();
    assert!(offers_over(&mut h, 10, 10).is_empty());

    h.call(&fw, update_call(info, &[])).unwrap();
    assert!(!h.master.frameworks()[&fw.0].suppressed());
    assert!(h.master.allocation_wanted());
    assert_eq!(offers_over(&mut h, 10, 1).len(), 1);
}

#[test]
fn filters_survive_an_update_unless_the_role_leaves_the_suppressed_set() {
    let mut h = Harness::new();
    h.add_agent(1, "cpus:1;mem:256");
    let fw = h.subscribe(10, framework_info("agent-fw", false));
    let offer = offers_over(&mut h, 10, 1).remove(0);
    h.call(&fw, decline(&offer, 3600.0)).unwrap();

    // A role that stays unsuppressed keeps its filter (REVIVE would drop it).
    let mut info = current_info(&h, &fw.0);
    info.name = "renamed".into();
    h.call(&fw, update_call(info.clone(), &[])).unwrap();
    assert!(offers_over(&mut h, 10, 5).is_empty());

    // A role leaving the suppressed set is revived, filters included.
    h.call(&fw, update_call(info.clone(), &["*"])).unwrap();
    assert!(offers_over(&mut h, 10, 2).is_empty());
    h.call(&fw, update_call(info, &[])).unwrap();
    assert_eq!(offers_over(&mut h, 10, 1).len(), 1);
}

#[test]
fn subscribe_with_a_suppressed_role_gets_no_offers_until_updated() {
    let mut h = Harness::new();
    h.add_agent(1, "cpus:1;mem:256");
    let refused = subscribe_suppressed(&mut h, 10, with_roles("bad", &["a"]), &["b"]);
    assert!(
        matches!(refused, Err(CallError::BadRequest(_))),
        "{refused:?}"
    );
    assert!(h.master.frameworks().is_empty());

    let fw = subscribe_suppressed(&mut h, 10, with_roles("agent-fw", &["a"]), &["a"]).unwrap();
    assert!(h.master.frameworks()[&fw.0].suppressed());
    assert!(offers_over(&mut h, 10, 3).is_empty());

    let info = current_info(&h, &fw.0);
    h.call(&fw, update_call(info, &[])).unwrap();
    let offers = offers_over(&mut h, 10, 1);
    assert_eq!(offers.len(), 1);
    let role = offers[0]
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.clone());
    assert_eq!(role.as_deref(), Some("a"));
}

#[test]
fn a_re_subscription_replaces_the_suppressed_roles() {
    let mut h = Harness::new();
    h.add_agent(1, "cpus:1;mem:256");
    let fw = subscribe_suppressed(&mut h, 10, with_roles("agent-fw", &["a"]), &["a"]).unwrap();
    assert!(offers_over(&mut h, 10, 2).is_empty());
    let info = current_info(&h, &fw.0);
    subscribe_suppressed(&mut h, 11, info, &[]).unwrap();
    assert!(!h.master.frameworks()[&fw.0].suppressed());
    assert_eq!(offers_over(&mut h, 11, 1).len(), 1);
}

#[test]
fn a_role_change_moves_the_framework_and_rescinds_offers_of_the_old_role() {
    let mut h = Harness::new();
    h.add_agent(1, "cpus:1;mem:256");
    let fw = h.subscribe(10, with_roles("agent-fw", &["a"]));
    let offer = offers_over(&mut h, 10, 1).remove(0);

    let mut info = current_info(&h, &fw.0);
    info.roles = vec!["b".into()];
    let refused = h.call(&fw, update_call(info.clone(), &["a"]));
    assert!(
        matches!(refused, Err(CallError::BadRequest(_))),
        "{refused:?}"
    );
    assert_eq!(h.master.frameworks()[&fw.0].role(), "a");

    h.call(&fw, update_call(info, &[])).unwrap();
    assert_eq!(h.master.frameworks()[&fw.0].role(), "b");
    let rescinded: Vec<String> = h
        .events(10)
        .into_iter()
        .filter_map(|e| e.rescind.map(|r| r.offer_id.value))
        .collect();
    assert_eq!(rescinded, vec![offer.id.value.clone()]);
    assert!(h.master.offers().is_empty());

    let offers = offers_over(&mut h, 10, 1);
    assert_eq!(offers.len(), 1);
    let role = offers[0]
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.clone());
    assert_eq!(role.as_deref(), Some("b"));
}

#[test]
fn an_updated_framework_info_survives_a_failover() {
    let mut h = Harness::new();
    let mut registry = RegistryState::default();
    let fw = h.subscribe(10, framework_info("agent-fw", false));
    let mut info = current_info(&h, &fw.0);
    info.name = "agent-fw-renamed".into();
    info.failover_timeout = Some(600.0);
    h.call(&fw, update_call(info.clone(), &[])).unwrap();
    take_persisted(&mut h)
        .iter()
        .for_each(|op| registry.apply(op));
    assert_eq!(registry.frameworks.get(&fw.0), Some(&info));

    let mut second = Harness::new();
    second.master.recover(second.now, registry);
    assert_eq!(second.master.frameworks()[&fw.0].info, info);
}

fn roles_call(kind: call::Type, roles: &[&str]) -> Call {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let mut out = Call {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    if kind == call::Type::Revive {
        out.revive = Some(call::Revive { roles });
    } else {
        out.suppress = Some(call::Suppress { roles });
    }
    out
}

#[test]
fn suppress_and_revive_act_on_the_roles_they_name() {
    let mut h = Harness::new();
    let fw =
        subscribe_suppressed(&mut h, 10, with_roles("two-roles", &["busy", "idle"]), &[]).unwrap();
    let suppressed = |h: &Harness| -> Vec<String> {
        h.master.frameworks()[&fw.0]
            .suppressed_roles
            .iter()
            .cloned()
            .collect()
    };
    h.call(&fw, roles_call(call::Type::Suppress, &["idle"]))
        .unwrap();
    assert_eq!(suppressed(&h), ["idle"], "'busy' is still offered");
    h.call(&fw, roles_call(call::Type::Suppress, &["elsewhere"]))
        .unwrap();
    assert_eq!(
        suppressed(&h),
        ["idle"],
        "a role not subscribed to is ignored"
    );
    h.call(&fw, roles_call(call::Type::Suppress, &["busy"]))
        .unwrap();
    assert!(h.master.frameworks()[&fw.0].suppressed());
    h.call(&fw, roles_call(call::Type::Revive, &["idle"]))
        .unwrap();
    assert_eq!(suppressed(&h), ["busy"]);
    h.call(&fw, roles_call(call::Type::Revive, &[])).unwrap();
    assert!(
        suppressed(&h).is_empty(),
        "REVIVE without roles revives every role"
    );
    h.call(&fw, roles_call(call::Type::Suppress, &[])).unwrap();
    assert_eq!(
        suppressed(&h),
        ["busy", "idle"],
        "SUPPRESS without roles: all"
    );
}

#[test]
fn a_task_stays_in_the_role_it_was_launched_in_after_a_role_change() {
    use crate::state::operator::views::role_usage;
    let mut h = Harness::new();
    let agent = h.add_agent(1, "cpus:2;mem:512");
    let fw = h.subscribe(10, with_roles("mover", &["a"]));
    let offer = offers_over(&mut h, 10, 1).remove(0);
    h.call(
        &fw,
        accept(&offer, vec![task("t1", &agent, "cpus:1;mem:128")]),
    )
    .expect("launched");
    let mut info = current_info(&h, &fw.0);
    info.roles = vec!["b".into()];
    h.call(&fw, update_call(info, &[])).expect("updated");

    let cpus = |h: &Harness, role: &str| {
        role_usage(&h.master)
            .get(role)
            .map(|u| u.used.scalar_milli("cpus"))
    };
    assert_eq!(cpus(&h, "a"), Some(1000), "the task is still a's");
    assert_eq!(cpus(&h, "b"), Some(0));
    // While it runs, b is offered only what a's task leaves free.
    let offered: f64 = offers_over(&mut h, 10, 1)
        .iter()
        .map(|o| mock::scalar(o, "cpus"))
        .sum();
    assert_eq!(offered, 1.0);

    h.status(1, &fw.0, "t1", TaskState::TaskFinished);
    assert_eq!(cpus(&h, "a"), None, "a holds nothing and has no framework");
    // Its cpu comes back to the free pool, and so to b.
    let freed = offers_over(&mut h, 10, 1);
    assert_eq!(freed.len(), 1, "{freed:?}");
    assert_eq!(mock::scalar(&freed[0], "cpus"), 1.0);
    let role = freed[0]
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.clone());
    assert_eq!(role.as_deref(), Some("b"));
}
