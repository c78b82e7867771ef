//! Finding the leading Mesos master, and the ZooKeeper code behind it.
//!
//! # Why a crate of its own
//!
//! Both sides of Meseta have to find the leader. The client drivers
//! (`meseta-core`, and through it every language binding) and the agent
//! look the leader up before each connection attempt; the master contends
//! for leadership and keeps its registry in the same ZooKeeper group. None
//! of them should depend on another for it: the servers have no use for the
//! client SDK, and the client must not pull in a server. So the shared part
//! lives here, below both, with only the wire types of `meseta-proto` under
//! it.
//!
//! # Modules
//!
//! * [`detector`]: master addresses as Mesos users write `--master`
//!   (`HOST:PORT`, `http://HOST:PORT`, `file:///path`, `zk://...`), redirect
//!   locations, and [`MasterDetector`](detector::MasterDetector), which says
//!   which master to try next.
//! * [`zookeeper`]: Mesos's layout in ZooKeeper (ephemeral sequential
//!   `json.info_<seq>` nodes holding `MasterInfo` JSON; the lowest leads),
//!   connecting, [`ensure_path`](zookeeper::ensure_path) and the leader
//!   lookup.
//!
//! Every fallible function returns this crate's one [`Error`].
#![warn(missing_docs, unreachable_pub)]

pub mod detector;
mod error;
pub mod zookeeper;

pub use error::{Error, Result};
