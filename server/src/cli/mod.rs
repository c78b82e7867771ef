//! One module per subcommand; each parses its flags and runs.

pub mod agent;
pub mod execute;
pub mod local;
pub mod master;
pub mod operator;

use std::path::Path;

/// Writes the bound address to `<work_dir>/address` and the process ID to
/// `<work_dir>/pid`, atomically, for the launcher and for scripts that
/// started us with `--port 0`.
pub fn publish_address(work_dir: &Path, address: &str) -> anyhow::Result<()> {
    let pid = work_dir.join("pid");
    std::fs::write(&pid, format!("{}\n", std::process::id()))?;
    let tmp = work_dir.join("address.tmp");
    std::fs::write(&tmp, format!("{address}\n"))?;
    std::fs::rename(&tmp, work_dir.join("address"))?;
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
