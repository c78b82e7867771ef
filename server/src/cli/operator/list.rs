//! `meseta tasks`, `meseta agents`, `meseta frameworks`: the operator API's
//! GET_TASKS, GET_AGENTS and GET_FRAMEWORKS as tables.

use std::collections::HashMap;
use std::process::ExitCode;

use meseta_proto::master::call;
use meseta_proto::resources::scalar_total;
use meseta_proto::{json, v1};

use super::table::{amount, Table};
use super::{get, with_client, Target};

/// Flags of `meseta tasks`.
#[derive(clap::Args, Debug)]
pub struct TasksArgs {
    #[command(flatten)]
    target: Target,
    /// Also list completed tasks (and those on unreachable agents).
    #[arg(long)]
    all: bool,
    /// Only the tasks of this framework (ID).
    #[arg(long)]
    framework: Option<String>,
}

/// Flags of `meseta agents`.
#[derive(clap::Args, Debug)]
pub struct AgentsArgs {
    #[command(flatten)]
    target: Target,
}

/// Flags of `meseta frameworks`.
#[derive(clap::Args, Debug)]
pub struct FrameworksArgs {
    #[command(flatten)]
    target: Target,
    /// Also list completed (torn down or expired) frameworks.
    #[arg(long)]
    all: bool,
}

fn state_name(state: i32) -> &'static str {
    v1::TaskState::try_from(state)
        .map(|s| s.as_str_name())
        .unwrap_or("TASK_UNKNOWN")
}

pub fn tasks(args: TasksArgs) -> anyhow::Result<ExitCode> {
    with_client(&args.target.master, async |client| {
        let state = get(client, call::Type::GetState)
            .await?
            .get_state
            .unwrap_or_default();
        let mut tasks = state.get_tasks.unwrap_or_default();
        if !args.all {
            tasks.unreachable_tasks.clear();
            tasks.completed_tasks.clear();
        }
        if let Some(framework) = &args.framework {
            for list in [
                &mut tasks.tasks,
                &mut tasks.unreachable_tasks,
                &mut tasks.completed_tasks,
            ] {
                list.retain(|t| &t.framework_id.value == framework);
            }
        }
        if args.target.json {
            println!("{}", json::to_value(&tasks));
            return Ok(ExitCode::SUCCESS);
        }
        let hostnames: HashMap<String, String> = state
            .get_agents
            .unwrap_or_default()
            .agents
            .into_iter()
            .filter_map(|a| Some((a.agent_info.id?.value, a.agent_info.hostname)))
            .collect();
        let mut table = Table::new(&["ID", "NAME", "STATE", "FRAMEWORK", "AGENT", "CPUS", "MEM"]);
        let all = tasks
            .tasks
            .iter()
            .chain(&tasks.unreachable_tasks)
            .chain(&tasks.completed_tasks);
        for task in all {
            let agent = hostnames
                .get(&task.agent_id.value)
                .cloned()
                .unwrap_or_else(|| task.agent_id.value.clone());
            table.row(vec![
                task.task_id.value.clone(),
                task.name.clone(),
                state_name(task.state).to_string(),
                task.framework_id.value.clone(),
                agent,
                amount(scalar_total(&task.resources, "cpus")),
                amount(scalar_total(&task.resources, "mem")),
            ]);
        }
        print!("{}", table.render());
        Ok(ExitCode::SUCCESS)
    })
}

pub fn agents(args: AgentsArgs) -> anyhow::Result<ExitCode> {
    with_client(&args.target.master, async |client| {
        let agents = get(client, call::Type::GetAgents)
            .await?
            .get_agents
            .unwrap_or_default();
        if args.target.json {
            println!("{}", json::to_value(&agents));
            return Ok(ExitCode::SUCCESS);
        }
        let mut table = Table::new(&["ID", "HOSTNAME", "ACTIVE", "CPUS", "MEM", "VERSION"]);
        for agent in &agents.agents {
            let used = |name| {
                format!(
                    "{}/{}",
                    amount(scalar_total(&agent.allocated_resources, name)),
                    amount(scalar_total(&agent.total_resources, name))
                )
            };
            table.row(vec![
                agent
                    .agent_info
                    .id
                    .as_ref()
                    .map(|id| id.value.clone())
                    .unwrap_or_default(),
                agent.agent_info.hostname.clone(),
                agent.active.to_string(),
                used("cpus"),
                used("mem"),
                agent.version.clone(),
            ]);
        }
        print!("{}", table.render());
        Ok(ExitCode::SUCCESS)
    })
}

pub fn frameworks(args: FrameworksArgs) -> anyhow::Result<ExitCode> {
    with_client(&args.target.master, async |client| {
        let mut frameworks = get(client, call::Type::GetFrameworks)
            .await?
            .get_frameworks
            .unwrap_or_default();
        if !args.all {
            frameworks.completed_frameworks.clear();
        }
        if args.target.json {
            println!("{}", json::to_value(&frameworks));
            return Ok(ExitCode::SUCCESS);
        }
        let mut table = Table::new(&["ID", "NAME", "ROLE", "ACTIVE", "CONNECTED", "CPUS", "MEM"]);
        for framework in frameworks
            .frameworks
            .iter()
            .chain(&frameworks.completed_frameworks)
        {
            let info = &framework.framework_info;
            let role = meseta_master::state::framework_role(info);
            table.row(vec![
                info.id
                    .as_ref()
                    .map(|id| id.value.clone())
                    .unwrap_or_default(),
                info.name.clone(),
                role,
                framework.active.to_string(),
                framework.connected.to_string(),
                amount(scalar_total(&framework.allocated_resources, "cpus")),
                amount(scalar_total(&framework.allocated_resources, "mem")),
            ]);
        }
        print!("{}", table.render());
        Ok(ExitCode::SUCCESS)
    })
}
