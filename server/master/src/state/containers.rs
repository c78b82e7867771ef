//! `ContainerInfo` checks at launch, before a task reaches an agent.
//!
//! Mesos's own: a `DOCKER` container needs its `DockerInfo`, whose
//! parameters must not name the container (the Docker containerizer
//! finds its containers by the names it gives them), and task groups
//! cannot use Docker containers. One of ours: every host port of a Docker
//! port mapping must be among the ports the task (with its executor) was
//! given. Mesos checks that only when the Docker executor builds its
//! `docker run` (`TASK_FAILED`); here it is refused up front with
//! `TASK_ERROR`, since no agent could run such a task.

use meseta_proto::resources::range_spans;
use meseta_proto::v1::{self, container_info::Type};

/// Checks the containers of `task` (and of its executor).
pub(super) fn check_task(
    task: &v1::TaskInfo,
    group_executor: Option<&v1::ExecutorInfo>,
) -> Result<(), String> {
    let executor = group_executor.or(task.executor.as_ref());
    let executor_container = executor.and_then(|e| e.container.as_ref());
    if let Some(info) = &task.container {
        check_info(info)?;
    }
    if let Some(info) = executor_container {
        check_info(info)?;
    }
    if group_executor.is_some() {
        if task.container.as_ref().is_some_and(is_docker) {
            return Err("Docker ContainerInfo is not supported on the task".into());
        }
        if executor_container.is_some_and(is_docker) {
            return Err("Docker ContainerInfo is not supported on the executor".into());
        }
    }
    let mut resources = task.resources.clone();
    if let Some(executor) = executor {
        resources.extend(executor.resources.iter().cloned());
    }
    for info in task.container.iter().chain(executor_container) {
        check_port_mappings(info, &resources)?;
    }
    Ok(())
}

fn is_docker(info: &v1::ContainerInfo) -> bool {
    Type::try_from(info.r#type) == Ok(Type::Docker)
}

fn check_info(info: &v1::ContainerInfo) -> Result<(), String> {
    if !is_docker(info) {
        return Ok(());
    }
    let Some(docker) = &info.docker else {
        return Err("DockerInfo 'docker' is not set for DOCKER typed ContainerInfo".into());
    };
    if docker.parameters.iter().any(|p| p.key == "name") {
        return Err("Parameter in DockerInfo must not be 'name'".into());
    }
    Ok(())
}

fn check_port_mappings(info: &v1::ContainerInfo, resources: &[v1::Resource]) -> Result<(), String> {
    let Some(docker) = info.docker.as_ref().filter(|_| is_docker(info)) else {
        return Ok(());
    };
    let ports = range_spans(resources, "ports");
    for mapping in &docker.port_mappings {
        let port = u64::from(mapping.host_port);
        if !ports
            .iter()
            .any(|(begin, end)| (*begin..=*end).contains(&port))
        {
            return Err(format!(
                "Invalid DockerInfo port mapping: Port [{port}] not included in resources"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use meseta_proto::resources::parse_resources;
    use v1::container_info::{docker_info::PortMapping, DockerInfo};

    fn docker_task(resources: &str, host_ports: &[u32], parameters: &[&str]) -> v1::TaskInfo {
        v1::TaskInfo {
            resources: parse_resources(resources).expect("resources"),
            container: Some(v1::ContainerInfo {
                r#type: Type::Docker as i32,
                docker: Some(DockerInfo {
                    image: "busybox".into(),
                    port_mappings: host_ports
                        .iter()
                        .map(|p| PortMapping {
                            host_port: *p,
                            container_port: 80,
                            protocol: None,
                        })
                        .collect(),
                    parameters: parameters
                        .iter()
                        .map(|k| v1::Parameter {
                            key: (*k).into(),
                            value: "x".into(),
                        })
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn docker_containers_follow_mesos_rules() {
        assert_eq!(
            check_task(
                &docker_task("cpus:1;ports:[31000-31010]", &[31005], &["label"]),
                None
            ),
            Ok(())
        );
        let outside = check_task(
            &docker_task("cpus:1;ports:[31000-31010]", &[31011], &[]),
            None,
        );
        assert!(outside
            .expect_err("outside")
            .contains("Port [31011] not included in resources"));
        assert!(
            check_task(&docker_task("cpus:1", &[80], &[]), None).is_err(),
            "no ports at all"
        );
        let named = check_task(&docker_task("cpus:1", &[], &["name"]), None);
        assert_eq!(
            named,
            Err("Parameter in DockerInfo must not be 'name'".into())
        );
        let mut bare = docker_task("cpus:1", &[], &[]);
        if let Some(info) = bare.container.as_mut() {
            info.docker = None;
        }
        assert!(check_task(&bare, None)
            .expect_err("no DockerInfo")
            .contains("'docker' is not set"));
        let group = v1::ExecutorInfo::default();
        let grouped = check_task(&docker_task("cpus:1", &[], &[]), Some(&group));
        assert_eq!(
            grouped,
            Err("Docker ContainerInfo is not supported on the task".into())
        );
    }
}
