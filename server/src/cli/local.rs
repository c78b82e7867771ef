//! `meseta local`: a master and N agents on loopback, as real processes,
//! each agent with its own work dir and a share of the machine. With a
//! command after `--`, runs it against the cluster (`{master}` in its
//! arguments and `MESOS_MASTER` in its environment name the master) and
//! exits with its status; otherwise runs until Ctrl-C.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::Context;
use meseta::launcher::{Cluster, ClusterSpec};

/// Flags of `meseta local`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of agents.
    #[arg(long, default_value_t = 2)]
    agents: usize,
    /// Master port (0 picks a free one).
    #[arg(long, default_value_t = 5050)]
    port: u16,
    /// Root of the cluster's work dirs and logs (default: a new temporary directory).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// `--resources` of each agent (default: an equal share of this machine).
    #[arg(long)]
    resources: Option<String>,
    /// Command to run against the cluster, after `--`.
    #[arg(last = true)]
    command: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let binary = std::env::current_exe().context("cannot find the meseta binary")?;
    let root = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("meseta-local-{}", std::process::id())),
    };
    let mut spec = ClusterSpec::new(binary, &root, args.agents);
    spec.master_port = args.port;
    spec.agent_resources = args.resources.clone();
    eprintln!(
        "meseta local: starting a master and {} agent(s) under {}",
        args.agents,
        root.display()
    );
    let cluster = Cluster::start(spec)?;
    let master = cluster.master_address().to_string();
    wait_for_agents(&master, args.agents, Duration::from_secs(30))?;
    eprintln!(
        "meseta local: master at http://{master} with {} agent(s); logs in {}",
        args.agents,
        root.display()
    );

    if args.command.is_empty() {
        eprintln!("meseta local: press Ctrl-C to stop");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(super::shutdown_signal());
        eprintln!("meseta local: stopping");
        drop(cluster);
        return Ok(ExitCode::SUCCESS);
    }
    let argv: Vec<String> = args
        .command
        .iter()
        .map(|a| a.replace("{master}", &master))
        .collect();
    eprintln!("meseta local: running {}", argv.join(" "));
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .env("MESOS_MASTER", &master)
        .status()
        .with_context(|| format!("cannot run {}", argv[0]))?;
    drop(cluster);
    let code = status.code().unwrap_or(1);
    eprintln!("meseta local: command exited with status {code}; cluster stopped");
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Polls `/metrics/snapshot` until `agents` agents are active.
fn wait_for_agents(master: &str, agents: usize, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(metrics) = http_get_json(master, "/metrics/snapshot") {
            let active = metrics["master/slaves_active"].as_f64().unwrap_or(0.0) as usize;
            if active >= agents {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            anyhow::bail!("agents did not register with the master within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A minimal blocking HTTP GET returning JSON (for readiness checks).
pub fn http_get_json(address: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200"),
        "GET {path}: {}",
        head.lines().next().unwrap_or("")
    );
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(serde_json::from_str(&body)?)
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}
