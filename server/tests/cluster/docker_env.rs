//! The private Docker engine, registry and test image the Docker tests use
//! (`meseta::docker_env`): up, with the image runnable, in the registry
//! and saved to a directory.

use meseta::docker_env;

/// The shared environment, or `None` (loudly) where it cannot run.
pub fn docker() -> Option<&'static docker_env::DockerEnv> {
    if let Some(reason) = docker_env::unavailable() {
        eprintln!("SKIPPED (loudly): {reason}");
        return None;
    }
    Some(docker_env::shared().expect("the private Docker engine and registry start"))
}

#[test]
fn the_private_engine_runs_the_test_image_and_the_registry_serves_it() {
    let Some(env) = docker() else {
        return;
    };
    let out = env
        .run(&[
            "run",
            "--rm",
            docker_env::TEST_IMAGE,
            "echo",
            "hello from busybox",
        ])
        .expect("docker run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello from busybox"
    );
    let (status, body) = crate::common::request(
        &env.registry,
        "GET",
        "/v2/meseta-test/busybox/tags/list",
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("\"1\""));
    let saved = env.save_dir.join(format!("{}.tar", docker_env::TEST_IMAGE));
    assert!(saved.is_file(), "{} is saved", saved.display());
}
