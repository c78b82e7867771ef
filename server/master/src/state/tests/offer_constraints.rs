//! Offer constraints through SUBSCRIBE and UPDATE_FRAMEWORK: checked when
//! given, and agents they exclude are not offered.

use std::collections::HashMap;

use meseta_proto::scheduler::attribute_constraint::predicate::{
    Predicate as P, TextEquals, TextMatches,
};
use meseta_proto::scheduler::attribute_constraint::selector::Selector as S;
use meseta_proto::scheduler::attribute_constraint::{Predicate, Selector};
use meseta_proto::scheduler::offer_constraints::role_constraints::Group;
use meseta_proto::scheduler::offer_constraints::RoleConstraints;
use meseta_proto::scheduler::{AttributeConstraint, OfferConstraints};

use super::*;

fn on_attribute(role: &str, name: &str, predicate: P) -> OfferConstraints {
    let constraint = AttributeConstraint {
        selector: Selector {
            selector: Some(S::AttributeName(name.into())),
        },
        predicate: Predicate {
            predicate: Some(predicate),
        },
    };
    OfferConstraints {
        role_constraints: HashMap::from([(
            role.to_string(),
            RoleConstraints {
                groups: vec![Group {
                    attribute_constraints: vec![constraint],
                }],
            },
        )]),
    }
}

fn rack_is(role: &str, rack: &str) -> OfferConstraints {
    on_attribute(
        role,
        "rack",
        P::TextEquals(TextEquals { value: rack.into() }),
    )
}

fn subscribe_with(info: v1::FrameworkInfo, constraints: OfferConstraints) -> Call {
    let mut call = mock::subscribe(info);
    if let Some(subscribe) = call.subscribe.as_mut() {
        subscribe.offer_constraints = Some(constraints);
    }
    call
}

fn racks(h: &mut Harness) {
    for (link, rack) in [(1, "r1"), (2, "r2"), (3, "r1"), (4, "r2")] {
        h.register(
            link,
            mock::agent()
                .with_resources("cpus:1;mem:1024")
                .with_attributes(&format!("rack:{rack}")),
        );
    }
}

fn offered_racks(h: &mut Harness, conn: ConnId) -> Vec<String> {
    let mut hosts: Vec<String> = h
        .offers(conn)
        .iter()
        .map(|offer| {
            let agent = h
                .master
                .agents()
                .get(&offer.agent_id.value)
                .expect("known agent");
            agent.info.attributes[0]
                .text
                .as_ref()
                .map(|t| t.value.clone())
                .unwrap_or_default()
        })
        .collect();
    hosts.sort();
    hosts
}

#[test]
fn a_framework_is_offered_only_agents_its_constraints_allow() {
    let mut h = Harness::new();
    racks(&mut h);
    let info = mock::framework().with_roles(&["web"]).build();
    let subscribed = h
        .master
        .subscribe(h.now, subscribe_with(info, rack_is("web", "r1")), 10)
        .expect("valid constraints");
    h.actions.extend(subscribed.actions);
    h.advance(Duration::from_secs(1));
    assert_eq!(offered_racks(&mut h, 10), ["r1", "r1"]);
    let view = crate::state::snapshot::Snapshot::take(&h.master);
    let framework = crate::state::operator::views::frameworks(&view);
    assert!(
        framework.frameworks[0].offer_constraints.is_some(),
        "GET_FRAMEWORKS shows them"
    );
}

#[test]
fn constraints_for_another_role_or_with_a_bad_regex_are_refused() {
    let mut h = Harness::new();
    for (constraints, complaint) in [
        (rack_is("other", "r1"), "not among the framework's roles"),
        (
            on_attribute(
                "web",
                "rack",
                P::TextMatches(TextMatches { regex: "([".into() }),
            ),
            "invalid regular expression",
        ),
    ] {
        let info = mock::framework().with_roles(&["web"]).build();
        let Err(refused) = h
            .master
            .subscribe(h.now, subscribe_with(info, constraints), 1)
        else {
            panic!("subscribed");
        };
        assert!(
            matches!(&refused, CallError::BadRequest(m) if m.contains(complaint)),
            "{refused:?}"
        );
    }
    assert!(h.master.frameworks().is_empty(), "nothing subscribed");
}

#[test]
fn update_framework_replaces_the_constraints_and_rescinds_offers() {
    let mut h = Harness::new();
    racks(&mut h);
    let info = mock::framework().with_roles(&["web"]).build();
    let subscribed = h
        .master
        .subscribe(
            h.now,
            subscribe_with(info.clone(), rack_is("web", "r1")),
            10,
        )
        .expect("valid");
    let framework = (
        subscribed.framework_id.clone(),
        subscribed.stream_id.clone(),
    );
    h.actions.extend(subscribed.actions);
    h.advance(Duration::from_secs(1));
    assert_eq!(offered_racks(&mut h, 10), ["r1", "r1"]);

    let mut info = info;
    info.id = Some(v1::FrameworkId {
        value: framework.0.clone(),
    });
    let update = Call {
        r#type: Some(call::Type::UpdateFramework as i32),
        update_framework: Some(call::UpdateFramework {
            framework_info: info,
            suppressed_roles: vec![],
            offer_constraints: Some(rack_is("web", "r2")),
        }),
        ..Default::default()
    };
    h.call(&framework, update).expect("updated");
    let rescinded = h.events(10).iter().filter(|e| e.rescind.is_some()).count();
    assert_eq!(rescinded, 2, "the offers made under the old constraints");
    h.advance(Duration::from_secs(1));
    assert_eq!(offered_racks(&mut h, 10), ["r2", "r2"]);
}
