//! The binary's logging: `tracing` to stderr through a filter that the
//! operator API's SET_LOGGING_LEVEL may raise for a while. Level 0 is the
//! filter given at start (`--log`, `RUST_LOG`); level 1 adds Meseta's debug
//! lines, 2 and above its trace lines; after the duration asked for, the
//! start filter is back (a later SET replaces an earlier one).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use meseta_proto::verbosity::{Verbosity, VerbosityControl};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
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

/// Installs the subscriber with `base` as the normal filter; the control
/// the operator API uses.
pub fn init(base: &str) -> VerbosityControl {
    let (layer, handle) = reload::Layer::new(filter(base, 0));
    tracing_subscriber::registry()
        .with(layer)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(meseta_core::logging::colour_stderr()),
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
