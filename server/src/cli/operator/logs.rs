//! `meseta logs TASK`: a task's `stdout` (or `stderr`) from its sandbox, as
//! `mesos task log` and `nomad alloc logs` show it. The master says which
//! agent runs the task; that agent's `/state` says where the sandbox is; its
//! `/files/read` gives the bytes. `--follow` keeps reading as the task
//! writes, until it has ended and everything is printed.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use meseta_core::detector::Endpoint;
use meseta_core::operator::OperatorClient;
use meseta_proto::v1;
use serde_json::Value;

use super::{locate, with_client, Located};

/// How long one request to an agent may take.
const AGENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `--follow` asks for more.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);
/// Bytes asked for per read.
const CHUNK: u64 = 64 * 1024;

/// Flags of `meseta logs`.
#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// The task's ID.
    task: String,
    /// The master: `HOST:PORT`, `zk://HOST:PORT/PATH` or `file://PATH`.
    #[arg(long, env = "MESOS_MASTER", default_value = "127.0.0.1:5050")]
    master: String,
    /// Show `stderr` instead of `stdout`.
    #[arg(long)]
    stderr: bool,
    /// Keep printing what the task writes until it ends.
    #[arg(long, short)]
    follow: bool,
    /// The task's framework (ID), when several frameworks use the same task ID.
    #[arg(long)]
    framework: Option<String>,
}

/// The task's sandbox directory on its agent.
async fn sandbox(client: &OperatorClient, located: &Located) -> anyhow::Result<String> {
    let (status, body) = client
        .get(&located.agent, "/state", AGENT_TIMEOUT)
        .await
        .context("cannot reach the task's agent")?;
    if status != 200 {
        bail!("the agent answered /state with {status}");
    }
    let state: Value = serde_json::from_slice(&body).context("the agent's /state is not JSON")?;
    let task_id = &located.task.task_id.value;
    let framework_id = &located.task.framework_id.value;
    let runs_task = |executor: &Value| {
        ["tasks", "queued_tasks", "completed_tasks"]
            .iter()
            .any(|list| {
                executor[list]
                    .as_array()
                    .is_some_and(|tasks| tasks.iter().any(|t| t["id"] == task_id.as_str()))
            })
    };
    let frameworks = ["frameworks", "completed_frameworks"]
        .iter()
        .flat_map(|key| state[key].as_array().cloned().unwrap_or_default());
    for framework in frameworks.filter(|f| f["id"] == framework_id.as_str()) {
        let executors = ["executors", "completed_executors"]
            .iter()
            .flat_map(|key| framework[key].as_array().cloned().unwrap_or_default());
        for executor in executors.filter(|e| runs_task(e)) {
            if let Some(directory) = executor["directory"].as_str() {
                return Ok(directory.to_string());
            }
        }
    }
    bail!("the agent no longer has the sandbox of task '{task_id}'")
}

/// Reads `path` from `offset`; the bytes read (empty at the end).
async fn read(
    client: &OperatorClient,
    agent: &Endpoint,
    path: &str,
    offset: u64,
) -> anyhow::Result<Vec<u8>> {
    let query = format!(
        "/files/read?path={}&offset={offset}&length={CHUNK}",
        percent_encode(path)
    );
    let (status, body) = client
        .get(agent, &query, AGENT_TIMEOUT)
        .await
        .context("cannot read the sandbox")?;
    match status {
        200 => {}
        404 => bail!("{path} does not exist (yet) in the task's sandbox"),
        other => bail!(
            "the agent answered /files/read with {other}: {}",
            String::from_utf8_lossy(&body).trim()
        ),
    }
    let chunk: Value = serde_json::from_slice(&body).context("/files/read did not answer JSON")?;
    Ok(chunk["data"]
        .as_str()
        .unwrap_or_default()
        .as_bytes()
        .to_vec())
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn ended(task: &v1::Task) -> bool {
    v1::TaskState::try_from(task.state).is_ok_and(|s| s.is_terminal())
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let master = args.master.clone();
    with_client(&master, async |client| {
        let mut located = locate(client, &args.task, args.framework.as_deref()).await?;
        let directory = sandbox(client, &located).await?;
        let path = format!(
            "{directory}/{}",
            if args.stderr { "stderr" } else { "stdout" }
        );
        let mut offset = 0u64;
        let mut out = std::io::stdout().lock();
        loop {
            let data = read(client, &located.agent, &path, offset).await?;
            if !data.is_empty() {
                offset += data.len() as u64;
                out.write_all(&data)?;
                out.flush()?;
                continue;
            }
            if !args.follow || ended(&located.task) {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(FOLLOW_INTERVAL).await;
            // Once the task has ended, one last read gets what it wrote last.
            if let Ok(again) = locate(client, &args.task, args.framework.as_deref()).await {
                located.task = again.task;
            }
        }
    })
}
