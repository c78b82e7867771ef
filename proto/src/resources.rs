//! Building and reading `mesos.v1.Resource` lists, and parsing the
//! `--resources` / `--attributes` flag syntax Mesos operators know:
//! `cpus:4;mem:8192;disk:10000;ports:[31000-32000]` and `rack:r1;zone:a`.
//! A resource may name the role it is statically reserved for, as in
//! `cpus(ml):4;mem(ml):8192` (`*`, or no role, is unreserved).

use crate::v1::{resource, value, Attribute, Resource, Value};

/// Errors parsing the flag syntax.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// An item lacks the `name:value` shape.
    #[error("expected NAME:VALUE, got {0:?}")]
    Shape(String),
    /// A scalar is not a non-negative number.
    #[error("resource {name}: {value:?} is not a non-negative number")]
    Scalar {
        /// Resource name.
        name: String,
        /// Offending text.
        value: String,
    },
    /// A range list is malformed.
    #[error("resource {name}: {value:?} is not a range list like [31000-32000]")]
    Ranges {
        /// Resource name.
        name: String,
        /// Offending text.
        value: String,
    },
    /// A reservation role is malformed (`cpus(ml):4` reserves for `ml`).
    #[error("resource {item:?}: {why}")]
    Role {
        /// The resource's name as written.
        item: String,
        /// Which rule it breaks.
        why: String,
    },
}

/// A scalar resource with the default role (`*`).
pub fn scalar(name: &str, amount: f64) -> Resource {
    Resource {
        name: name.to_string(),
        r#type: value::Type::Scalar as i32,
        scalar: Some(value::Scalar { value: amount }),
        ..Default::default()
    }
}

/// A ranges resource (e.g. `ports`) with the default role.
pub fn ranges(name: &str, spans: &[(u64, u64)]) -> Resource {
    Resource {
        name: name.to_string(),
        r#type: value::Type::Ranges as i32,
        ranges: Some(value::Ranges {
            range: spans
                .iter()
                .map(|&(begin, end)| value::Range { begin, end })
                .collect(),
        }),
        ..Default::default()
    }
}

/// Sum of the scalar resources named `name`.
pub fn scalar_total(resources: &[Resource], name: &str) -> f64 {
    resources
        .iter()
        .filter(|r| r.name == name)
        .filter_map(|r| r.scalar.as_ref())
        .map(|s| s.value)
        .fold(0.0, |total, x| total + x)
}

/// Every `(begin, end)` span of the ranges resources named `name`.
pub fn range_spans(resources: &[Resource], name: &str) -> Vec<(u64, u64)> {
    resources
        .iter()
        .filter(|r| r.name == name)
        .filter_map(|r| r.ranges.as_ref())
        .flat_map(|r| r.range.iter().map(|x| (x.begin, x.end)))
        .collect()
}

fn items(text: &str) -> impl Iterator<Item = Result<(&str, &str), ParseError>> {
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.split_once(':')
                .map(|(n, v)| (n.trim(), v.trim()))
                .filter(|(n, v)| !n.is_empty() && !v.is_empty())
                .ok_or_else(|| ParseError::Shape(item.to_string()))
        })
}

fn parse_ranges(name: &str, text: &str) -> Result<Vec<(u64, u64)>, ParseError> {
    let bad = || ParseError::Ranges {
        name: name.to_string(),
        value: text.to_string(),
    };
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(bad)?;
    inner
        .split(',')
        .map(|span| {
            let (b, e) = span.trim().split_once('-').ok_or_else(bad)?;
            let begin: u64 = b.trim().parse().map_err(|_| bad())?;
            let end: u64 = e.trim().parse().map_err(|_| bad())?;
            if begin > end {
                return Err(bad());
            }
            Ok((begin, end))
        })
        .collect()
}

/// Parses `cpus:4;mem:8192;ports:[31000-32000]`.
pub fn parse_resources(text: &str) -> Result<Vec<Resource>, ParseError> {
    items(text)
        .map(|item| {
            let (name, value) = item?;
            let (name, role) = split_role(name)?;
            let mut parsed = parse_value(name, value)?;
            if let Some(role) = role {
                parsed.reservations = vec![resource::ReservationInfo {
                    r#type: Some(resource::reservation_info::Type::Static as i32),
                    role: Some(role.to_string()),
                    ..Default::default()
                }];
            }
            Ok(parsed)
        })
        .collect()
}

/// `cpus(ml)` into `cpus` and the role `ml`; `cpus` and `cpus(*)` have none.
fn split_role(name: &str) -> Result<(&str, Option<&str>), ParseError> {
    let Some((bare, rest)) = name.split_once('(') else {
        return Ok((name, None));
    };
    let bad = |why: String| ParseError::Role {
        item: name.to_string(),
        why,
    };
    let role = rest
        .strip_suffix(')')
        .ok_or_else(|| bad("expected NAME(ROLE)".into()))?
        .trim();
    let bare = bare.trim();
    if bare.is_empty() {
        return Err(bad("the resource has no name".into()));
    }
    crate::roles::validate(role).map_err(bad)?;
    Ok((bare, (role != "*").then_some(role)))
}

fn parse_value(name: &str, value: &str) -> Result<Resource, ParseError> {
    if value.starts_with('[') {
        return Ok(ranges(name, &parse_ranges(name, value)?));
    }
    let bad = || ParseError::Scalar {
        name: name.to_string(),
        value: value.to_string(),
    };
    let amount: f64 = value.parse().map_err(|_| bad())?;
    if !amount.is_finite() || amount < 0.0 {
        return Err(bad());
    }
    Ok(scalar(name, amount))
}

/// Rewrites reserved entries in the format frameworks without the
/// `RESERVATION_REFINEMENT` capability read: the role in `role`, and a
/// dynamic reservation's principal and labels in `reservation`, instead
/// of the `reservations` stack. Entries refined more than once have no
/// such form and are left as they are.
#[allow(deprecated)]
pub fn to_pre_refinement(resources: &mut [Resource]) {
    for r in resources.iter_mut().filter(|r| r.reservations.len() == 1) {
        let only = r.reservations.remove(0);
        let dynamic = only.r#type == Some(resource::reservation_info::Type::Dynamic as i32);
        r.role = only.role;
        if dynamic {
            r.reservation = Some(Box::new(resource::ReservationInfo {
                principal: only.principal,
                labels: only.labels,
                ..Default::default()
            }));
        }
    }
}

/// An entry's `reservations` stack in either format: its own, or a stack of
/// one made from the pre-refinement `role` (a static reservation) and
/// `reservation` (a dynamic one) fields; empty when unreserved.
#[allow(deprecated)]
pub fn reservation_stack(r: &Resource) -> std::borrow::Cow<'_, [resource::ReservationInfo]> {
    if !r.reservations.is_empty() {
        return std::borrow::Cow::Borrowed(&r.reservations);
    }
    let Some(role) = r.role.as_deref().filter(|role| *role != "*") else {
        return std::borrow::Cow::Borrowed(&[]);
    };
    let dynamic = r.reservation.as_deref();
    let kind = match dynamic {
        Some(_) => resource::reservation_info::Type::Dynamic,
        None => resource::reservation_info::Type::Static,
    };
    std::borrow::Cow::Owned(vec![resource::ReservationInfo {
        r#type: Some(kind as i32),
        role: Some(role.to_string()),
        principal: dynamic.and_then(|d| d.principal.clone()),
        labels: dynamic.and_then(|d| d.labels.clone()),
    }])
}

/// The entries in the refined format (the inverse of
/// [`to_pre_refinement`]): every reservation in the `reservations` stack.
#[allow(deprecated)]
pub fn to_refined(resources: &[Resource]) -> Vec<Resource> {
    resources
        .iter()
        .map(|r| Resource {
            reservations: reservation_stack(r).into_owned(),
            role: None,
            reservation: None,
            ..r.clone()
        })
        .collect()
}

/// Whether a volume's `container_path` stays inside the sandbox: relative,
/// not empty, without `..`.
pub fn container_path_is_inside(path: &str) -> bool {
    !path.is_empty() && !path.starts_with('/') && !path.split('/').any(|part| part == "..")
}

/// The role a resource is reserved for (the last of its reservations, or
/// the pre-refinement `role` field); `None` when unreserved.
#[allow(deprecated)]
pub fn reserved_role(resource: &Resource) -> Option<&str> {
    match resource.reservations.last() {
        Some(last) => last.role.as_deref(),
        None => resource.role.as_deref().filter(|role| *role != "*"),
    }
}

/// Parses `rack:r1;zone:a;level:3` into attributes (numbers become scalars).
pub fn parse_attributes(text: &str) -> Result<Vec<Attribute>, ParseError> {
    items(text)
        .map(|item| {
            let (name, value) = item?;
            let mut attribute = Attribute {
                name: name.to_string(),
                ..Default::default()
            };
            if let Ok(number) = value.parse::<f64>() {
                attribute.r#type = value::Type::Scalar as i32;
                attribute.scalar = Some(value::Scalar { value: number });
            } else if value.starts_with('[') {
                let spans = parse_ranges(name, value)?;
                attribute.r#type = value::Type::Ranges as i32;
                attribute.ranges = Some(value::Ranges {
                    range: spans
                        .into_iter()
                        .map(|(begin, end)| value::Range { begin, end })
                        .collect(),
                });
            } else {
                attribute.r#type = value::Type::Text as i32;
                attribute.text = Some(value::Text {
                    value: value.to_string(),
                });
            }
            Ok(attribute)
        })
        .collect()
}

/// Human form of a resource list, e.g. `cpus:0.5; mem:128; ports:[31000-31002]`.
pub fn describe(resources: &[Resource]) -> String {
    resources
        .iter()
        .map(|r| {
            let body = match (&r.scalar, &r.ranges, &r.set) {
                (Some(s), _, _) => format!("{}", s.value),
                (_, Some(rs), _) => format!(
                    "[{}]",
                    rs.range
                        .iter()
                        .map(|x| format!("{}-{}", x.begin, x.end))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                (_, _, Some(set)) => format!("{{{}}}", set.item.join(", ")),
                _ => String::new(),
            };
            format!("{}:{}", r.name, body)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `Value` helper kept for symmetry with attributes.
pub fn text_value(text: &str) -> Value {
    Value {
        r#type: value::Type::Text as i32,
        text: Some(value::Text {
            value: text.to_string(),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_flag_syntax() {
        let r = parse_resources("cpus:4;mem:8192; disk:10000;ports:[31000-32000, 33000-33001]")
            .unwrap();
        assert_eq!(scalar_total(&r, "cpus"), 4.0);
        assert_eq!(scalar_total(&r, "mem"), 8192.0);
        assert_eq!(
            range_spans(&r, "ports"),
            vec![(31000, 32000), (33000, 33001)]
        );
        assert_eq!(describe(&r[..1]), "cpus:4");
    }

    #[test]
    fn rejects_bad_flags() {
        assert!(parse_resources("cpus").is_err());
        assert!(parse_resources("cpus:-1").is_err());
        assert!(parse_resources("ports:[5-1]").is_err());
        assert!(parse_resources("ports:31000-32000").is_err());
    }

    #[test]
    fn static_reservations_name_their_role() {
        let r = parse_resources("cpus(ml):4;mem(eng/web):512;disk(*):10;cpus:1").unwrap();
        let roles: Vec<Option<&str>> = r.iter().map(reserved_role).collect();
        assert_eq!(roles, [Some("ml"), Some("eng/web"), None, None]);
        assert_eq!(r[0].name, "cpus");
        assert_eq!(
            r[0].reservations[0].r#type,
            Some(resource::reservation_info::Type::Static as i32)
        );
        for bad in [
            "cpus(ml:4",
            "cpus():4",
            "(ml):4",
            "cpus(a b):1",
            "cpus(/x):1",
        ] {
            assert!(
                matches!(parse_resources(bad), Err(ParseError::Role { .. })),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn attributes_are_typed() {
        let a = parse_attributes("rack:r1;level:3").unwrap();
        assert_eq!(a[0].text.as_ref().unwrap().value, "r1");
        assert_eq!(a[1].scalar.as_ref().unwrap().value, 3.0);
    }
}
