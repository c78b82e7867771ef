//! Logging for processes the core is embedded in (the language bindings):
//! the core logs through `tracing`, and a binding that owns no subscriber
//! sends those logs to stderr.
//!
//! Log lines are coloured only on a terminal, and never when `NO_COLOR` is
//! set (<https://no-color.org>): escape codes in a log file or a pipe are
//! noise to whoever reads it.

use std::io::IsTerminal;

/// Whether log lines on stderr may carry ANSI colours: stderr is a
/// terminal and `NO_COLOR` is unset or empty.
pub fn colour_stderr() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

/// Sends `tracing` output to stderr, filtered by the environment variable
/// `variable` (e.g. `MESETA_LOG=info`; `warn` when unset). Only the first
/// call in a process installs anything; later ones, and processes that
/// already have a subscriber, are left as they are.
pub fn init_stderr(variable: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(variable)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_stderr())
        .try_init();
}
