//! `meseta`: one binary for every role of a Meseta cluster.
//!
//! * `meseta master`: the master (scheduler API, endpoints, agents' gRPC);
//! * `meseta agent`: an agent that runs tasks for the master;
//! * `meseta local`: a master and N agents on loopback, for trying things out;
//! * `meseta execute`: run one command as a task, like `mesos-execute`;
//! * `meseta tasks | agents | frameworks | roles | logs | kill`: what an operator looks at and does.

mod cli;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: a master taking over 40,000 agents with their 400,000 tasks
/// spent a quarter of its CPU in glibc's free and consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Mesos-compatible cluster manager.
#[derive(Parser)]
#[command(name = "meseta", version, about, long_about = None)]
struct Cli {
    /// Log filter (e.g. `info`, `debug`, `meseta_master=debug`); also `RUST_LOG`.
    #[arg(long, global = true, env = "MESETA_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a master.
    Master(cli::master::Args),
    /// Run an agent.
    Agent(Box<cli::agent::Args>),
    /// Run a master and N agents on loopback, optionally a command against them.
    Local(cli::local::Args),
    /// Run one command as a task and wait for it, like `mesos-execute`.
    Execute(cli::execute::Args),
    /// List the cluster's tasks (active ones; `--all` adds completed ones).
    Tasks(cli::operator::TasksArgs),
    /// List the agents, with their resources in use.
    Agents(cli::operator::AgentsArgs),
    /// List the frameworks.
    Frameworks(cli::operator::FrameworksArgs),
    /// List the roles: weight, frameworks, what each holds, its quota.
    Roles(cli::operator::RolesArgs),
    /// Print a task's stdout (or `--stderr`) from its sandbox; `--follow` tails it.
    Logs(cli::operator::LogsArgs),
    /// Kill a task (it ends TASK_KILLED), as an operator.
    Kill(cli::operator::KillArgs),
    /// Run a command inside a running task's container (like `docker exec`).
    Exec(cli::operator::ExecArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or(cli.log.clone());
    let verbosity = logging::init(&filter);
    let result = match cli.command {
        Command::Master(args) => cli::master::run(args, verbosity),
        Command::Agent(args) => cli::agent::run(*args, verbosity),
        Command::Local(args) => cli::local::run(args),
        Command::Execute(args) => cli::execute::run(args),
        Command::Tasks(args) => cli::operator::list::tasks(args),
        Command::Agents(args) => cli::operator::list::agents(args),
        Command::Frameworks(args) => cli::operator::list::frameworks(args),
        Command::Roles(args) => cli::operator::roles::roles(args),
        Command::Logs(args) => cli::operator::logs::logs(args),
        Command::Kill(args) => cli::operator::kill::kill(args),
        Command::Exec(args) => cli::operator::exec::exec(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("meseta: {error:#}");
            ExitCode::FAILURE
        }
    }
}
