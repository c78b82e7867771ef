//! How the registry is laid out over ZooKeeper nodes, without I/O: which
//! bucket each agent and framework lives in, the buckets' contents, and
//! how the buckets a write changes are grouped into transactions that each
//! stay under ZooKeeper's request size limit.

use std::collections::BTreeSet;

use meseta_proto::registry::{
    operation::Kind, AdmittedAgent, FrameworkRecord, GoneAgent, Operation, Registry, RegistryIndex,
    UnreachableAgent,
};
use prost::Message;

use super::super::{agent_id, nanos, weight_info, RegistryState};

/// The layout written now ([`RegistryIndex::layout`]).
pub const LAYOUT: u32 = 2;
/// Buckets the registry is split into. Many small ones, because a write
/// rewrites every bucket its batch touches: a batch of 1,000 registrations
/// touches most buckets whatever their number, so their size is what a
/// registration storm writes. At 100,000 agents of a few hundred bytes
/// each, a bucket holds about 10 kB.
pub const BUCKETS: u32 = 4096;
/// Most bytes of bucket data in one transaction (ZooKeeper refuses
/// requests over its `jute.maxbuffer`, 1 MB by default, framing included);
/// also the most one bucket may hold.
pub const TRANSACTION_BYTES: usize = 900_000;

/// The bucket an agent or framework ID lives in.
pub fn bucket_of(id: &str, buckets: u32) -> u32 {
    crc32fast::hash(id.as_bytes()) % buckets.max(1)
}

/// A bucket's node under the registry's root node.
pub fn bucket_node(root: &str, bucket: u32) -> String {
    format!("{root}/b-{bucket:04}")
}

/// The ID an operation changes.
pub fn operation_id(operation: &Operation) -> Option<String> {
    Some(match operation.kind.as_ref()? {
        Kind::AdmitAgent(info) | Kind::MarkReachable(info) => agent_id(info),
        Kind::MarkUnreachable(entry) => agent_id(&entry.info),
        Kind::MarkGone(entry) => entry.id.value.clone(),
        Kind::SaveFramework(info) => info.id.as_ref()?.value.clone(),
        Kind::RemoveFramework(id) => id.value.clone(),
        Kind::SetWeight(info) => weight_key(info.role.as_deref().unwrap_or_default()),
        Kind::SetQuota(config) => quota_key(&config.role),
        Kind::SetMaintenance(_) => MAINTENANCE_KEY.to_string(),
    })
}

/// What the maintenance state is filed under.
const MAINTENANCE_KEY: &str = "maintenance";

/// What a role's quota is filed under.
fn quota_key(role: &str) -> String {
    format!("quota:{role}")
}

/// What a role's weight is filed under: roles and IDs share the buckets.
fn weight_key(role: &str) -> String {
    format!("weight:{role}")
}

/// The buckets `operations` change.
pub fn changed_buckets(operations: &[Operation], buckets: u32) -> BTreeSet<u32> {
    operations
        .iter()
        .filter_map(operation_id)
        .map(|id| bucket_of(&id, buckets))
        .collect()
}

/// The contents of the buckets in `wanted`, encoded, in bucket order (one
/// pass over the state, however many buckets).
pub fn encode_buckets(
    state: &RegistryState,
    wanted: &BTreeSet<u32>,
    buckets: u32,
) -> Vec<(u32, Vec<u8>)> {
    let mut parts: std::collections::BTreeMap<u32, Registry> =
        wanted.iter().map(|b| (*b, Registry::default())).collect();
    for (id, info) in &state.agents {
        if let Some(registry) = parts.get_mut(&bucket_of(id, buckets)) {
            registry.agents.push(AdmittedAgent { info: info.clone() });
        }
    }
    for (id, (info, since)) in &state.unreachable {
        if let Some(registry) = parts.get_mut(&bucket_of(id, buckets)) {
            registry.unreachable.push(UnreachableAgent {
                info: info.clone(),
                since_nanos: nanos(*since),
            });
        }
    }
    for (id, since) in &state.gone {
        if let Some(registry) = parts.get_mut(&bucket_of(id, buckets)) {
            registry.gone.push(GoneAgent {
                id: meseta_proto::v1::AgentId { value: id.clone() },
                since_nanos: nanos(*since),
            });
        }
    }
    for (id, info) in &state.frameworks {
        if let Some(registry) = parts.get_mut(&bucket_of(id, buckets)) {
            registry
                .frameworks
                .push(FrameworkRecord { info: info.clone() });
        }
    }
    for (role, weight) in &state.weights {
        if let Some(registry) = parts.get_mut(&bucket_of(&weight_key(role), buckets)) {
            registry.weights.push(weight_info(role, *weight));
        }
    }
    if state.maintenance != Default::default() {
        if let Some(registry) = parts.get_mut(&bucket_of(MAINTENANCE_KEY, buckets)) {
            registry.maintenance = Some(state.maintenance.clone());
        }
    }
    for (role, config) in &state.quotas {
        if let Some(registry) = parts.get_mut(&bucket_of(&quota_key(role), buckets)) {
            registry.quota_configs.push(config.clone());
        }
    }
    parts
        .into_iter()
        .map(|(bucket, registry)| (bucket, registry.encode_to_vec()))
        .collect()
}

/// Groups encoded buckets into transactions of at most
/// [`TRANSACTION_BYTES`] each (a bucket larger than that alone is the
/// caller's error to report).
pub fn transactions(encoded: Vec<(u32, Vec<u8>)>) -> Vec<Vec<(u32, Vec<u8>)>> {
    let mut groups: Vec<Vec<(u32, Vec<u8>)>> = Vec::new();
    let mut size = 0;
    for (bucket, bytes) in encoded {
        let fits = size + bytes.len() <= TRANSACTION_BYTES;
        match groups.last_mut() {
            Some(group) if fits => {
                size += bytes.len();
                group.push((bucket, bytes));
            }
            _ => {
                size = bytes.len();
                groups.push(vec![(bucket, bytes)]);
            }
        }
    }
    groups
}

/// Adds one bucket's contents to a state being recovered.
pub fn merge_bucket(state: &mut RegistryState, bucket: Registry) {
    let part = RegistryState::from_proto(bucket);
    state.agents.extend(part.agents);
    state.unreachable.extend(part.unreachable);
    state.gone.extend(part.gone);
    state.frameworks.extend(part.frameworks);
    state.weights.extend(part.weights);
    state.quotas.extend(part.quotas);
    if part.maintenance != Default::default() {
        state.maintenance = part.maintenance;
    }
}

/// What the root node says: the layout it describes, or `None` for the
/// single-node registry written before buckets (its bytes are a whole
/// `Registry`).
pub fn read_index(bytes: &[u8]) -> Option<RegistryIndex> {
    RegistryIndex::decode(bytes)
        .ok()
        .filter(|index| index.layout == Some(LAYOUT))
}

#[cfg(test)]
mod tests {
    use super::super::super::ops;
    use super::*;
    use meseta_proto::v1;

    fn agent(id: &str) -> v1::AgentInfo {
        v1::AgentInfo {
            hostname: format!("host-{id}"),
            id: Some(v1::AgentId { value: id.into() }),
            ..Default::default()
        }
    }

    #[test]
    fn every_entry_lands_in_its_bucket_and_the_buckets_add_up_to_the_state() {
        let mut state = RegistryState::default();
        let operations: Vec<Operation> = (0..2000)
            .map(|i| match i % 4 {
                0 => ops::admit_agent(&agent(&format!("a{i}"))),
                1 => ops::mark_unreachable(
                    &agent(&format!("a{i}")),
                    std::time::Duration::from_secs(9),
                ),
                2 => ops::mark_gone(&format!("a{i}"), std::time::Duration::from_secs(5)),
                _ if i % 40 == 3 => ops::set_weight(&format!("role{i}"), 2.5),
                _ if i % 40 == 7 => ops::set_quota(&meseta_proto::quota::QuotaConfig {
                    role: format!("role{i}"),
                    guarantees: [("cpus".to_string(), v1::value::Scalar { value: 2.0 })].into(),
                    limits: Default::default(),
                }),
                _ => ops::save_framework(&v1::FrameworkInfo {
                    user: "u".into(),
                    name: "f".into(),
                    id: Some(v1::FrameworkId {
                        value: format!("f{i}"),
                    }),
                    ..Default::default()
                }),
            })
            .collect();
        operations.iter().for_each(|op| state.apply(op));
        let all: BTreeSet<u32> = (0..BUCKETS).collect();
        let touched: BTreeSet<u32> = operations
            .iter()
            .filter_map(operation_id)
            .map(|id| bucket_of(&id, BUCKETS))
            .collect();
        assert_eq!(changed_buckets(&operations, BUCKETS), touched);
        assert!(touched.len() > 1000, "2,000 IDs spread over the buckets");
        let encoded = encode_buckets(&state, &all, BUCKETS);
        let mut rebuilt = RegistryState::default();
        for (bucket, bytes) in &encoded {
            let part = Registry::decode(bytes.as_slice()).expect("decodes");
            for entry in &part.agents {
                assert_eq!(bucket_of(&agent_id(&entry.info), BUCKETS), *bucket);
            }
            merge_bucket(&mut rebuilt, part);
        }
        assert_eq!(rebuilt, state);
    }

    #[test]
    fn transactions_stay_under_the_limit_and_keep_every_bucket() {
        let encoded: Vec<(u32, Vec<u8>)> = (0..40).map(|b| (b, vec![7u8; 100_000])).collect();
        let groups = transactions(encoded);
        assert!(groups
            .iter()
            .all(|g| g.iter().map(|(_, b)| b.len()).sum::<usize>() <= TRANSACTION_BYTES));
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 40);
        assert_eq!(
            groups.len(),
            5,
            "nine buckets of 100 kB per 900 kB transaction"
        );
    }

    #[test]
    fn the_old_single_node_registry_is_told_apart_from_an_index() {
        let mut old = RegistryState::default();
        old.apply(&ops::admit_agent(&agent("x")));
        assert!(read_index(&old.to_proto().encode_to_vec()).is_none());
        assert!(read_index(&[]).is_none());
        let index = RegistryIndex {
            layout: Some(LAYOUT),
            buckets: Some(BUCKETS),
            writer: Some("w".into()),
            sequence: Some(3),
        };
        assert_eq!(read_index(&index.encode_to_vec()), Some(index));
    }
}
