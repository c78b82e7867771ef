//! The translation of launch requests into the engine's create body, and
//! the engine's verdicts into terminations, without an engine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::models::{ContainerCreateBody, HostConfig};
use meseta_proto::resources::parse_resources;
use meseta_proto::v1::{self, container_info::docker_info};

use super::parameters::parse_bytes;
use super::translate::{container_name, create_body, Target};
use crate::containerizer::LaunchRequest;

const ID: &str = "0b5a7d0e-3c57-4f47-9f6c-4c3f2e0e8d11";

fn docker(image: &str) -> v1::container_info::DockerInfo {
    v1::container_info::DockerInfo {
        image: image.into(),
        ..Default::default()
    }
}

fn request(command: &str, resources: &str, info: v1::ContainerInfo) -> LaunchRequest {
    LaunchRequest {
        container_id: v1::ContainerId {
            value: ID.into(),
            ..Default::default()
        },
        command: v1::CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        },
        environment: vec![
            ("MESOS_SANDBOX".into(), "/host/sandbox".into()),
            ("MESOS_TASK_ID".into(), "t1".into()),
        ],
        sandbox: PathBuf::from("/host/sandbox"),
        user: None,
        resources: parse_resources(resources).expect("resources"),
        container: Some(info),
        checkpoint_dir: None,
    }
}

fn info(docker: v1::container_info::DockerInfo) -> v1::ContainerInfo {
    v1::ContainerInfo {
        r#type: v1::container_info::Type::Docker as i32,
        docker: Some(docker),
        ..Default::default()
    }
}

fn body(request: &LaunchRequest, cfs: bool) -> Result<ContainerCreateBody, String> {
    let name = container_name(&request.container_id);
    let target = Target {
        name: &name,
        mapped_sandbox: Path::new("/mnt/mesos/sandbox"),
        enable_cfs: cfs,
        labels: HashMap::from([("meseta.work_dir".to_string(), "/w".to_string())]),
    };
    create_body(request, &target)
}

fn host(body: &ContainerCreateBody) -> &HostConfig {
    body.host_config.as_ref().expect("host config")
}

#[test]
fn a_shell_command_on_the_host_network_sees_the_mapped_sandbox() {
    let request = request("echo hi", "cpus:0.5;mem:64", info(docker("busybox:1")));
    let body = body(&request, false).expect("translates");
    assert_eq!(container_name(&request.container_id), format!("mesos-{ID}"));
    assert_eq!(body.image.as_deref(), Some("busybox:1"));
    assert_eq!(body.entrypoint, Some(vec!["/bin/sh".to_string()]));
    assert_eq!(
        body.cmd,
        Some(vec!["-c".to_string(), "echo hi".to_string()])
    );
    let host = host(&body);
    assert_eq!(host.network_mode.as_deref(), Some("host"));
    assert_eq!(host.privileged, Some(false));
    assert_eq!(host.cpu_shares, Some(512));
    assert_eq!(host.cpu_quota, None);
    assert_eq!(host.memory, Some(64 << 20));
    assert_eq!(
        host.binds.as_deref(),
        Some(&["/host/sandbox:/mnt/mesos/sandbox".to_string()][..])
    );
    let env = body.env.clone().unwrap_or_default();
    assert!(
        env.contains(&"MESOS_SANDBOX=/mnt/mesos/sandbox".to_string()),
        "{env:?}"
    );
    assert!(!env.iter().any(|v| v.contains("/host/sandbox")), "{env:?}");
    assert!(
        env.contains(&format!("MESOS_CONTAINER_NAME=mesos-{ID}")),
        "{env:?}"
    );
    assert!(env.contains(&"MESOS_TASK_ID=t1".to_string()), "{env:?}");
    assert_eq!(
        body.labels
            .as_ref()
            .and_then(|l| l.get("meseta.work_dir"))
            .map(String::as_str),
        Some("/w")
    );
}

#[test]
fn limits_follow_the_cgroups_isolators() {
    let small = request("true", "cpus:0.001;mem:1", info(docker("i")));
    let body = body(&small, true).expect("translates");
    assert_eq!(host(&body).cpu_shares, Some(2));
    assert_eq!(host(&body).cpu_quota, Some(1000), "at least 1ms");
    assert_eq!(host(&body).memory, Some(32 << 20), "at least 32MB");
    let two = request("true", "cpus:2", info(docker("i")));
    let body = super::tests::body(&two, true).expect("translates");
    assert_eq!(host(&body).cpu_shares, Some(2048));
    assert_eq!(host(&body).cpu_quota, Some(200_000));
    assert_eq!(host(&body).memory, None, "no mem, no limit");
}

#[test]
fn bridge_port_mappings_must_be_among_the_ports() {
    let mut bridged = docker("i");
    bridged.network = Some(docker_info::Network::Bridge as i32);
    bridged.port_mappings = vec![
        docker_info::PortMapping {
            host_port: 31001,
            container_port: 8080,
            protocol: None,
        },
        docker_info::PortMapping {
            host_port: 31002,
            container_port: 53,
            protocol: Some("UDP".into()),
        },
    ];
    let ok = request("x", "cpus:1;ports:[31000-31005]", info(bridged.clone()));
    let body = body(&ok, false).expect("translates");
    assert_eq!(host(&body).network_mode.as_deref(), Some("bridge"));
    assert_eq!(
        bindings(host(&body)),
        vec![
            ("53/udp".to_string(), "31002".to_string()),
            ("8080/tcp".to_string(), "31001".to_string())
        ]
    );
    let exposed = body.exposed_ports.clone().unwrap_or_default();
    assert!(exposed.contains(&"8080/tcp".to_string()), "{exposed:?}");

    let outside = request("x", "cpus:1;ports:[31001-31001]", info(bridged.clone()));
    let error = super::tests::body(&outside, false).expect_err("31002 is not given");
    assert_eq!(error, "Port [31002] not included in resources");
    let no_ports = request("x", "cpus:1", info(bridged.clone()));
    assert!(super::tests::body(&no_ports, false)
        .expect_err("no ports")
        .contains("require port resources"));
    bridged.network = Some(docker_info::Network::Host as i32);
    let on_host = request("x", "ports:[31000-31005]", info(bridged));
    assert!(super::tests::body(&on_host, false)
        .expect_err("host network")
        .contains("only supported for bridge and user-defined networks"));
}

#[test]
fn user_and_none_networks() {
    let mut user = docker("i");
    user.network = Some(docker_info::Network::User as i32);
    let mut joined = info(user.clone());
    assert!(body(&request("x", "cpus:1", joined.clone()), false)
        .expect_err("no network named")
        .contains("No network info"));
    joined.network_infos = vec![v1::NetworkInfo {
        name: Some("backend".into()),
        ..Default::default()
    }];
    joined.hostname = Some("web-1".into());
    let body_ = body(&request("x", "cpus:1", joined), false).expect("translates");
    assert_eq!(host(&body_).network_mode.as_deref(), Some("backend"));
    assert_eq!(body_.hostname.as_deref(), Some("web-1"));

    user.network = Some(docker_info::Network::None as i32);
    let body_ = body(&request("x", "cpus:1", info(user)), false).expect("translates");
    assert_eq!(host(&body_).network_mode.as_deref(), Some("none"));

    let mut on_host = info(docker("i"));
    on_host.hostname = Some("web-1".into());
    assert!(body(&request("x", "cpus:1", on_host), false)
        .expect_err("hostname on host")
        .contains("Unable to set hostname with host network mode"));
}

fn volume(container: &str, host: Option<&str>, mode: v1::volume::Mode) -> v1::Volume {
    v1::Volume {
        mode: mode as i32,
        container_path: container.into(),
        host_path: host.map(str::to_string),
        ..Default::default()
    }
}

#[test]
fn volumes_bind_host_paths_and_sandbox_relative_paths() {
    let mut with_volumes = info(docker("i"));
    with_volumes.volumes = vec![
        volume("/data", Some("/srv/data"), v1::volume::Mode::Ro),
        volume("/out", Some("results"), v1::volume::Mode::Rw),
        volume("cache", Some("/var/cache/x"), v1::volume::Mode::Rw),
        v1::Volume {
            mode: v1::volume::Mode::Rw as i32,
            container_path: "/named".into(),
            source: Some(v1::volume::Source {
                r#type: Some(v1::volume::source::Type::DockerVolume as i32),
                docker_volume: Some(v1::volume::source::DockerVolume {
                    driver: Some("local".into()),
                    name: "vol1".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let body_ = body(&request("x", "cpus:1", with_volumes.clone()), false).expect("translates");
    assert_eq!(
        host(&body_).binds.clone().unwrap_or_default(),
        vec![
            "/srv/data:/data:ro",
            "/host/sandbox/results:/out:rw",
            "/var/cache/x:/mnt/mesos/sandbox/cache:rw",
            "vol1:/named:rw",
            "/host/sandbox:/mnt/mesos/sandbox",
        ]
    );
    assert_eq!(host(&body_).volume_driver.as_deref(), Some("local"));

    with_volumes.volumes = vec![volume("in", Some("out"), v1::volume::Mode::Rw)];
    assert!(body(&request("x", "cpus:1", with_volumes), false)
        .expect_err("both relative")
        .contains("are relative"));
}

fn parameter(key: &str, value: &str) -> v1::Parameter {
    v1::Parameter {
        key: key.into(),
        value: value.into(),
    }
}

#[test]
fn parameters_become_api_fields() {
    let mut with_parameters = docker("i");
    with_parameters.privileged = Some(true);
    with_parameters.parameters = vec![
        parameter("label", "team=infra"),
        parameter("env", "EXTRA=1"),
        parameter("cap-add", "NET_ADMIN"),
        parameter("ulimit", "nofile=1024:2048"),
        parameter("shm-size", "64m"),
        parameter("network", "bridge"),
        parameter("add-host", "db:10.0.0.1"),
        parameter("read-only", "true"),
        parameter("user", "65534"),
        parameter("publish", "127.0.0.1:31003:80"),
    ];
    let body_ = body(
        &request("x", "cpus:1", info(with_parameters.clone())),
        false,
    )
    .expect("translates");
    let host_ = host(&body_);
    assert_eq!(host_.privileged, Some(true));
    assert_eq!(
        host_.network_mode.as_deref(),
        Some("bridge"),
        "the network parameter wins"
    );
    assert_eq!(
        body_
            .labels
            .as_ref()
            .and_then(|l| l.get("team"))
            .map(String::as_str),
        Some("infra")
    );
    assert!(body_
        .env
        .clone()
        .unwrap_or_default()
        .contains(&"EXTRA=1".to_string()));
    assert_eq!(host_.cap_add.clone().unwrap_or_default(), vec!["NET_ADMIN"]);
    let ulimit = &host_.ulimits.clone().unwrap_or_default()[0];
    assert_eq!((ulimit.soft, ulimit.hard), (Some(1024), Some(2048)));
    assert_eq!(host_.shm_size, Some(64 << 20));
    assert_eq!(
        host_.extra_hosts.clone().unwrap_or_default(),
        vec!["db:10.0.0.1"]
    );
    assert_eq!(host_.readonly_rootfs, Some(true));
    assert_eq!(body_.user.as_deref(), Some("65534"));
    assert_eq!(
        bindings(host_),
        vec![("80/tcp".to_string(), "31003".to_string())]
    );

    with_parameters.parameters.push(parameter("net", "second"));
    assert!(body(&request("x", "cpus:1", info(with_parameters)), false)
        .expect_err("two networks")
        .contains("more than one network"));
    for (key, words) in [
        ("name", "not allowed"),
        ("rm", "not allowed"),
        ("frobnicate", "not supported"),
    ] {
        let mut refused = docker("i");
        refused.parameters = vec![parameter(key, "x")];
        let error = body(&request("x", "cpus:1", info(refused)), false).expect_err(key);
        assert!(
            error.contains(&format!("--{key}")) && error.contains(words),
            "{error}"
        );
    }
    assert_eq!(parse_bytes("1g"), Some(1 << 30));
    assert_eq!(parse_bytes("512KB"), Some(512 << 10));
    assert_eq!(parse_bytes("1.5m"), Some(3 << 19));
    assert_eq!(parse_bytes("10"), Some(10));
    assert_eq!(parse_bytes("ten"), None);
}

#[test]
fn commands_follow_mesos() {
    let mut plain = request("ignored", "cpus:1", info(docker("i")));
    plain.command = v1::CommandInfo {
        shell: Some(false),
        value: Some("/bin/echo".into()),
        arguments: vec!["a".into(), "b".into()],
        ..Default::default()
    };
    let body_ = body(&plain, false).expect("translates");
    assert_eq!(body_.entrypoint, None, "the image's entrypoint stays");
    assert_eq!(
        body_.cmd,
        Some(vec!["/bin/echo".into(), "a".into(), "b".into()])
    );
    plain.command = v1::CommandInfo {
        shell: Some(false),
        ..Default::default()
    };
    assert_eq!(
        body(&plain, false).expect("translates").cmd,
        None,
        "the image's default command"
    );
    plain.command = v1::CommandInfo::default();
    assert!(body(&plain, false)
        .expect_err("shell without a value")
        .contains("Shell specified but no command value provided"));
    let mut no_docker = plain.clone();
    no_docker.container = Some(v1::ContainerInfo {
        r#type: v1::container_info::Type::Docker as i32,
        ..Default::default()
    });
    assert!(body(&no_docker, false)
        .expect_err("no DockerInfo")
        .contains("No docker info found"));
}

/// The port bindings as `container/proto` → host port, for tests and logs.
fn bindings(host: &HostConfig) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = host
        .port_bindings
        .iter()
        .flatten()
        .flat_map(|(port, list)| {
            list.iter()
                .flatten()
                .map(move |b: &bollard::models::PortBinding| {
                    (port.clone(), b.host_port.clone().unwrap_or_default())
                })
        })
        .collect();
    out.sort();
    out
}
