//! The binary's logging: `tracing` to stderr through a filter that the
//! operator API's SET_LOGGING_LEVEL may raise for a while. Level 0 is the
//! filter given at start (`--log`, `RUST_LOG`); level 1 adds Meseta's debug
//! lines, 2 and above its trace lines; after the duration asked for, the
//! start filter is back (a later SET replaces an earlier one). With
//! `--log-dir`, every line also goes to a file there ([`log_to`]), which
//! the master and the agent serve at `/master/log` and `/slave/log`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use meseta_proto::verbosity::{Verbosity, VerbosityControl};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Meseta's own crates, whose lines a raised level shows.
const OURS: &[&str] = &[
    "meseta",
    "meseta_master",
    "meseta_agent",
    "meseta_core",
    "meseta_coordination",
    "meseta_allocator",
];

struct Level {
    level: u32,
    /// Bumped by every change, so that a revert only undoes its own.
    generation: u64,
}

struct Logging {
    handle: reload::Handle<EnvFilter, Registry>,
    base: String,
    state: Arc<Mutex<Level>>,
}

fn filter(base: &str, level: u32) -> EnvFilter {
    let extra = match level {
        0 => return EnvFilter::new(base),
        1 => "debug",
        _ => "trace",
    };
    let mut directives = base.to_string();
    for target in OURS {
        directives.push_str(&format!(",{target}={extra}"));
    }
    EnvFilter::new(directives)
}

fn apply(handle: &reload::Handle<EnvFilter, Registry>, base: &str, level: u32) {
    if let Err(error) = handle.reload(filter(base, level)) {
        tracing::warn!(%error, level, "cannot change the logging level");
    }
}

impl Verbosity for Logging {
    fn level(&self) -> u32 {
        self.state.lock().map_or(0, |s| s.level)
    }

    fn set(&self, level: u32, duration: Duration) {
        let generation = {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            state.level = level;
            state.generation += 1;
            state.generation
        };
        apply(&self.handle, &self.base, level);
        tracing::info!(level, ?duration, "logging level changed");
        if level == 0 {
            return;
        }
        let (handle, base, state) = (self.handle.clone(), self.base.clone(), self.state.clone());
        let revert = move || {
            std::thread::sleep(duration);
            let Ok(mut state) = state.lock() else {
                return;
            };
            if state.generation == generation {
                state.level = 0;
                apply(&handle, &base, 0);
                tracing::info!("logging level back to normal");
            }
        };
        if let Err(error) = std::thread::Builder::new()
            .name("log-level-revert".into())
            .spawn(revert)
        {
            tracing::warn!(%error, "cannot schedule the logging level's revert");
        }
    }
}

/// The file log lines are also written to, once [`log_to`] named one.
static LOG_FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// Writes to [`LOG_FILE`]; one event's line is one `write`, under the lock.
struct FileSink;

impl Write for FileSink {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        match LOG_FILE.get() {
            Some(file) => file
                .lock()
                .map_err(|_| std::io::Error::other("the log file's lock is poisoned"))?
                .write_all(line)
                .map(|()| line.len()),
            None => Ok(line.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct FileSinks;

impl<'a> MakeWriter<'a> for FileSinks {
    type Writer = FileSink;

    fn make_writer(&'a self) -> FileSink {
        FileSink
    }
}

/// From now on every log line also goes to `<dir>/<name>.log` (appended;
/// the directory is made if needed); the file's path. Once per process.
pub fn log_to(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
    let path = dir.join(format!("{name}.log"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open the log file {}", path.display()))?;
    LOG_FILE
        .set(Mutex::new(file))
        .map_err(|_| anyhow::anyhow!("the log file is already chosen"))?;
    Ok(path)
}

/// Installs the subscriber with `base` as the normal filter; the control
/// the operator API uses.
pub fn init(base: &str) -> VerbosityControl {
    let (layer, handle) = reload::Layer::new(filter(base, 0));
    let to_file = tracing_subscriber::filter::filter_fn(|_| LOG_FILE.get().is_some());
    tracing_subscriber::registry()
        .with(layer)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(meseta_core::logging::colour_stderr()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(FileSinks)
                .with_ansi(false)
                .with_filter(to_file),
        )
        .init();
    VerbosityControl::new(Logging {
        handle,
        base: base.to_string(),
        state: Arc::new(Mutex::new(Level {
            level: 0,
            generation: 0,
        })),
    })
}
