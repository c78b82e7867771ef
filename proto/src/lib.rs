//! Wire types shared by every part of Meseta.
//!
//! * [`v1`], [`scheduler`], [`executor`]: the Mesos v1 messages, generated from
//!   our own `.proto` transcription of the Mesos wire format (package names,
//!   field names and numbers identical to Apache Mesos 1.x, proto2 semantics).
//! * [`master`], [`agent`] (with [`quota`], [`maintenance`], [`allocator`]):
//!   the v1 operator APIs of the master and the agent, transcribed the same way.
//! * [`cluster`]: Meseta's private master <-> agent gRPC protocol.
//! * [`json`]: Mesos's JSON mapping (field names as in the `.proto`, enums by
//!   name, bytes as base64, unset fields omitted), used by the HTTP APIs.
//! * [`media`]: the v1 APIs' media types, chosen from `Content-Type` and `Accept`.
//! * [`recordio`]: the `<length>\n<bytes>` framing of Mesos event streams.
//! * [`resources`]: small helpers to build and read `Resource` lists.
//! * [`roles`]: which role names are valid, and the `--weights` syntax.
//! * [`endpoint_json`]: resources and attributes as the legacy JSON endpoints show them.
//! * [`verbosity`]: how the operator API reads and sets a process's log verbosity.
//! * [`prometheus`]: Prometheus's text exposition format (`GET /metrics`).
//! * [`duration`]: Mesos's duration syntax (`15secs`, `500ms`), parsed and written.
//! * [`MESOS_VERSION`]: the Mesos release whose APIs all of the above speak.
//!
//! This crate depends on neither the client nor the server.
#![warn(missing_docs)]

/// Generated modules, nested like the protobuf packages so that generated
/// cross-package paths (`super::super::FrameworkId`) resolve.
#[allow(missing_docs, clippy::all)]
mod generated {
    pub mod mesos {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/mesos.v1.rs"));
            pub mod scheduler {
                include!(concat!(env!("OUT_DIR"), "/mesos.v1.scheduler.rs"));
            }
            pub mod executor {
                include!(concat!(env!("OUT_DIR"), "/mesos.v1.executor.rs"));
            }
            pub mod master {
                include!(concat!(env!("OUT_DIR"), "/mesos.v1.master.rs"));
            }
            pub mod agent {
                include!(concat!(env!("OUT_DIR"), "/mesos.v1.agent.rs"));
            }
            pub mod quota {
                include!(concat!(env!("OUT_DIR"), "/mesos.v1.quota.rs"));
            }
            pub mod maintenance {
                include!(concat!(env!("OUT_DIR"), "/mesos.v1.maintenance.rs"));
            }
            pub mod allocator {
                include!(concat!(env!("OUT_DIR"), "/mesos.v1.allocator.rs"));
            }
        }
    }
    pub mod meseta {
        pub mod cluster {
            include!(concat!(env!("OUT_DIR"), "/meseta.cluster.rs"));
        }
        pub mod registry {
            include!(concat!(env!("OUT_DIR"), "/meseta.registry.rs"));
        }
    }
}

/// `meseta.cluster`: the master <-> agent stream (our own protocol).
pub use generated::meseta::cluster;
/// `meseta.registry`: what the master persists across failovers (our own format).
pub use generated::meseta::registry;
/// `mesos.v1`: the common Mesos messages (`Offer`, `TaskInfo`, `Resource`, ...).
pub use generated::mesos::v1;
/// `mesos.v1.agent`: the agent's operator API (`Call`, `Response`, `ProcessIo`).
pub use generated::mesos::v1::agent;
/// `mesos.v1.allocator`: frameworks' answers to inverse offers.
pub use generated::mesos::v1::allocator;
/// `mesos.v1.executor`: executor `Call`s and `Event`s.
pub use generated::mesos::v1::executor;
/// `mesos.v1.maintenance`: maintenance schedules and machine states.
pub use generated::mesos::v1::maintenance;
/// `mesos.v1.master`: the master's operator API (`Call`, `Response`, `Event`).
pub use generated::mesos::v1::master;
/// `mesos.v1.quota`: role quotas, as the master's operator API carries them.
pub use generated::mesos::v1::quota;
/// `mesos.v1.scheduler`: scheduler `Call`s and `Event`s.
pub use generated::mesos::v1::scheduler;

pub mod duration;
pub mod endpoint_json;
pub mod json;
pub mod link_codec;
pub mod media;
pub mod prometheus;
pub mod recordio;
pub mod resources;
pub mod roles;
pub mod verbosity;

pub use prost::Message;
/// `google.protobuf` well-known types (`Duration` in the operator API).
pub use prost_types;

/// The Mesos release whose APIs Meseta speaks, as the master and the agent
/// report it (`/state`, `MasterInfo`, the agent's registration) and the Java
/// binding hands to the official jar (`MesosNativeLibrary.version()`).
pub const MESOS_VERSION: &str = "1.11.0";

/// What GET_VERSION answers on masters and agents: the Mesos version
/// spoken, and Meseta's own in `git_tag`.
pub fn version_info() -> v1::VersionInfo {
    v1::VersionInfo {
        version: MESOS_VERSION.to_string(),
        build_user: Some("meseta".into()),
        git_tag: Some(format!("meseta-{}", env!("CARGO_PKG_VERSION"))),
        ..Default::default()
    }
}

impl v1::TaskState {
    /// Whether the state is final: the task will not change state again.
    pub fn is_terminal(self) -> bool {
        use v1::TaskState::*;
        matches!(
            self,
            TaskFinished
                | TaskFailed
                | TaskKilled
                | TaskError
                | TaskLost
                | TaskDropped
                | TaskGone
                | TaskGoneByOperator
        )
    }
}

/// The compiled descriptors of every message above.
pub const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
