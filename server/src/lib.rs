//! Pieces of the `meseta` binary that tests and benchmarks reuse.
//!
//! [`launcher`] starts real `meseta master` and `meseta agent` processes and
//! waits for them to be ready: `meseta local`, the integration tests and the
//! benchmarks all bring clusters up through it, so what the tests exercise
//! is what a user runs.
#![warn(missing_docs)]

pub mod docker_env;
pub mod launcher;
pub mod zookeeper;
