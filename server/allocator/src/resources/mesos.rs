//! Conversion between [`Resources`] and `mesos.v1.Resource` lists, plus the
//! `cpus:4;mem:1024;ports:[31000-32000]` text form and a matching `Display`.
//!
//! This is the only place the allocator touches wire types: the master
//! converts once when an agent registers or an offer is answered, and the
//! allocation loop never sees protobuf.

use std::fmt;
use std::sync::Arc;

use meseta_proto::resources as wire;
use meseta_proto::v1::{resource, value, Resource};

use super::{from_milli, to_milli, RangeSet, Reservation, Resources, KNOWN};

/// The reservation of one Mesos resource entry, in either format (see
/// [`wire::reservation_stack`]); `None` when unreserved.
fn reservation_of(r: &Resource) -> Option<Reservation> {
    Reservation::of(&wire::reservation_stack(r), r.disk.as_deref())
}

impl Resources {
    /// Folds a Mesos resource list into one vector. Scalars are rounded to
    /// thousandths; malformed entries (a type without its value, negative or
    /// non-finite scalars, ranges with `begin > end`) are skipped.
    /// Reservations (the `reservations` stack, or the older `role` and
    /// `reservation` fields) are kept; other metadata is ignored.
    pub fn from_mesos(list: &[Resource]) -> Resources {
        let mut out = Resources::new();
        for r in list {
            match reservation_of(r) {
                None => out.add_entry(r),
                Some(reservation) => {
                    let mut piece = Resources::new();
                    piece.add_entry(r);
                    out.add_reserved(Arc::new(reservation), &piece);
                }
            }
        }
        out
    }

    fn add_entry(&mut self, r: &Resource) {
        match value::Type::try_from(r.r#type) {
            Ok(value::Type::Scalar) => {
                if let Some(s) = &r.scalar {
                    self.add_scalar_milli(&r.name, to_milli(s.value));
                }
            }
            Ok(value::Type::Ranges) => {
                if let Some(rs) = &r.ranges {
                    let set = RangeSet::from_spans(rs.range.iter().map(|x| (x.begin, x.end)));
                    self.add_ranges(&r.name, set);
                }
            }
            Ok(value::Type::Set) => {
                if let Some(s) = &r.set {
                    self.add_set_items(&r.name, s.item.iter().cloned());
                }
            }
            Ok(value::Type::Text) | Err(_) => {}
        }
    }

    /// The Mesos form of these resources as allocated to `role`: each entry
    /// carries `allocation_info.role = role` and leaves the deprecated `role`
    /// field unset (so it reads as `*`); reserved entries carry their
    /// `reservations` stack. Order: the unreserved resources, then each
    /// reservation's; within each, cpus, mem, disk, gpus, other scalars,
    /// ranges, sets (each group by name).
    pub fn to_mesos(&self, role: &str) -> Vec<Resource> {
        if self.reserved.is_none() {
            return self.plain_to_mesos(role);
        }
        let mut out = self.unreserved().plain_to_mesos(role);
        for (reservation, part) in self.reserved_parts() {
            let carrier = reservation.carrier();
            out.extend(part.plain_to_mesos(role).into_iter().map(|mut r| {
                r.reservations = carrier.reservations.clone();
                if r.name == "disk" {
                    r.disk = carrier.disk.clone();
                }
                r
            }));
        }
        out
    }

    fn plain_to_mesos(&self, role: &str) -> Vec<Resource> {
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

/// `cpus:0.5; mem:128; ports:[31000-31002, 31005-31005]; zones:{a, b}`,
/// reserved parts as `cpus(ml):4`.
impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        if self.reserved.is_none() {
            return self.write_plain(f, "", &mut first);
        }
        self.unreserved().write_plain(f, "", &mut first)?;
        for (reservation, part) in self.reserved_parts() {
            let tag = match &reservation.volume {
                Some(id) => format!("({})[{id}]", reservation.role),
                None => format!("({})", reservation.role),
            };
            part.write_plain(f, &tag, &mut first)?;
        }
        Ok(())
    }
}

impl Resources {
    fn write_plain(&self, f: &mut fmt::Formatter<'_>, tag: &str, first: &mut bool) -> fmt::Result {
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if *first { "" } else { "; " };
            *first = false;
            f.write_str(s)
        };
        for (name, v) in KNOWN.iter().zip(self.known).filter(|(_, v)| *v > 0) {
            sep(f)?;
            write!(f, "{name}{tag}:{}", from_milli(v))?;
        }
        let extra = self.extra();
        for (name, v) in &extra.other {
            sep(f)?;
            write!(f, "{name}{tag}:{}", from_milli(*v))?;
        }
        for (name, r) in &extra.ranges {
            sep(f)?;
            let spans: Vec<String> = r.spans().iter().map(|(b, e)| format!("{b}-{e}")).collect();
            write!(f, "{name}{tag}:[{}]", spans.join(", "))?;
        }
        for (name, items) in &extra.sets {
            sep(f)?;
            write!(f, "{name}{tag}:{{{}}}", items.join(", "))?;
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
    fn mesos_reservations_round_trip() {
        let r = Resources::parse("cpus:1;cpus(ml):4;mem(ml):512;cpus(eng/web):2")
            .expect("valid flag text");
        assert_eq!(r.scalar("cpus"), 7.0);
        assert_eq!(
            r.to_string(),
            "cpus:1; cpus(eng/web):2; cpus(ml):4; mem(ml):512"
        );
        let back = r.to_mesos("ml");
        assert_eq!(Resources::from_mesos(&back), r);
        let ml: Vec<_> = back
            .iter()
            .filter(|x| wire::reserved_role(x) == Some("ml"))
            .collect();
        assert_eq!(ml.len(), 2);
        // The pre-refinement form of the same static reservation is the same.
        #[allow(deprecated)]
        let legacy = Resource {
            role: Some("ml".into()),
            ..wire::scalar("cpus", 4.0)
        };
        let mut mine = Resources::new();
        mine.add(&Resources::from_mesos(&[legacy]));
        assert!(r.contains(&mine));
        assert!(!r.contains(&Resources::new().with_scalar("cpus", 2.0)));
    }

    #[test]
    fn mesos_parse_and_display() {
        let r = Resources::parse("cpus:0.5;mem:128;ports:[31000-31002]").expect("valid flag text");
        assert_eq!(r.to_string(), "cpus:0.5; mem:128; ports:[31000-31002]");
        assert!(Resources::parse("cpus:lots").is_err());
    }
}
