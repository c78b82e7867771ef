//! `/master/roles` (also `/roles` and their `.json` forms): every role that
//! has a framework or a weight set, in the shape Mesos's endpoint and web
//! UI use: `{"roles": [{"name", "weight", "frameworks", "resources",
//! "allocated", "offered", "reserved", "quota"}]}`. `allocated` (and the
//! older `resources`) is what the allocator counts against the role's
//! share: what its tasks use plus what is on offer to it. The quota gives
//! the role's `guarantee` and `limit` by resource name (empty: none) and
//! what it `consumed` against them: what is allocated plus what is
//! reserved for it and not allocated (reservations count, used or not).
//! `reserved` is what agents have reserved for the role (and the roles
//! below it), allocated or not. The leader answers; another master
//! redirects there.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use meseta_proto::quota::QuotaConfig;
use meseta_proto::v1::value::Scalar;
use serde_json::{json, Value};

use super::endpoints::view;
use super::json_view::allocator_resources;
use crate::handle::MasterHandle;
use crate::state::operator::views::role_usage;
use crate::state::sorted_amounts;

type Amounts = HashMap<String, Scalar>;

pub(super) async fn get(State(master): State<MasterHandle>) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/master/roles") {
        return answer;
    }
    view(&master, |m| {
        let roles: Vec<Value> = role_usage(m)
            .into_iter()
            .map(|(name, usage)| {
                let allocated = allocator_resources(&usage.allocated());
                let quota = m.quotas().get(&name);
                let amounts = |pick: fn(&QuotaConfig) -> &Amounts| {
                    json!(quota.map(|q| sorted_amounts(pick(q))).unwrap_or_default())
                };
                json!({
                    "name": name,
                    "weight": m.weight_of(&name),
                    "frameworks": usage.frameworks,
                    "resources": allocated,
                    "allocated": allocated,
                    "offered": allocator_resources(&usage.offered),
                    "reserved": allocator_resources(&usage.reserved),
                    "quota": {
                        "role": name,
                        "guarantee": amounts(|q| &q.guarantees),
                        "limit": amounts(|q| &q.limits),
                        "consumed": allocator_resources(&usage.consumed(&name)),
                    },
                })
            })
            .collect();
        json!({ "roles": roles })
    })
    .await
}
