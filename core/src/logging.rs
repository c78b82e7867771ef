//! Logging for processes the core is embedded in (the language bindings):
//! the core logs through `tracing`, and a binding that owns no subscriber
//! sends those logs to stderr.

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
        .try_init();
}
