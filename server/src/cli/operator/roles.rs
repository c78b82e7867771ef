//! `meseta roles`: the operator API's GET_ROLES, GET_QUOTA and GET_AGENTS
//! as one table: each role's weight, frameworks, what it holds, what agents
//! have reserved for it, and its quota.

use std::collections::HashMap;
use std::process::ExitCode;

use meseta_master::state::sorted_amounts;
use meseta_proto::master::call;
use meseta_proto::resources::{reserved_role, scalar_total};
use meseta_proto::{json, v1};

use super::table::{amount, Table};
use super::{get, with_client, Target};

/// Flags of `meseta roles`.
#[derive(clap::Args, Debug)]
pub struct RolesArgs {
    #[command(flatten)]
    target: Target,
}

/// `cpus:4 mem:1024`, names in order; `-` when there are none.
fn amounts(list: &HashMap<String, v1::value::Scalar>) -> String {
    let sorted = sorted_amounts(list);
    if sorted.is_empty() {
        return "-".into();
    }
    sorted
        .into_iter()
        .map(|(name, value)| format!("{name}:{}", amount(value)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Scalars reserved on all agents, by the role they are reserved for.
fn reserved_by_role(
    agents: &[v1::Resource],
) -> HashMap<String, HashMap<String, v1::value::Scalar>> {
    let mut by_role: HashMap<String, HashMap<String, v1::value::Scalar>> = HashMap::new();
    for resource in agents {
        let (Some(role), Some(scalar)) = (reserved_role(resource), &resource.scalar) else {
            continue;
        };
        by_role
            .entry(role.to_string())
            .or_default()
            .entry(resource.name.clone())
            .or_default()
            .value += scalar.value;
    }
    by_role
}

pub fn roles(args: RolesArgs) -> anyhow::Result<ExitCode> {
    with_client(&args.target.master, async |client| {
        let roles = get(client, call::Type::GetRoles)
            .await?
            .get_roles
            .unwrap_or_default();
        if args.target.json {
            println!("{}", json::to_value(&roles));
            return Ok(ExitCode::SUCCESS);
        }
        let quotas = get(client, call::Type::GetQuota)
            .await?
            .get_quota
            .map(|q| q.status.configs)
            .unwrap_or_default();
        let agents = get(client, call::Type::GetAgents)
            .await?
            .get_agents
            .unwrap_or_default();
        let all: Vec<v1::Resource> = agents
            .agents
            .into_iter()
            .flat_map(|a| a.total_resources)
            .collect();
        let reserved = reserved_by_role(&all);
        let mut table = Table::new(&[
            "ROLE",
            "WEIGHT",
            "FRAMEWORKS",
            "CPUS",
            "MEM",
            "RESERVED",
            "GUARANTEE",
            "LIMIT",
        ]);
        for role in &roles.roles {
            let quota = quotas.iter().find(|q| q.role == role.name);
            table.row(vec![
                role.name.clone(),
                amount(role.weight),
                role.frameworks.len().to_string(),
                amount(scalar_total(&role.resources, "cpus")),
                amount(scalar_total(&role.resources, "mem")),
                reserved.get(&role.name).map_or_else(|| "-".into(), amounts),
                quota.map_or_else(|| "-".into(), |q| amounts(&q.guarantees)),
                quota.map_or_else(|| "-".into(), |q| amounts(&q.limits)),
            ]);
        }
        print!("{}", table.render());
        Ok(ExitCode::SUCCESS)
    })
}
