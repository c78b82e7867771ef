//! Role quotas: UPDATE_QUOTA (and SET_QUOTA, REMOVE_QUOTA) checked whole,
//! kept in the registry, and enforced by the allocator.

use std::collections::HashMap;

use meseta_proto::master as operator;
use meseta_proto::quota::{QuotaConfig, QuotaRequest};
use meseta_proto::registry::operation::Kind;

use super::*;
use crate::registry::RegistryState;

fn amounts(list: &[(&str, f64)]) -> HashMap<String, v1::value::Scalar> {
    list.iter()
        .map(|(name, value)| (name.to_string(), v1::value::Scalar { value: *value }))
        .collect()
}

fn config(role: &str, guarantees: &[(&str, f64)], limits: &[(&str, f64)]) -> QuotaConfig {
    QuotaConfig {
        role: role.into(),
        guarantees: amounts(guarantees),
        limits: amounts(limits),
    }
}

fn update_quota(configs: Vec<QuotaConfig>, force: bool) -> operator::Call {
    operator::Call {
        r#type: Some(operator::call::Type::UpdateQuota as i32),
        update_quota: Some(operator::call::UpdateQuota {
            force: Some(force),
            quota_configs: configs,
        }),
        ..Default::default()
    }
}

#[allow(deprecated)]
fn set_quota(role: &str, cpus: f64) -> operator::Call {
    let mut guarantee =
        meseta_proto::resources::parse_resources(&format!("cpus:{cpus}")).expect("resources");
    guarantee.iter_mut().for_each(|r| r.role = None);
    operator::Call {
        r#type: Some(operator::call::Type::SetQuota as i32),
        set_quota: Some(operator::call::SetQuota {
            quota_request: QuotaRequest {
                force: None,
                role: Some(role.into()),
                guarantee,
            },
        }),
        ..Default::default()
    }
}

#[allow(deprecated)]
fn remove_quota(role: &str) -> operator::Call {
    operator::Call {
        r#type: Some(operator::call::Type::RemoveQuota as i32),
        remove_quota: Some(operator::call::RemoveQuota { role: role.into() }),
        ..Default::default()
    }
}

fn persisted(actions: &[Action]) -> Vec<QuotaConfig> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Persist(op) => match &op.kind {
                Some(Kind::SetQuota(config)) => Some(config.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn cluster(h: &mut Harness, agents: u64) {
    for link in 1..=agents {
        h.register(link, mock::agent().with_resources("cpus:1;mem:1024"));
    }
}

#[test]
fn a_guarantee_is_met_before_fair_share_and_a_limit_holds() {
    let mut h = Harness::new();
    cluster(&mut h, 8);
    let actions = h
        .master
        .operator_call(
            h.now,
            update_quota(
                vec![
                    config("guaranteed", &[("cpus", 5.0)], &[]),
                    config("capped", &[], &[("cpus", 1.0)]),
                ],
                false,
            ),
        )
        .expect("valid quotas");
    assert_eq!(persisted(&actions).len(), 2);
    for (conn, role) in [(10, "guaranteed"), (20, "capped"), (30, "other")] {
        h.subscribe(conn, mock::framework().with_roles(&[role]).build());
    }
    h.actions.clear();
    h.advance(Duration::from_secs(1));
    // Every framework keeps what it is offered.
    assert_eq!(h.offered_cpus(10), 5.0, "the guarantee first");
    assert_eq!(h.offered_cpus(20), 1.0, "the limit, however greedy");
    assert_eq!(h.offered_cpus(30), 2.0, "fair share of the rest");
    h.advance(Duration::from_secs(1));
    assert_eq!(h.offered_cpus(20), 0.0, "nothing beyond the limit later");
}

#[test]
fn a_wrong_quota_refuses_the_whole_update_and_changes_nothing() {
    let mut h = Harness::new();
    cluster(&mut h, 4);
    h.master
        .operator_call(
            h.now,
            update_quota(
                vec![config("eng", &[("cpus", 2.0)], &[("cpus", 3.0)])],
                false,
            ),
        )
        .expect("valid");
    let before = h.master.quota_status();
    let ok = config("fine", &[("cpus", 1.0)], &[]);
    for (bad, complaint) in [
        (config("*", &[("cpus", 1.0)], &[]), "default role"),
        (config("bad role", &[("cpus", 1.0)], &[]), "whitespace"),
        (config("neg", &[("cpus", -1.0)], &[]), "not negative"),
        (config("nan", &[], &[("mem", f64::NAN)]), "finite"),
        (
            config("over", &[("cpus", 2.0)], &[("cpus", 1.0)]),
            "cannot exceed its limit",
        ),
        (
            config("eng/ml", &[("cpus", 3.0)], &[]),
            "more than its own guarantee",
        ),
        (
            config("eng/web", &[], &[("cpus", 4.0)]),
            "above the 3 cpus of its ancestor 'eng'",
        ),
        (ok.clone(), "more than once"),
    ] {
        let call = update_quota(vec![ok.clone(), bad.clone()], false);
        let refused = h.master.operator_call(h.now, call).expect_err("refused");
        assert!(
            matches!(&refused, CallError::BadRequest(m) if m.contains(complaint)),
            "{bad:?}: {refused:?}"
        );
        assert_eq!(h.master.quota_status(), before, "nothing was set");
    }
    // Beyond the cluster: refused unless forced.
    let greedy = config("greedy", &[("cpus", 3.0)], &[]);
    let refused = h
        .master
        .operator_call(h.now, update_quota(vec![greedy.clone()], false))
        .expect_err("2 + 3 cpus guaranteed on 4");
    assert!(
        matches!(&refused, CallError::Conflict(m) if m.contains("exceed") && m.contains("force")),
        "{refused:?}"
    );
    assert_eq!(h.master.quota_status(), before);
    h.master
        .operator_call(h.now, update_quota(vec![greedy], true))
        .expect("forced");
    assert_eq!(h.master.quotas().len(), 2);
    // A child within its parent's guarantee and limit is fine.
    h.master
        .operator_call(
            h.now,
            update_quota(
                vec![config("eng/ml", &[("cpus", 2.0)], &[("cpus", 3.0)])],
                true,
            ),
        )
        .expect("within eng");
}

#[test]
#[allow(deprecated)]
fn set_quota_and_remove_quota_work_as_before_1_9() {
    let mut h = Harness::new();
    cluster(&mut h, 4);
    h.master
        .operator_call(h.now, set_quota("web", 2.0))
        .expect("set");
    let status = h.master.quota_status();
    assert_eq!(
        status.configs,
        [config("web", &[("cpus", 2.0)], &[("cpus", 2.0)])]
    );
    assert_eq!(status.infos.len(), 1);
    assert_eq!(status.infos[0].role.as_deref(), Some("web"));
    assert_eq!(status.infos[0].guarantee[0].name, "cpus");
    let again = h.master.operator_call(h.now, set_quota("web", 1.0));
    assert!(matches!(again, Err(CallError::BadRequest(m)) if m.contains("already has quota")));
    let actions = h
        .master
        .operator_call(h.now, remove_quota("web"))
        .expect("removed");
    assert_eq!(persisted(&actions), [config("web", &[], &[])]);
    assert!(h.master.quotas().is_empty());
    let gone = h.master.operator_call(h.now, remove_quota("web"));
    assert!(matches!(gone, Err(CallError::BadRequest(m)) if m.contains("no quota")));
}

#[test]
fn quotas_survive_in_the_registry_and_the_next_leader_enforces_them() {
    let mut h = Harness::new();
    let actions = h
        .master
        .operator_call(
            h.now,
            update_quota(vec![config("capped", &[], &[("cpus", 2.0)])], true),
        )
        .expect("valid");
    let mut registry = RegistryState::default();
    for action in &actions {
        if let Action::Persist(op) = action {
            registry.apply(op);
        }
    }
    let registry = RegistryState::from_proto(registry.to_proto());

    let mut next = Harness::new();
    next.master.recover(next.now, registry);
    assert_eq!(next.master.quotas().len(), 1);
    cluster(&mut next, 4);
    next.subscribe(10, mock::framework().with_roles(&["capped"]).build());
    next.actions.clear();
    next.advance(Duration::from_secs(1));
    assert_eq!(next.offered_cpus(10), 2.0);
}
