//! `meseta exec TASK -- CMD [ARG...]`: runs a command inside a running
//! task's container, as `docker exec` does, through the task's agent's
//! LAUNCH_NESTED_CONTAINER_SESSION: the command sees the task's
//! filesystem, processes, user and environment; its output streams back
//! here; with `--interactive` this terminal's input goes to it
//! (ATTACH_CONTAINER_INPUT); with `--tty` it gets a terminal of its own and
//! this one is put in raw mode meanwhile. `meseta exec` exits with the
//! command's exit code (128 + N when signal N ended it).

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use meseta_core::detector::Endpoint;
use meseta_core::operator::{OperatorClient, ProcessIoStream};
use meseta_proto::agent::{call, process_io, Call};
use meseta_proto::v1;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::{locate, running_container, with_client};

/// Flags of `meseta exec`.
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The task's ID.
    task: String,
    /// The command and its arguments (after `--`), run without a shell.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
    /// Send this terminal's standard input to the command.
    #[arg(short, long)]
    interactive: bool,
    /// Give the command a terminal (with --interactive: a shell you can use).
    #[arg(short, long)]
    tty: bool,
    /// The master: `HOST:PORT`, `zk://HOST:PORT/PATH` or `file://PATH`.
    #[arg(long, env = "MESOS_MASTER", default_value = "127.0.0.1:5050")]
    master: String,
    /// The task's framework (ID), when several frameworks use the same task ID.
    #[arg(long)]
    framework: Option<String>,
}

pub fn exec(args: ExecArgs) -> anyhow::Result<ExitCode> {
    with_client(&args.master.clone(), async |client| {
        let located = locate(client, &args.task, args.framework.as_deref()).await?;
        let parent = running_container(&located.task, &args.task)?;
        let session = v1::ContainerId {
            value: uuid::Uuid::new_v4().to_string(),
            parent: Some(Box::new(parent)),
        };
        let launch = Call {
            r#type: Some(call::Type::LaunchNestedContainerSession as i32),
            launch_nested_container_session: Some(call::LaunchNestedContainerSession {
                container_id: session.clone(),
                command: Some(command_info(&args.command)),
                container: args.tty.then(terminal_container),
            }),
            ..Default::default()
        };
        let mut output = client
            .agent_stream(&located.agent, &launch)
            .await
            .context("the task's agent refused the command")?;
        let _raw = (args.tty && args.interactive)
            .then(RawTerminal::enter)
            .flatten();
        let printed = print_output(&mut output);
        tokio::pin!(printed);
        if args.interactive {
            let input = send_input(client, &located.agent, &session, args.tty);
            tokio::pin!(input);
            tokio::select! {
                printed = &mut printed => printed?,
                () = &mut input => printed.await?,
            }
        } else {
            printed.await?;
        }
        exit_code(client, &located.agent, session).await
    })
}

/// The command as `CommandInfo`: no shell, `argv[0]` the command itself.
fn command_info(command: &[String]) -> v1::CommandInfo {
    v1::CommandInfo {
        shell: Some(false),
        value: command.first().cloned(),
        arguments: command.to_vec(),
        ..Default::default()
    }
}

/// A MESOS container asking for a terminal the size of ours.
fn terminal_container() -> v1::ContainerInfo {
    let (rows, columns) = window_size().unwrap_or((24, 80));
    v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        tty_info: Some(v1::TtyInfo {
            window_size: Some(v1::tty_info::WindowSize {
                rows: u32::from(rows),
                columns: u32::from(columns),
            }),
        }),
        ..Default::default()
    }
}

/// This terminal's size, if standard output is one.
fn window_size() -> Option<(u16, u16)> {
    // SAFETY: zeroed is a valid winsize; TIOCGWINSZ fills it.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize to the pointer given.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_row > 0).then_some((size.ws_row, size.ws_col))
}

/// Writes the session's output here as it comes, until it ends.
async fn print_output(output: &mut ProcessIoStream) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    while let Some(record) = output.next().await.context("lost the command's output")? {
        let Some(data) = record.data else { continue };
        let target: &mut dyn Write = match data.r#type() {
            process_io::data::Type::Stderr => &mut stderr,
            _ => &mut stdout,
        };
        target.write_all(data.data())?;
        target.flush()?;
    }
    Ok(())
}

/// Streams this process's standard input to the session until it ends
/// (then the end of input is sent).
async fn send_input(
    client: &OperatorClient,
    agent: &Endpoint,
    session: &v1::ContainerId,
    tty: bool,
) {
    let (tx, rx) = mpsc::channel(16);
    let first = Call {
        r#type: Some(call::Type::AttachContainerInput as i32),
        attach_container_input: Some(call::AttachContainerInput {
            r#type: Some(call::attach_container_input::Type::ContainerId as i32),
            container_id: Some(session.clone()),
            process_io: None,
        }),
        ..Default::default()
    };
    let sent = client.agent_input(agent, rx);
    let reader = async move {
        if tx.send(first).await.is_err() {
            return;
        }
        let mut stdin = tokio::io::stdin();
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let n = stdin.read(&mut buffer).await.unwrap_or(0);
            // Without a terminal, the end of our input is the end of its
            // (an empty record); with one, the user types it.
            if n == 0 && tty {
                return;
            }
            if tx.send(stdin_record(&buffer[..n])).await.is_err() || n == 0 {
                return;
            }
        }
    };
    let (sent, ()) = tokio::join!(sent, reader);
    if let Err(error) = sent {
        eprintln!("meseta exec: cannot send input to {agent}: {error}");
    }
}

fn stdin_record(data: &[u8]) -> Call {
    Call {
        r#type: Some(call::Type::AttachContainerInput as i32),
        attach_container_input: Some(call::AttachContainerInput {
            r#type: Some(call::attach_container_input::Type::ProcessIo as i32),
            container_id: None,
            process_io: Some(meseta_proto::agent::ProcessIo {
                r#type: Some(process_io::Type::Data as i32),
                data: Some(process_io::Data {
                    r#type: Some(process_io::data::Type::Stdin as i32),
                    data: Some(data.to_vec()),
                }),
                control: None,
            }),
        }),
        ..Default::default()
    }
}

/// The session's exit code, as a shell reports one (128 + N for signal N).
async fn exit_code(
    client: &OperatorClient,
    agent: &Endpoint,
    session: v1::ContainerId,
) -> anyhow::Result<ExitCode> {
    let wait = Call {
        r#type: Some(call::Type::WaitContainer as i32),
        wait_container: Some(call::WaitContainer {
            container_id: session,
        }),
        ..Default::default()
    };
    let answer = client
        .agent_call(agent, &wait)
        .await
        .context("cannot learn how the command ended")?;
    let Some(status) = answer
        .and_then(|a| a.wait_container)
        .and_then(|w| w.exit_status)
    else {
        bail!("the agent does not know how the command ended");
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// This terminal in raw mode while it lives (keys go to the remote
/// terminal as typed, Ctrl-C included).
struct RawTerminal {
    saved: libc::termios,
}

impl RawTerminal {
    fn enter() -> Option<Self> {
        // SAFETY: zeroed is a valid termios; tcgetattr fills it.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: both calls take pointers to a live termios.
        unsafe {
            if libc::isatty(libc::STDIN_FILENO) != 1
                || libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0
            {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw);
        }
        Some(Self { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restores the settings saved in `enter`.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved) };
    }
}
