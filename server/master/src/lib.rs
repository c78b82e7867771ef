//! The Meseta master.
//!
//! The master is split in two, so the offer cycle can be tested and
//! benchmarked without sockets:
//!
//! * [`state`]: a plain state machine. Every input (a scheduler call, an agent
//!   message, a timer tick) is a method call that takes `now` and returns the
//!   [`state::Action`]s to perform (events to send to frameworks, messages to
//!   agents). It owns the [`meseta_allocator::Allocator`]. No tokio, no I/O.
//! * the shell ([`server`], [`http`], [`grpc`]): owns the sockets and the
//!   clock. One task (the *driver loop*) owns the state machine and feeds it
//!   from a channel; HTTP handlers and the agents' gRPC streams only parse
//!   input, send it to the loop, and carry actions back out. What the edges
//!   and the loop share (the loop's commands, [`MasterHandle`], the clock)
//!   is in [`handle`]; only this file uses [`server`].
#![warn(missing_docs)]

pub mod config;
pub mod election;
pub mod grpc;
pub mod handle;
pub mod http;
pub mod leadership;
mod outputs;
pub mod registry;
pub mod server;
pub mod state;

pub use config::MasterConfig;
pub use handle::MasterHandle;
pub use leadership::Leadership;
pub use server::MasterServer;
