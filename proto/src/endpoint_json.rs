//! The compact JSON forms Mesos's legacy endpoints (`/master/state`, the
//! agent's `/state`, ...) use for resources and attributes, shared by the
//! master and the agent: `{"cpus": 4.0, "mem": 1024.0, "ports": "[31000-32000]"}`;
//! and the metrics snapshot turned into the operator API's list.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

use crate::v1::{value, Attribute, Resource};

fn ranges_text(ranges: &value::Ranges) -> String {
    spans_text(&ranges.range.iter().collect::<Vec<_>>())
}

fn spans_text(spans: &[&value::Range]) -> String {
    let spans: Vec<String> = spans
        .iter()
        .map(|r| format!("{}-{}", r.begin, r.end))
        .collect();
    format!("[{}]", spans.join(", "))
}

fn set_text(set: &value::Set) -> String {
    format!("{{{}}}", set.item.join(","))
}

/// Resources by name: scalars summed (rounded to Mesos's three decimals),
/// ranges as `"[a-b, c-d]"`, sets as `"{a,b}"`; `cpus`, `mem`, `disk` and
/// `gpus` are always present.
pub fn resources(list: &[Resource]) -> Value {
    serde_json::to_value(ResourcesJson(list)).unwrap_or_default()
}

/// The entries of `list` reserved for `role` (`None`: the unreserved
/// ones), as [`resources`] shows them.
pub fn reserved_for(list: &[Resource], role: Option<&str>) -> Value {
    let entries: Vec<Resource> = list
        .iter()
        .filter(|r| crate::resources::reserved_role(r) == role)
        .cloned()
        .collect();
    resources(&entries)
}

/// Reserved resources by the role they are reserved for (Mesos's
/// `reserved_resources`).
pub fn reserved_by_role(list: &[Resource]) -> Value {
    let roles: std::collections::BTreeSet<&str> = list
        .iter()
        .filter_map(crate::resources::reserved_role)
        .collect();
    roles
        .into_iter()
        .map(|role| (role.to_string(), reserved_for(list, Some(role))))
        .collect::<Map<_, _>>()
        .into()
}

/// [`resources`] written straight to a serializer (a `/master/state` of
/// 100,000 tasks holds 100,000 of these: no map is built for them).
pub struct ResourcesJson<'a>(pub &'a [Resource]);

enum Amount<'a> {
    Scalar(f64),
    Spans(Vec<&'a value::Range>),
    Text(String),
}

impl Serialize for ResourcesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut amounts: Vec<(&str, Amount)> = ["cpus", "mem", "disk", "gpus"]
            .into_iter()
            .map(|name| (name, Amount::Scalar(0.0)))
            .collect();
        for resource in self.0 {
            let at = match amounts.iter().position(|(name, _)| *name == resource.name) {
                Some(at) => at,
                None => {
                    amounts.push((&resource.name, Amount::Scalar(0.0)));
                    amounts.len() - 1
                }
            };
            let amount = &mut amounts[at].1;
            if let Some(scalar) = &resource.scalar {
                match amount {
                    Amount::Scalar(sum) => *sum += scalar.value,
                    _ => *amount = Amount::Scalar(scalar.value),
                }
            } else if let Some(ranges) = &resource.ranges {
                match amount {
                    Amount::Spans(all) => all.extend(&ranges.range),
                    _ => *amount = Amount::Spans(ranges.range.iter().collect()),
                }
            } else if let Some(set) = &resource.set {
                *amount = Amount::Text(set_text(set));
            }
        }
        let mut map = serializer.serialize_map(Some(amounts.len()))?;
        for (name, amount) in &amounts {
            match amount {
                Amount::Scalar(sum) => {
                    map.serialize_entry(name, &((sum * 1000.0).round() / 1000.0))?
                }
                Amount::Spans(spans) => map.serialize_entry(name, &spans_text(spans))?,
                Amount::Text(text) => map.serialize_entry(name, text)?,
            }
        }
        map.end()
    }
}

/// Attributes by name: text as strings, scalars as numbers, ranges and
/// sets in the text forms above.
pub fn attributes(list: &[Attribute]) -> Value {
    let mut out = Map::new();
    for attribute in list {
        let value = if let Some(text) = &attribute.text {
            json!(text.value)
        } else if let Some(scalar) = &attribute.scalar {
            json!(scalar.value)
        } else if let Some(ranges) = &attribute.ranges {
            json!(ranges_text(ranges))
        } else if let Some(set) = &attribute.set {
            json!(set_text(set))
        } else {
            continue;
        };
        out.insert(attribute.name.clone(), value);
    }
    Value::Object(out)
}

/// A `/metrics/snapshot` document as the operator API's GET_METRICS list,
/// sorted by name (master and agent answer it the same way).
pub fn metrics(snapshot: &Value) -> Vec<crate::v1::Metric> {
    let mut metrics: Vec<crate::v1::Metric> = snapshot
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| crate::v1::Metric {
            name: name.clone(),
            value: value.as_f64(),
        })
        .collect();
    metrics.sort_by(|a, b| a.name.cmp(&b.name));
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{parse_attributes, parse_resources};

    #[test]
    fn mesos_state_shapes() {
        let list = parse_resources("cpus:1.5;cpus:0.25;mem:64;ports:[1-2];ports:[5-6]").unwrap();
        let json = resources(&list);
        assert_eq!(json["cpus"], 1.75);
        assert_eq!(json["disk"], 0.0);
        assert_eq!(json["ports"], "[1-2, 5-6]");
        let json = attributes(&parse_attributes("rack:r1;level:3").unwrap());
        assert_eq!(json, json!({"rack": "r1", "level": 3.0}));
    }
}
