//! Containers from images without an engine (`ContainerInfo.type=MESOS`
//! with a Docker `mesos.image`): the agent pulls from the private registry
//! or a `docker save` directory into its store, gives each container the
//! image as its root filesystem, and applies the image's runtime
//! configuration as Mesos's docker/runtime does. Where the machine cannot
//! isolate or run the private registry, the tests say so loudly and do
//! nothing.

mod failures;
mod pull;
mod restart;
mod runtime;
mod volumes;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use meseta::docker_env::DockerEnv;
use meseta_proto::v1;

use crate::common::*;

/// The image with an Entrypoint, Cmd, Env and WorkingDir (in the
/// private registry).
pub const RUNTIME_IMAGE: &str = "meseta-test/runtime:1";

/// The private registry with the test images, and an isolating machine;
/// `None` (loudly) otherwise.
pub fn environment() -> Option<&'static DockerEnv> {
    if !crate::isolation::can_isolate() {
        return None;
    }
    let env = crate::docker_env::docker()?;
    runtime_image(env);
    Some(env)
}

/// Builds and pushes [`RUNTIME_IMAGE`] once per test process.
fn runtime_image(env: &DockerEnv) {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let tarball = env.dir.join("rootfs.tar").display().to_string();
        let changes = [
            r#"ENTRYPOINT ["/bin/sh", "-c"]"#,
            r#"CMD ["pwd > $MESOS_SANDBOX/pwd; echo \"$GREETING $OVERRIDDEN\" > $MESOS_SANDBOX/env"]"#,
            "ENV PATH=/bin",
            "ENV GREETING=hello-from-image",
            "ENV OVERRIDDEN=by-image",
            "WORKDIR /srv/app",
        ];
        let mut args = vec!["import"];
        for change in &changes {
            args.extend(["-c", change]);
        }
        let pushed = format!("{}/{RUNTIME_IMAGE}", env.registry);
        args.extend([tarball.as_str(), pushed.as_str()]);
        env.run(&args).expect("docker import the runtime image");
        env.run(&["push", &pushed]).expect("push the runtime image");
    });
}

/// An agent pulling from `registry` (a URL or a directory) into `store`.
pub fn image_agent(resources: &str, registry: &str, store: &Path) -> TestCluster {
    image_agent_with(resources, registry, store, &[])
}

/// [`image_agent`] with more flags.
pub fn image_agent_with(
    resources: &str,
    registry: &str,
    store: &Path,
    more: &[&str],
) -> TestCluster {
    let store = store.display().to_string();
    let mut args = vec!["--docker-registry", registry, "--docker-store-dir", &store];
    args.extend_from_slice(more);
    cluster_with_agent_args(resources, &args)
}

/// A container of type MESOS from the Docker image `name`.
pub fn image_container(name: &str) -> v1::ContainerInfo {
    v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        mesos: Some(v1::container_info::MesosInfo {
            image: Some(v1::Image {
                r#type: v1::image::Type::Docker as i32,
                docker: Some(v1::image::Docker {
                    name: name.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

/// A shell command task in the image `name`.
pub fn image_task(id: &str, offer: &v1::Offer, command: &str, image: &str) -> v1::TaskInfo {
    crate::isolation::contained_task(
        id,
        offer,
        command,
        "cpus:0.1;mem:64",
        image_container(image),
    )
}

/// The agent's pulls so far (`image_pull_ms/count`).
pub fn pulls(tc: &TestCluster) -> f64 {
    let metrics = get_json(&tc.cluster.agents[0].address, "/metrics/snapshot").expect("metrics");
    metrics["containerizer/mesos/provisioner/docker_store/image_pull_ms/count"]
        .as_f64()
        .unwrap_or(-1.0)
}

/// Entries of `dir` whose names start with `.tmp-` (half-made things).
pub fn temporaries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .map(|e| e.path())
        .collect()
}
