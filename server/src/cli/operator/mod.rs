//! The operator commands: `meseta tasks`, `agents`, `frameworks`, `roles` (tables,
//! or `--json`) and `meseta logs`. They ask the leading master's operator
//! API (found as the drivers find it: `HOST:PORT`, `zk://…`, `file://…`)
//! and the agents' sandboxes; every failure is one line and a non-zero exit.

pub mod exec;
pub mod kill;
pub mod list;
pub mod logs;
pub mod roles;
mod table;

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use meseta_core::detector::Endpoint;
use meseta_core::operator::OperatorClient;
use meseta_proto::master::{call, Call, Response};
use meseta_proto::v1;

pub use exec::ExecArgs;
pub use kill::KillArgs;
pub use list::{AgentsArgs, FrameworksArgs, TasksArgs};
pub use logs::LogsArgs;
pub use roles::RolesArgs;

/// Where the cluster is, and how to print.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// The master: `HOST:PORT`, `zk://HOST:PORT/PATH` or `file://PATH`.
    #[arg(long, env = "MESOS_MASTER", default_value = "127.0.0.1:5050")]
    master: String,
    /// Print the operator API's answer as JSON (Mesos's mapping) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `work` on a fresh runtime with a client of `master`.
fn with_client<F>(master: &str, work: F) -> anyhow::Result<ExitCode>
where
    F: AsyncFnOnce(&mut OperatorClient) -> anyhow::Result<ExitCode>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let mut client =
            OperatorClient::new(master).with_context(|| format!("bad --master {master}"))?;
        work(&mut client).await
    });
    // A read of standard input may still be blocked (`exec -i`): do not
    // wait for it.
    runtime.shutdown_background();
    result
}

/// The container of a running task.
pub(crate) fn running_container(task: &v1::Task, task_id: &str) -> anyhow::Result<v1::ContainerId> {
    if v1::TaskState::try_from(task.state).is_ok_and(|s| s.is_terminal()) {
        bail!("task '{task_id}' has already ended");
    }
    task.statuses
        .iter()
        .rev()
        .find_map(|s| s.container_status.as_ref()?.container_id.clone())
        .with_context(|| format!("task '{task_id}' has no container yet"))
}

/// One GET_* call; its answer.
async fn get(client: &mut OperatorClient, kind: call::Type) -> anyhow::Result<Response> {
    let call = Call {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    client
        .call(&call)
        .await
        .context("cannot reach the master")?
        .with_context(|| format!("the master answered {} with nothing", kind.as_str_name()))
}

/// Where a task runs, as the master knows it.
pub(crate) struct Located {
    pub task: v1::Task,
    pub agent: Endpoint,
}

/// The task `task_id` (of `framework`, when given) and its agent.
async fn locate(
    client: &mut OperatorClient,
    task_id: &str,
    framework: Option<&str>,
) -> anyhow::Result<Located> {
    let state = get(client, call::Type::GetState)
        .await?
        .get_state
        .unwrap_or_default();
    let tasks = state.get_tasks.unwrap_or_default();
    let mut matching: Vec<v1::Task> = tasks
        .tasks
        .into_iter()
        .chain(tasks.unreachable_tasks)
        .chain(tasks.completed_tasks)
        .filter(|t| t.task_id.value == task_id)
        .filter(|t| framework.is_none_or(|f| t.framework_id.value == f))
        .collect();
    let task = match matching.len() {
        0 => bail!("no task '{}' is known to the master", task_id),
        1 => matching.remove(0),
        _ => bail!(
            "several frameworks have a task '{}'; name one with --framework",
            task_id
        ),
    };
    let agent = state
        .get_agents
        .unwrap_or_default()
        .agents
        .into_iter()
        .find(|a| a.agent_info.id.as_ref() == Some(&task.agent_id))
        .ok_or_else(|| anyhow!("the agent of task '{}' is not connected", task_id))?;
    let pid = agent.pid.unwrap_or_default();
    let address = pid.rsplit_once('@').map_or(pid.as_str(), |(_, a)| a);
    let agent = Endpoint::parse(address, None)
        .with_context(|| format!("the agent's address {pid:?} is unusable"))?;
    Ok(Located { task, agent })
}
