//! Offer constraints (Mesos 1.11's `offer_constraints` in SUBSCRIBE and
//! UPDATE_FRAMEWORK): a framework says, per role, on which agents it wants
//! offers, by their attributes, host name, region and zone; agents that do
//! not match are not offered to it in that role at all.
//!
//! A role's constraints are groups: an agent matches when it satisfies
//! every constraint of at least one group. Predicates on an attribute:
//! exists, does not exist, TEXT value equals or does not equal a string,
//! matches or does not match a regular expression (the whole value). An
//! attribute that is not TEXT (a scalar, ranges, a set) never equals or
//! matches, so it always satisfies the negated predicates. Where an agent
//! has an attribute several times, the first counts.
//!
//! Constraints are compiled once ([`OfferConstraints::compile`], which is
//! also how the master validates them) and checked in the allocation walk
//! only for frameworks that set them.

use meseta_proto::scheduler::attribute_constraint::predicate::Predicate as ProtoPredicate;
use meseta_proto::scheduler::attribute_constraint::selector::{
    PseudoattributeType, Selector as ProtoSelector,
};
use meseta_proto::scheduler::offer_constraints::RoleConstraints;
use meseta_proto::v1;
use regex::Regex;

/// What constraints can see of an agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentProfile {
    /// Its host name.
    pub hostname: String,
    /// Its fault domain's region and zone, if it has a domain.
    pub region: Option<String>,
    /// See `region`.
    pub zone: Option<String>,
    /// Its attributes in order: name, and the value if it is TEXT.
    pub attributes: Vec<(String, Option<String>)>,
}

impl AgentProfile {
    /// The profile of an agent as it registered.
    pub fn of(info: &v1::AgentInfo) -> AgentProfile {
        let domain = info.domain.as_ref().and_then(|d| d.fault_domain.as_ref());
        AgentProfile {
            hostname: info.hostname.clone(),
            region: domain.map(|f| f.region.name.clone()),
            zone: domain.map(|f| f.zone.name.clone()),
            attributes: info
                .attributes
                .iter()
                .map(|a| {
                    let text = (a.r#type == v1::value::Type::Text as i32)
                        .then(|| a.text.as_ref().map(|t| t.value.clone()))
                        .flatten();
                    (a.name.clone(), text)
                })
                .collect(),
        }
    }
}

/// What a constraint looks at.
#[derive(Debug)]
enum Selector {
    Hostname,
    Region,
    Zone,
    Attribute(String),
}

#[derive(Debug)]
enum Predicate {
    Exists,
    NotExists,
    Equals(String),
    NotEquals(String),
    Matches(Regex),
    NotMatches(Regex),
}

/// The value selected on an agent: absent, present but not TEXT, or TEXT.
enum Found<'a> {
    Absent,
    NotText,
    Text(&'a str),
}

/// One role's compiled constraints.
#[derive(Debug)]
pub struct OfferConstraints {
    groups: Vec<Vec<(Selector, Predicate)>>,
}

/// Most memory one regular expression may compile to: a framework cannot
/// make the master build a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl OfferConstraints {
    /// Compiles a role's constraints, or says what is wrong with them.
    pub fn compile(role: &RoleConstraints) -> Result<OfferConstraints, String> {
        if role.groups.is_empty() {
            return Err("has no groups (leave the role out to have no constraints)".into());
        }
        let groups = role
            .groups
            .iter()
            .map(|group| {
                group
                    .attribute_constraints
                    .iter()
                    .map(|c| Ok((selector(&c.selector)?, predicate(&c.predicate)?)))
                    .collect::<Result<Vec<_>, String>>()
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(OfferConstraints { groups })
    }

    /// Whether an agent may be offered.
    pub fn allows(&self, agent: &AgentProfile) -> bool {
        self.groups
            .iter()
            .any(|group| group.iter().all(|(s, p)| holds(p, find(s, agent))))
    }
}

fn selector(
    selector: &meseta_proto::scheduler::attribute_constraint::Selector,
) -> Result<Selector, String> {
    match &selector.selector {
        Some(ProtoSelector::AttributeName(name)) if !name.is_empty() => {
            Ok(Selector::Attribute(name.clone()))
        }
        Some(ProtoSelector::AttributeName(_)) => Err("names an empty attribute".into()),
        Some(ProtoSelector::PseudoattributeType(kind)) => {
            match PseudoattributeType::try_from(*kind) {
                Ok(PseudoattributeType::Hostname) => Ok(Selector::Hostname),
                Ok(PseudoattributeType::Region) => Ok(Selector::Region),
                Ok(PseudoattributeType::Zone) => Ok(Selector::Zone),
                _ => Err(format!("has an unknown pseudoattribute type {kind}")),
            }
        }
        None => Err("has a constraint without a selector".into()),
    }
}

fn predicate(
    predicate: &meseta_proto::scheduler::attribute_constraint::Predicate,
) -> Result<Predicate, String> {
    let regex = |text: &str| {
        regex::RegexBuilder::new(&format!("^(?:{text})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("has an invalid regular expression '{text}': {e}"))
    };
    Ok(match &predicate.predicate {
        Some(ProtoPredicate::Exists(_)) => Predicate::Exists,
        Some(ProtoPredicate::NotExists(_)) => Predicate::NotExists,
        Some(ProtoPredicate::TextEquals(t)) => Predicate::Equals(t.value.clone()),
        Some(ProtoPredicate::TextNotEquals(t)) => Predicate::NotEquals(t.value.clone()),
        Some(ProtoPredicate::TextMatches(t)) => Predicate::Matches(regex(&t.regex)?),
        Some(ProtoPredicate::TextNotMatches(t)) => Predicate::NotMatches(regex(&t.regex)?),
        None => return Err("has a constraint without a predicate".into()),
    })
}

fn find<'a>(selector: &Selector, agent: &'a AgentProfile) -> Found<'a> {
    let text = |value: Option<&'a String>| value.map_or(Found::Absent, |v| Found::Text(v));
    match selector {
        Selector::Hostname => Found::Text(&agent.hostname),
        Selector::Region => text(agent.region.as_ref()),
        Selector::Zone => text(agent.zone.as_ref()),
        Selector::Attribute(name) => agent
            .attributes
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Found::Absent, |(_, v)| {
                v.as_deref().map_or(Found::NotText, Found::Text)
            }),
    }
}

fn holds(predicate: &Predicate, found: Found<'_>) -> bool {
    let text = match found {
        Found::Absent => {
            return matches!(
                predicate,
                Predicate::NotExists | Predicate::NotEquals(_) | Predicate::NotMatches(_)
            )
        }
        Found::NotText => None,
        Found::Text(t) => Some(t),
    };
    match predicate {
        Predicate::Exists => true,
        Predicate::NotExists => false,
        Predicate::Equals(v) => text == Some(v.as_str()),
        Predicate::NotEquals(v) => text != Some(v.as_str()),
        Predicate::Matches(re) => text.is_some_and(|t| re.is_match(t)),
        Predicate::NotMatches(re) => !text.is_some_and(|t| re.is_match(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::{AgentProfile, OfferConstraints};
    use meseta_proto::scheduler::attribute_constraint::predicate::{
        Exists, NotExists, Predicate as P, TextEquals, TextMatches, TextNotEquals, TextNotMatches,
    };
    use meseta_proto::scheduler::attribute_constraint::selector::{
        PseudoattributeType, Selector as S,
    };
    use meseta_proto::scheduler::attribute_constraint::{Predicate, Selector};
    use meseta_proto::scheduler::offer_constraints::role_constraints::Group;
    use meseta_proto::scheduler::offer_constraints::RoleConstraints;
    use meseta_proto::scheduler::AttributeConstraint;

    fn on(name: &str, predicate: P) -> AttributeConstraint {
        AttributeConstraint {
            selector: Selector {
                selector: Some(S::AttributeName(name.into())),
            },
            predicate: Predicate {
                predicate: Some(predicate),
            },
        }
    }

    fn groups(groups: Vec<Vec<AttributeConstraint>>) -> RoleConstraints {
        RoleConstraints {
            groups: groups
                .into_iter()
                .map(|attribute_constraints| Group {
                    attribute_constraints,
                })
                .collect(),
        }
    }

    fn agent(attributes: &[(&str, Option<&str>)]) -> AgentProfile {
        AgentProfile {
            hostname: "host-1".into(),
            region: None,
            zone: Some("z1".into()),
            attributes: attributes
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect(),
        }
    }

    fn allows(constraints: Vec<Vec<AttributeConstraint>>, agent: &AgentProfile) -> bool {
        OfferConstraints::compile(&groups(constraints))
            .expect("valid")
            .allows(agent)
    }

    #[test]
    fn each_predicate_on_text_absent_and_other_attributes() {
        let a = agent(&[("rack", Some("r1")), ("cores", None)]);
        let eq = |v: &str| P::TextEquals(TextEquals { value: v.into() });
        let ne = |v: &str| P::TextNotEquals(TextNotEquals { value: v.into() });
        let re = |r: &str| P::TextMatches(TextMatches { regex: r.into() });
        let nre = |r: &str| P::TextNotMatches(TextNotMatches { regex: r.into() });
        let cases = [
            ("rack", P::Exists(Exists {}), true),
            ("gone", P::Exists(Exists {}), false),
            ("gone", P::NotExists(NotExists {}), true),
            ("cores", P::Exists(Exists {}), true),
            ("rack", eq("r1"), true),
            ("rack", eq("r"), false),
            ("rack", ne("r2"), true),
            ("gone", ne("r2"), true),
            ("cores", eq("8"), false),
            ("cores", ne("8"), true),
            ("rack", re("r[0-9]"), true),
            ("rack", re("r"), false),
            ("rack", nre("x.*"), true),
            ("cores", re(".*"), false),
            ("cores", nre(".*"), true),
        ];
        for (name, predicate, expected) in cases {
            let shown = format!("{name} {predicate:?}");
            assert_eq!(
                allows(vec![vec![on(name, predicate)]], &a),
                expected,
                "{shown}"
            );
        }
    }

    #[test]
    fn an_agent_matches_when_every_constraint_of_some_group_holds() {
        let a = agent(&[("rack", Some("r1")), ("ssd", Some("yes"))]);
        let exists = |n: &str| on(n, P::Exists(Exists {}));
        assert!(allows(vec![vec![exists("rack"), exists("ssd")]], &a));
        assert!(!allows(vec![vec![exists("rack"), exists("gpu")]], &a));
        assert!(allows(vec![vec![exists("gpu")], vec![exists("ssd")]], &a));
        let hostname = AttributeConstraint {
            selector: Selector {
                selector: Some(S::PseudoattributeType(PseudoattributeType::Hostname as i32)),
            },
            predicate: Predicate {
                predicate: Some(P::TextEquals(TextEquals {
                    value: "host-1".into(),
                })),
            },
        };
        assert!(allows(vec![vec![hostname]], &a));
        let region = |p| AttributeConstraint {
            selector: Selector {
                selector: Some(S::PseudoattributeType(PseudoattributeType::Region as i32)),
            },
            predicate: Predicate { predicate: Some(p) },
        };
        assert!(allows(vec![vec![region(P::NotExists(NotExists {}))]], &a));
    }

    #[test]
    fn bad_constraints_are_refused_with_the_reason() {
        let bad_regex = on("rack", P::TextMatches(TextMatches { regex: "(".into() }));
        let refused = OfferConstraints::compile(&groups(vec![vec![bad_regex]])).unwrap_err();
        assert!(refused.contains("invalid regular expression"), "{refused}");
        let empty = OfferConstraints::compile(&groups(vec![])).unwrap_err();
        assert!(empty.contains("no groups"), "{empty}");
        let unknown = AttributeConstraint {
            selector: Selector {
                selector: Some(S::PseudoattributeType(PseudoattributeType::Unknown as i32)),
            },
            predicate: Predicate {
                predicate: Some(P::Exists(Exists {})),
            },
        };
        let refused = OfferConstraints::compile(&groups(vec![vec![unknown]])).unwrap_err();
        assert!(refused.contains("unknown pseudoattribute"), "{refused}");
        let huge = on(
            "rack",
            P::TextMatches(TextMatches {
                regex: "a{1000}{1000}".into(),
            }),
        );
        assert!(OfferConstraints::compile(&groups(vec![vec![huge]])).is_err());
    }
}
