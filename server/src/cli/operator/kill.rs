//! `meseta kill TASK`: kills a task as an operator, through its agent's
//! operator API (KILL_CONTAINER on the task's container); the task ends
//! TASK_KILLED and its framework hears it as from any kill.

use std::process::ExitCode;

use anyhow::Context;
use meseta_proto::agent::{call, Call};

use super::{locate, running_container, with_client};

/// Flags of `meseta kill`.
#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// The task's ID.
    task: String,
    /// The master: `HOST:PORT`, `zk://HOST:PORT/PATH` or `file://PATH`.
    #[arg(long, env = "MESOS_MASTER", default_value = "127.0.0.1:5050")]
    master: String,
    /// The task's framework (ID), when several frameworks use the same task ID.
    #[arg(long)]
    framework: Option<String>,
}

pub fn kill(args: KillArgs) -> anyhow::Result<ExitCode> {
    with_client(&args.master.clone(), async |client| {
        let located = locate(client, &args.task, args.framework.as_deref()).await?;
        let container_id = running_container(&located.task, &args.task)?;
        let call = Call {
            r#type: Some(call::Type::KillContainer as i32),
            kill_container: Some(call::KillContainer {
                container_id,
                signal: None,
            }),
            ..Default::default()
        };
        client
            .agent_call(&located.agent, &call)
            .await
            .context("the task's agent refused the kill")?;
        println!("killing task {}", args.task);
        Ok(ExitCode::SUCCESS)
    })
}
