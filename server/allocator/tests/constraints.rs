//! Offer constraints in the allocation walk: an agent a framework's
//! constraints exclude goes to the next framework instead.

use meseta_allocator::testkit::Cluster;
use meseta_allocator::{AgentProfile, OfferConstraints};
use meseta_proto::scheduler::attribute_constraint::predicate::{Predicate as P, TextEquals};
use meseta_proto::scheduler::attribute_constraint::selector::Selector as S;
use meseta_proto::scheduler::attribute_constraint::{Predicate, Selector};
use meseta_proto::scheduler::offer_constraints::role_constraints::Group;
use meseta_proto::scheduler::offer_constraints::RoleConstraints;
use meseta_proto::scheduler::AttributeConstraint;

fn rack_is(rack: &str) -> OfferConstraints {
    let constraint = AttributeConstraint {
        selector: Selector {
            selector: Some(S::AttributeName("rack".into())),
        },
        predicate: Predicate {
            predicate: Some(P::TextEquals(TextEquals { value: rack.into() })),
        },
    };
    OfferConstraints::compile(&RoleConstraints {
        groups: vec![Group {
            attribute_constraints: vec![constraint],
        }],
    })
    .expect("valid")
}

fn on_rack(rack: &str) -> AgentProfile {
    AgentProfile {
        hostname: format!("host-{rack}"),
        attributes: vec![("rack".into(), Some(rack.into()))],
        ..AgentProfile::default()
    }
}

#[test]
fn a_constrained_framework_is_offered_only_matching_agents() {
    let mut c = Cluster::new();
    for (id, rack) in [("a1", "r1"), ("a2", "r2"), ("a3", "r1"), ("a4", "r2")] {
        c.agent(id, "cpus:1;mem:1024");
        c.allocator.describe_agent(id, on_rack(rack));
    }
    c.agent("bare", "cpus:1;mem:1024");
    c.framework("picky", "web");
    c.allocator
        .set_offer_constraints("picky", "web", Some(rack_is("r1")));
    let offers = c.cycle();
    let mut agents: Vec<&str> = offers.iter().map(|o| o.agent_id.as_str()).collect();
    agents.sort();
    assert_eq!(agents, ["a1", "a3"], "nothing on r2 or on a bare agent");

    c.framework("any", "batch");
    let offers = c.cycle();
    assert_eq!(offers.len(), 3);
    assert!(offers.iter().all(|o| o.framework_id == "any"));

    c.decline(&offers, None);
    c.allocator.set_offer_constraints("picky", "web", None);
    c.allocator
        .set_offer_constraints("any", "batch", Some(rack_is("nowhere")));
    let offers = c.cycle();
    assert_eq!(offers.len(), 3, "constraints cleared: {offers:?}");
    assert!(offers.iter().all(|o| o.framework_id == "picky"));
}
