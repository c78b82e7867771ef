//! The operator API's GET_LOGGING_LEVEL and SET_LOGGING_LEVEL: a process
//! that owns its logging (the `meseta` binary) hands its master or agent a
//! [`VerbosityControl`]; the API reads and changes the level through it.
//! Levels are Mesos's (glog) verbosity: 0 is the normal level, higher is
//! more detail; a raised level falls back after the duration asked for.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What changes a process's log verbosity.
pub trait Verbosity: Send + Sync {
    /// The level in force.
    fn level(&self) -> u32;
    /// Sets `level` for `duration`, then returns to the normal level.
    fn set(&self, level: u32, duration: Duration);
}

/// A shareable [`Verbosity`].
#[derive(Clone)]
pub struct VerbosityControl(Arc<dyn Verbosity>);

impl VerbosityControl {
    /// Wraps `verbosity`.
    pub fn new(verbosity: impl Verbosity + 'static) -> Self {
        Self(Arc::new(verbosity))
    }

    /// The level in force.
    pub fn level(&self) -> u32 {
        self.0.level()
    }

    /// Sets `level` for `duration`.
    pub fn set(&self, level: u32, duration: Duration) {
        self.0.set(level, duration)
    }

    /// SET_LOGGING_LEVEL's `level` and `duration`; a negative duration is
    /// refused (the `400` text) and changes nothing.
    pub fn set_for(&self, level: u32, duration: &crate::v1::DurationInfo) -> Result<(), String> {
        let nanos = u64::try_from(duration.nanoseconds)
            .map_err(|_| "'duration' must not be negative".to_string())?;
        self.set(level, Duration::from_nanos(nanos));
        Ok(())
    }
}

impl fmt::Debug for VerbosityControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerbosityControl(level {})", self.level())
    }
}
