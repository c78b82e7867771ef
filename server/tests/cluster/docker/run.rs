//! What a task in a Docker container sees and shows: its image, its
//! output in the sandbox, its network and port mappings, its volumes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use meseta_proto::v1::{self, task_status::Reason, TaskState};

use super::*;
use crate::isolation::{assert_status, launch, sandbox_file, task_sandbox};

#[test]
fn a_command_in_an_image_finishes_with_its_output_in_the_sandbox() {
    let Some((tc, env)) = docker_cluster("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("docker-run", false));
    let offer = fw.offers().remove(0);
    // From the private registry, pulled again although present.
    let image = v1::container_info::DockerInfo {
        force_pull_image: Some(true),
        ..docker_info(&env.registry_image)
    };
    let command = "echo hello from the image; echo oops >&2; \
                   if [ -e /etc/debian_version ]; then echo on-the-host; fi; \
                   echo sandbox=$MESOS_SANDBOX; echo name=$MESOS_CONTAINER_NAME; \
                   while [ ! -f $MESOS_SANDBOX/go ]; do sleep 0.05; done; echo last line";
    launch(
        &fw,
        &offer,
        vec![docker_task(
            "in-image",
            &offer,
            command,
            "cpus:0.1;mem:64",
            image,
        )],
    );
    let running = fw.state("in-image", TaskState::TaskRunning);
    let name = container_name(&running);
    let inspected = inspect(env, &name).expect("the engine has the container by Mesos's name");
    assert_eq!(inspected["State"]["Running"], true);
    assert_eq!(
        inspected["Config"]["Labels"]["meseta.task_id"], "in-image",
        "{inspected}"
    );
    let data = running
        .data
        .clone()
        .expect("TASK_RUNNING carries the engine's description");
    let described: serde_json::Value = serde_json::from_slice(&data).expect("JSON");
    assert_eq!(described[0]["Name"], format!("/{name}"));

    // Live: the output is in the sandbox while the task still runs.
    wait_until(DEADLINE, "the output in the sandbox while it runs", || {
        sandbox_file(&tc, "in-image", "stdout").contains("hello from the image")
    });
    std::fs::write(task_sandbox(&tc, "in-image").join("go"), "").expect("go");
    let status = fw.terminal("in-image");
    assert_status(&status, TaskState::TaskFinished, None, &[]);
    let stdout = sandbox_file(&tc, "in-image", "stdout");
    assert!(!stdout.contains("on-the-host"), "{stdout}");
    assert!(stdout.contains("sandbox=/mnt/mesos/sandbox"), "{stdout}");
    assert!(stdout.contains(&format!("name={name}")), "{stdout}");
    assert!(
        stdout.contains("last line"),
        "the last line is in before the update: {stdout}"
    );
    assert_eq!(
        stdout.matches("hello from the image").count(),
        1,
        "{stdout}"
    );
    assert!(sandbox_file(&tc, "in-image", "stderr").contains("oops"));
    let metrics = get_json(&tc.cluster.agents[0].address, "/metrics/snapshot").expect("metrics");
    assert!(
        metrics["containerizer/docker/image_pull_ms/count"].as_f64() >= Some(1.0),
        "{metrics}"
    );
}

#[test]
fn a_missing_image_fails_the_launch_with_the_engines_words() {
    let Some((tc, env)) = docker_cluster("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("docker-missing", false));
    let offer = fw.offers().remove(0);
    let image = format!("{}/meseta-test/no-such-image:1", env.registry);
    launch(
        &fw,
        &offer,
        vec![docker_task(
            "missing",
            &offer,
            "true",
            "cpus:0.1;mem:32",
            docker_info(&image),
        )],
    );
    assert_status(
        &fw.terminal("missing"),
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        &["cannot pull the image", "no-such-image"],
    );
}

/// GET `path` from `port` on loopback; the body once it answers 200.
fn fetch(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.lines().next()?.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_string())
}

#[test]
fn a_bridge_port_mapping_serves_the_host_on_the_offered_port() {
    let port = free_port();
    let resources = format!("cpus:2;mem:512;ports:[{port}-{port}]");
    let Some((tc, _env)) = docker_cluster(&resources, &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), framework_info("docker-bridge", false));
    let offer = fw.offers().remove(0);
    let command = "mkdir -p /www && echo served-from-the-container > /www/index.html && exec httpd -f -p 8080 -h /www";
    let task_resources = format!("cpus:0.1;mem:64;ports:[{port}-{port}]");
    launch(
        &fw,
        &offer,
        vec![
            docker_task(
                "web",
                &offer,
                command,
                &task_resources,
                bridged(docker_env_image(), u32::from(port), 8080),
            ),
            // A host port the task was not given: refused before any agent sees it.
            docker_task(
                "elsewhere",
                &offer,
                command,
                "cpus:0.1;mem:32",
                bridged(docker_env_image(), u32::from(port) + 1, 8080),
            ),
        ],
    );
    assert_status(
        &fw.terminal("elsewhere"),
        TaskState::TaskError,
        Some(Reason::TaskInvalid),
        &[&format!(
            "Port [{}] not included in resources",
            u32::from(port) + 1
        )],
    );
    let running = fw.state("web", TaskState::TaskRunning);
    let addresses: Vec<String> = running
        .container_status
        .iter()
        .flat_map(|c| c.network_infos.iter())
        .flat_map(|n| n.ip_addresses.iter())
        .filter_map(|a| a.ip_address.clone())
        .collect();
    assert!(
        addresses
            .iter()
            .any(|a| a.parse::<std::net::Ipv4Addr>().is_ok()),
        "TASK_RUNNING carries the container's bridge address: {running:?}"
    );
    let mut body = None;
    wait_until(DEADLINE, "the container to serve on the host port", || {
        body = fetch(port, "/index.html");
        body.is_some()
    });
    assert_eq!(body.unwrap_or_default().trim(), "served-from-the-container");
    fw.driver.kill_task(&running.task_id);
    assert_status(&fw.terminal("web"), TaskState::TaskKilled, None, &[]);
}

/// The test image's name in the private engine.
fn docker_env_image() -> &'static str {
    meseta::docker_env::TEST_IMAGE
}

fn volume(container: &str, host: &str, mode: v1::volume::Mode) -> v1::Volume {
    v1::Volume {
        mode: mode as i32,
        container_path: container.into(),
        host_path: Some(host.into()),
        ..Default::default()
    }
}

#[test]
fn volumes_are_visible_read_only_or_writable() {
    let Some((tc, _env)) = docker_cluster("cpus:2;mem:512", &[]) else {
        return;
    };
    let shared = tc.root.path().join("shared-data");
    std::fs::create_dir_all(&shared).expect("dir");
    std::fs::write(shared.join("hello"), "from the host\n").expect("file");
    let mut fw = TestFramework::start(&tc.master(), framework_info("docker-volumes", false));
    let offer = fw.offers().remove(0);
    let command = "cat /data/hello; echo written > /out/result; \
                   if touch /data/x 2>/dev/null; then echo read-only-leak; fi; \
                   echo in-sandbox > $MESOS_SANDBOX/cache/note";
    let mut task = docker_task(
        "volumes",
        &offer,
        command,
        "cpus:0.1;mem:32",
        docker_info(docker_env_image()),
    );
    if let Some(container) = task.container.as_mut() {
        container.volumes = vec![
            volume("/data", &shared.display().to_string(), v1::volume::Mode::Ro),
            // Relative host path: below the sandbox.
            volume("/out", "results", v1::volume::Mode::Rw),
            // Relative container path: below the mapped sandbox.
            volume(
                "cache",
                &tc.root.path().join("cache").display().to_string(),
                v1::volume::Mode::Rw,
            ),
        ];
    }
    std::fs::create_dir_all(tc.root.path().join("cache")).expect("dir");
    launch(&fw, &offer, vec![task]);
    assert_status(&fw.terminal("volumes"), TaskState::TaskFinished, None, &[]);
    let stdout = sandbox_file(&tc, "volumes", "stdout");
    assert!(stdout.contains("from the host"), "{stdout}");
    assert!(!stdout.contains("read-only-leak"), "{stdout}");
    let sandbox = task_sandbox(&tc, "volumes");
    assert_eq!(
        std::fs::read_to_string(sandbox.join("results/result")).unwrap_or_default(),
        "written\n"
    );
    assert_eq!(
        std::fs::read_to_string(tc.root.path().join("cache/note")).unwrap_or_default(),
        "in-sandbox\n"
    );
    assert!(!shared.join("x").exists());
}

#[test]
fn without_the_docker_containerizer_docker_containers_are_refused() {
    let tc = cluster_with_agent_args("cpus:1;mem:256", &["--containerizers", "mesos"]);
    let mut fw = TestFramework::start(&tc.master(), framework_info("docker-refused", false));
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![docker_task(
            "refused",
            &offer,
            "true",
            "cpus:0.1;mem:32",
            docker_info("busybox"),
        )],
    );
    assert_status(
        &fw.terminal("refused"),
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        &["--containerizers=docker,mesos"],
    );
}
