//! Conversion between [`Resources`] and `mesos.v1.Resource` lists, plus the
//! `cpus:4;mem:1024;ports:[31000-32000]` text form and a matching `Display`.
//!
//! This is the only place the allocator touches wire types: the master
//! converts once when an agent registers or an offer is answered, and the
//! allocation loop never sees protobuf.

use std::fmt;

use meseta_proto::resources as wire;
use meseta_proto::v1::{resource, value, Resource};

use super::{from_milli, to_milli, RangeSet, Resources, KNOWN};

impl Resources {
    /// Folds a Mesos resource list into one vector. Scalars are rounded to
    /// thousandths; malformed entries (a type without its value, negative or
    /// non-finite scalars, ranges with `begin > end`) are skipped. Roles,
    /// reservations and other metadata are not modelled and are ignored.
    pub fn from_mesos(list: &[Resource]) -> Resources {
        let mut out = Resources::new();
        for r in list {
            match value::Type::try_from(r.r#type) {
                Ok(value::Type::Scalar) => {
                    if let Some(s) = &r.scalar {
                        out.add_scalar_milli(&r.name, to_milli(s.value));
                    }
                }
                Ok(value::Type::Ranges) => {
                    if let Some(rs) = &r.ranges {
                        let set = RangeSet::from_spans(rs.range.iter().map(|x| (x.begin, x.end)));
                        out.add_ranges(&r.name, set);
                    }
                }
                Ok(value::Type::Set) => {
                    if let Some(s) = &r.set {
                        out.add_set_items(&r.name, s.item.iter().cloned());
                    }
                }
                Ok(value::Type::Text) | Err(_) => {}
            }
        }
        out
    }

    /// The Mesos form of these resources as allocated to `role`: each entry
    /// carries `allocation_info.role = role` and leaves the deprecated `role`
    /// field unset (so it reads as `*`). Order: cpus, mem, disk, gpus, other
    /// scalars, ranges, sets (each group by name).
    pub fn to_mesos(&self, role: &str) -> Vec<Resource> {
        let info = || {
            Some(resource::AllocationInfo {
                role: Some(role.to_string()),
            })
        };
        let known = KNOWN
            .iter()
            .zip(self.known)
            .filter(|(_, v)| *v > 0)
            .map(|(n, v)| wire::scalar(n, from_milli(v)));
        let extra = self.extra();
        let other = extra
            .other
            .iter()
            .map(|(n, v)| wire::scalar(n, from_milli(*v)));
        let ranges = extra.ranges.iter().map(|(n, r)| wire::ranges(n, r.spans()));
        let sets = extra.sets.iter().map(|(n, items)| Resource {
            name: n.clone(),
            r#type: value::Type::Set as i32,
            set: Some(value::Set {
                item: items.clone(),
            }),
            ..Default::default()
        });
        known
            .chain(other)
            .chain(ranges)
            .chain(sets)
            .map(|mut r| {
                r.allocation_info = info();
                r
            })
            .collect()
    }

    /// Parses the operator flag syntax, e.g. `cpus:24;mem:4096;ports:[31000-32000]`.
    pub fn parse(text: &str) -> Result<Resources, wire::ParseError> {
        Ok(Resources::from_mesos(&wire::parse_resources(text)?))
    }
}

/// `cpus:0.5; mem:128; ports:[31000-31002, 31005-31005]; zones:{a, b}`.
impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if first { "" } else { "; " };
            first = false;
            f.write_str(s)
        };
        for (name, v) in KNOWN.iter().zip(self.known).filter(|(_, v)| *v > 0) {
            sep(f)?;
            write!(f, "{name}:{}", from_milli(v))?;
        }
        let extra = self.extra();
        for (name, v) in &extra.other {
            sep(f)?;
            write!(f, "{name}:{}", from_milli(*v))?;
        }
        for (name, r) in &extra.ranges {
            sep(f)?;
            let spans: Vec<String> = r.spans().iter().map(|(b, e)| format!("{b}-{e}")).collect();
            write!(f, "{name}:[{}]", spans.join(", "))?;
        }
        for (name, items) in &extra.sets {
            sep(f)?;
            write!(f, "{name}:{{{}}}", items.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use meseta_proto::resources as wire;
    use meseta_proto::v1::{value, Resource};

    use crate::Resources;

    #[test]
    fn mesos_round_trip_sets_allocation_role() {
        let list = vec![
            wire::scalar("cpus", 1.5),
            wire::scalar("mem", 256.0),
            wire::scalar("cpus", 0.25),
            wire::ranges("ports", &[(31000, 31005), (31003, 31010)]),
            Resource {
                name: "zones".into(),
                r#type: value::Type::Set as i32,
                set: Some(value::Set {
                    item: vec!["b".into(), "a".into()],
                }),
                ..Default::default()
            },
        ];
        let r = Resources::from_mesos(&list);
        assert_eq!(r.scalar("cpus"), 1.75);
        assert_eq!(r.ranges("ports"), &[(31000, 31010)]);
        let back = r.to_mesos("web");
        assert_eq!(wire::scalar_total(&back, "cpus"), 1.75);
        assert_eq!(wire::range_spans(&back, "ports"), vec![(31000, 31010)]);
        #[allow(deprecated)]
        let all_tagged = back.iter().all(|x| {
            x.role.is_none()
                && x.allocation_info.as_ref().and_then(|a| a.role.as_deref()) == Some("web")
        });
        assert!(all_tagged);
        assert_eq!(Resources::from_mesos(&back), r);
    }

    #[test]
    fn mesos_malformed_entries_are_skipped() {
        let list = vec![
            wire::scalar("cpus", -1.0),
            wire::scalar("mem", f64::NAN),
            Resource {
                name: "disk".into(),
                r#type: value::Type::Scalar as i32,
                scalar: None,
                ..Default::default()
            },
        ];
        assert!(Resources::from_mesos(&list).is_empty());
    }

    #[test]
    fn mesos_parse_and_display() {
        let r = Resources::parse("cpus:0.5;mem:128;ports:[31000-31002]").expect("valid flag text");
        assert_eq!(r.to_string(), "cpus:0.5; mem:128; ports:[31000-31002]");
        assert!(Resources::parse("cpus:lots").is_err());
    }
}
