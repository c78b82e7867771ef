//! The operator commands: `meseta tasks`, `agents`, `frameworks` (tables,
//! or `--json`) and `meseta logs`. They ask the leading master's operator
//! API (found as the drivers find it: `HOST:PORT`, `zk://…`, `file://…`)
//! and the agents' sandboxes; every failure is one line and a non-zero exit.

pub mod list;
pub mod logs;
mod table;

use std::process::ExitCode;

use anyhow::Context;
use meseta_core::operator::OperatorClient;
use meseta_proto::master::{call, Call, Response};

pub use list::{AgentsArgs, FrameworksArgs, TasksArgs};
pub use logs::LogsArgs;

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
    runtime.block_on(async {
        let mut client =
            OperatorClient::new(master).with_context(|| format!("bad --master {master}"))?;
        work(&mut client).await
    })
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
