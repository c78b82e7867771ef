//! Compiles `proto/**/*.proto` with protox (a pure-Rust protoc, so no system
//! protobuf compiler is needed) and generates prost types and the tonic
//! service. The descriptor set is kept for the JSON mapping (`json.rs`).
use std::{env, fs, path::PathBuf};

use prost::Message;

const FILES: &[&str] = &[
    "mesos/v1/mesos.proto",
    "mesos/v1/scheduler/scheduler.proto",
    "mesos/v1/executor/executor.proto",
    "mesos/v1/allocator/allocator.proto",
    "mesos/v1/quota/quota.proto",
    "mesos/v1/maintenance/maintenance.proto",
    "mesos/v1/master/master.proto",
    "mesos/v1/agent/agent.proto",
    "meseta/cluster.proto",
    "meseta/registry.proto",
];

const BOXED: &[&str] = &[
    ".mesos.v1.Resource.disk",
    ".mesos.v1.Resource.reservation",
    ".mesos.v1.Task.container",
    ".mesos.v1.Task.health_check",
    ".mesos.v1.Task.check",
    ".mesos.v1.Task.discovery",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for file in FILES {
        println!("cargo:rerun-if-changed={file}");
    }
    let fds = protox::compile(FILES, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("descriptors.bin"), fds.encode_to_vec())?;
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    config.type_name_domain(["."], "type.googleapis.com");
    // Rarely set, large when inline: boxed so that the master's many
    // resources and tasks stay small (a `Resource` is 1.2 KB with its
    // `DiskInfo` inline, a `Task` 1.4 KB with its `ContainerInfo`).
    for field in BOXED {
        config.boxed(field);
    }
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::link_codec::LinkCodec")
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
