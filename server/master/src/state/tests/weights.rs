//! Role weights: set by UPDATE_WEIGHTS (or seeded by `--weights`), kept in
//! the registry, and what the allocator divides each role's share by.

use meseta_proto::master as operator;
use meseta_proto::registry::operation::Kind;

use super::*;
use crate::registry::RegistryState;

fn update_weights(weights: &[(&str, f64)]) -> operator::Call {
    operator::Call {
        r#type: Some(operator::call::Type::UpdateWeights as i32),
        update_weights: Some(operator::call::UpdateWeights {
            weight_infos: weights
                .iter()
                .map(|(role, weight)| v1::WeightInfo {
                    role: Some(role.to_string()),
                    weight: *weight,
                })
                .collect(),
        }),
        ..Default::default()
    }
}

/// The weights among `actions`' registry operations.
fn persisted(actions: &[Action]) -> Vec<(String, f64)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Persist(op) => match &op.kind {
                Some(Kind::SetWeight(info)) => Some((info.role.clone()?, info.weight)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn weights_are_persisted_and_split_the_cluster_between_greedy_roles() {
    let mut h = Harness::new();
    let actions = h
        .master
        .operator_call(h.now, update_weights(&[("light", 1.0), ("heavy", 3.0)]))
        .expect("valid weights");
    let mut stored = persisted(&actions);
    stored.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(stored, [("heavy".into(), 3.0), ("light".into(), 1.0)]);
    assert_eq!(h.master.weight_of("heavy"), 3.0);
    assert_eq!(h.master.weight_of("other"), 1.0);

    for link in 1..=8 {
        h.register(link, mock::agent().with_resources("cpus:1;mem:1024"));
    }
    h.subscribe(10, mock::framework().with_roles(&["light"]).build());
    h.subscribe(20, mock::framework().with_roles(&["heavy"]).build());
    h.actions.clear();
    // Greedy: both keep every offer they get; a cycle hands out all eight
    // agents, each to the role then lowest in weighted share.
    h.advance(Duration::from_secs(1));
    let (light_cpus, heavy_cpus) = (h.offered_cpus(10), h.offered_cpus(20));
    assert_eq!(
        (light_cpus, heavy_cpus),
        (2.0, 6.0),
        "a 1:3 split of 8 cpus"
    );
}

#[test]
fn a_wrong_weight_refuses_the_whole_call_and_changes_nothing() {
    let mut h = Harness::new();
    for (weights, complaint) in [
        (vec![("ok", 2.0), ("", 2.0)], "empty"),
        (vec![("ok", 2.0), ("-x", 2.0)], "starts with '-'"),
        (vec![("ok", 2.0), ("bad role", 2.0)], "whitespace"),
        (vec![("ok", 2.0), ("zero", 0.0)], "above zero"),
        (vec![("ok", 2.0), ("nan", f64::NAN)], "above zero"),
        (vec![("ok", 2.0), ("ok", 3.0)], "twice"),
    ] {
        let refused = h
            .master
            .operator_call(h.now, update_weights(&weights))
            .expect_err("refused");
        assert!(
            matches!(&refused, CallError::BadRequest(m) if m.contains(complaint)),
            "{weights:?}: {refused:?}"
        );
        assert!(h.master.weights().is_empty(), "nothing was set");
    }
    let mut missing_role = update_weights(&[("r", 2.0)]);
    if let Some(update) = missing_role.update_weights.as_mut() {
        update.weight_infos[0].role = None;
    }
    assert!(h.master.operator_call(h.now, missing_role).is_err());
    let mut bare = update_weights(&[]);
    bare.update_weights = None;
    assert!(h.master.operator_call(h.now, bare).is_err());
}

#[test]
fn the_flag_seeds_a_new_registry_and_the_registry_wins_after() {
    let flag = |pairs: &[(&str, f64)]| Settings {
        weights: pairs.iter().map(|(r, w)| (r.to_string(), *w)).collect(),
        ..Settings::default()
    };
    let mut first = Harness::with_settings(flag(&[("eng", 2.0)]));
    let actions = first.master.recover(first.now, RegistryState::default());
    assert_eq!(persisted(&actions), [("eng".into(), 2.0)]);
    assert_eq!(first.master.weight_of("eng"), 2.0);

    let mut registry = RegistryState::default();
    for action in &actions {
        if let Action::Persist(op) = action {
            registry.apply(op);
        }
    }
    let changed = first
        .master
        .operator_call(first.now, update_weights(&[("eng", 4.0)]))
        .expect("valid");
    for action in &changed {
        if let Action::Persist(op) = action {
            registry.apply(op);
        }
    }

    // The next leader was started with another --weights: the operator's
    // weight in the registry is the one in force, and nothing is written.
    let mut next = Harness::with_settings(flag(&[("eng", 5.0), ("ops", 2.0)]));
    let actions = next.master.recover(next.now, registry);
    assert!(persisted(&actions).is_empty());
    assert_eq!(next.master.weight_of("eng"), 4.0);
    assert_eq!(next.master.weight_of("ops"), 1.0);
    let roles = crate::state::operator::views::roles(&next.master);
    let eng = roles
        .roles
        .iter()
        .find(|r| r.name == "eng")
        .expect("listed");
    assert_eq!(eng.weight, 4.0);
}

#[test]
fn a_framework_with_an_invalid_or_repeated_role_cannot_subscribe() {
    let mut h = Harness::new();
    for (roles, complaint) in [
        (&["my role"][..], "whitespace"),
        (&["eng/"][..], "start or end with '/'"),
        (&["eng", "eng"][..], "twice"),
    ] {
        let call = mock::subscribe(mock::framework().with_roles(roles).build());
        let Err(refused) = h.master.subscribe(h.now, call, 1) else {
            panic!("{roles:?} subscribed");
        };
        assert!(
            matches!(&refused, CallError::BadRequest(m) if m.contains(complaint)),
            "{roles:?}: {refused:?}"
        );
    }
    assert!(h.master.frameworks().is_empty());
    h.subscribe(2, mock::framework().with_roles(&["eng/ml"]).build());
    assert_eq!(h.master.frameworks().len(), 1);
}

#[test]
fn roles_below_roles_share_their_parents_part_and_parents_are_listed() {
    let mut h = Harness::new();
    for link in 1..=8 {
        h.register(link, mock::agent().with_resources("cpus:1;mem:1024"));
    }
    h.subscribe(10, mock::framework().with_roles(&["eng/ml"]).build());
    h.subscribe(20, mock::framework().with_roles(&["eng/web"]).build());
    h.subscribe(30, mock::framework().with_roles(&["ops"]).build());
    h.actions.clear();
    h.advance(Duration::from_secs(1));
    let split = (h.offered_cpus(10), h.offered_cpus(20), h.offered_cpus(30));
    assert_eq!(
        split,
        (2.0, 2.0, 4.0),
        "ops and eng halve it; eng's half is halved again"
    );
    let roles = crate::state::operator::views::roles(&h.master);
    let cpus_of = |name: &str| {
        roles.roles.iter().find(|r| r.name == name).map(|r| {
            r.resources
                .iter()
                .filter(|res| res.name == "cpus")
                .filter_map(|res| res.scalar.as_ref())
                .map(|s| s.value)
                .sum::<f64>()
        })
    };
    assert_eq!(
        cpus_of("eng"),
        Some(4.0),
        "the parent holds what is below it"
    );
    assert_eq!(cpus_of("eng/ml"), Some(2.0));
}
