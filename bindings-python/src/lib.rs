//! `meseta._meseta`: the native half of the `meseta` Python package.
//!
//! The glue only converts and forwards. Python hands each call's messages
//! over as Mesos JSON text (the format pymesos uses), this module decodes
//! them into the `mesos.v1` types and calls the Rust client core; callbacks
//! come back the same way, as JSON text per argument, to one Python method
//! (`_dispatch`) of the pure-Python driver object, which turns them into
//! attribute dicts and calls the user's scheduler or executor. Everything
//! about connections, retries, acknowledgements and ordering lives in
//! `meseta-core`.
//!
//! Threads: the core runs callbacks on its own thread, which takes the GIL
//! only for the Python call; driver methods only enqueue, so they are cheap
//! to call with the GIL held, from any thread; `join` waits with the GIL
//! released, in slices, so Ctrl-C is noticed.

mod convert;
mod executor;
mod scheduler;

use pyo3::prelude::*;

/// Core logs go to stderr, filtered by `MESETA_LOG` (default `warn`).
fn init_logging() {
    meseta_core::logging::init_stderr("MESETA_LOG");
}

#[pymodule]
fn _meseta(module: &Bound<'_, PyModule>) -> PyResult<()> {
    init_logging();
    module.add_class::<scheduler::SchedulerDriver>()?;
    module.add_class::<executor::ExecutorDriver>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
