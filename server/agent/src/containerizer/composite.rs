//! Several containerizers behind one (`--containerizers=docker,mesos`),
//! as Mesos's composing containerizer: a launch goes to the first one, in
//! the flag's order, that takes the container (the Docker containerizer
//! takes `ContainerInfo.type=DOCKER`, the Mesos one everything else), and
//! every later call about that container to the one that launched it.
//!
//! After a restart each containerizer takes back its own: the Docker one
//! those whose checkpoint directory holds its record, the other the rest.
//! A container nobody launched through here (a default executor's,
//! created by its first `update`; a nested one) belongs to the non-Docker
//! containerizer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use meseta_proto::v1::{self, container_info::Type};

use super::{
    container_key, Containerizer, DockerContainerizer, LaunchRequest, RecoverRequest,
    RecoveredContainer, RunningStatus, Signal, Termination,
};
use crate::error::AgentError;

/// How many containers' owners are remembered (the oldest are forgotten
/// first, long after they ended).
const RETAINED_OWNERS: usize = 16384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Docker,
    Other,
}

#[derive(Default)]
struct Owners {
    by_key: HashMap<String, Owner>,
    order: VecDeque<String>,
}

/// The Docker containerizer and another one, in `--containerizers`
/// order (see the module docs).
pub struct CompositeContainerizer {
    docker: Arc<DockerContainerizer>,
    other: Option<Arc<dyn Containerizer>>,
    /// The order launches try them in.
    order: Vec<Owner>,
    /// `--containerizers` as given, for messages.
    names: String,
    owners: Mutex<Owners>,
}

impl CompositeContainerizer {
    /// `docker_first`: `docker` comes before the other in
    /// `--containerizers`; `other` is `None` with `--containerizers=docker`.
    pub fn new(
        docker: DockerContainerizer,
        other: Option<Arc<dyn Containerizer>>,
        docker_first: bool,
        names: String,
    ) -> Self {
        let mut order = vec![Owner::Docker];
        if other.is_some() {
            if docker_first {
                order.push(Owner::Other);
            } else {
                order.insert(0, Owner::Other);
            }
        }
        Self {
            docker: Arc::new(docker),
            other,
            order,
            names,
            owners: Mutex::default(),
        }
    }

    fn remember(&self, key: String, owner: Owner) {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        if owners.by_key.insert(key.clone(), owner).is_none() {
            owners.order.push_back(key);
        }
        while owners.order.len() > RETAINED_OWNERS {
            if let Some(old) = owners.order.pop_front() {
                owners.by_key.remove(&old);
            }
        }
    }

    fn forget(&self, key: &str) {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        owners.by_key.remove(key);
    }

    fn get(&self, owner: Owner) -> Option<&dyn Containerizer> {
        match owner {
            Owner::Docker => Some(self.docker.as_ref()),
            Owner::Other => self.other.as_deref(),
        }
    }

    /// The containerizer that owns `container_id` (see the module docs).
    fn owner_of(&self, container_id: &v1::ContainerId) -> &dyn Containerizer {
        let known = self
            .owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_key
            .get(&container_key(container_id))
            .copied();
        known
            .and_then(|owner| self.get(owner))
            .or(self.other.as_deref())
            .unwrap_or(self.docker.as_ref())
    }
}

impl Containerizer for CompositeContainerizer {
    fn launch(&self, request: LaunchRequest) -> BoxFuture<'_, Result<(), AgentError>> {
        let key = container_key(&request.container_id);
        let docker = request
            .container
            .as_ref()
            .is_some_and(|c| Type::try_from(c.r#type) == Ok(Type::Docker));
        let wanted = if docker { Owner::Docker } else { Owner::Other };
        async move {
            if !self.order.contains(&wanted) {
                return Err(AgentError::container(
                    &key,
                    format!(
                        "no containerizer in --containerizers={} takes a container of type MESOS (or none): add mesos",
                        self.names
                    ),
                ));
            }
            let Some(containerizer) = self.get(wanted) else {
                return Err(AgentError::container(&key, "no containerizer takes this container"));
            };
            self.remember(key.clone(), wanted);
            let launched = containerizer.launch(request).await;
            if launched.is_err() {
                self.forget(&key);
            }
            launched
        }
        .boxed()
    }

    fn wait(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<Termination, AgentError>> {
        self.owner_of(container_id).wait(container_id)
    }

    fn kill(
        &self,
        container_id: &v1::ContainerId,
        signal: Signal,
    ) -> BoxFuture<'_, Result<(), AgentError>> {
        self.owner_of(container_id).kill(container_id, signal)
    }

    fn recover(
        &self,
        containers: Vec<RecoverRequest>,
    ) -> BoxFuture<'_, Result<Vec<RecoveredContainer>, AgentError>> {
        async move {
            let (mine, rest): (Vec<_>, Vec<_>) =
                containers.into_iter().partition(|r| self.docker.owns(r));
            let mut recovered = Vec::new();
            for container in self.docker.recover(mine).await? {
                self.remember(container_key(&container.container_id), Owner::Docker);
                recovered.push(container);
            }
            match &self.other {
                Some(other) => {
                    for container in other.recover(rest).await? {
                        self.remember(container_key(&container.container_id), Owner::Other);
                        recovered.push(container);
                    }
                }
                None if !rest.is_empty() => tracing::warn!(
                    count = rest.len(),
                    "containers of an earlier run were not Docker containers and --containerizers has only docker: they are not taken back"
                ),
                None => {}
            }
            Ok(recovered)
        }
        .boxed()
    }

    fn update(
        &self,
        container_id: &v1::ContainerId,
        resources: Vec<v1::Resource>,
    ) -> BoxFuture<'_, Result<(), AgentError>> {
        self.owner_of(container_id).update(container_id, resources)
    }

    fn pid(&self, container_id: &v1::ContainerId) -> Option<u32> {
        self.owner_of(container_id).pid(container_id)
    }

    fn running_status(&self, container_id: &v1::ContainerId) -> Option<RunningStatus> {
        self.owner_of(container_id).running_status(container_id)
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let mut metrics = self.docker.metrics();
        if let Some(other) = &self.other {
            metrics.extend(other.metrics());
        }
        metrics
    }

    fn usage(
        &self,
        container_id: &v1::ContainerId,
    ) -> BoxFuture<'_, Result<v1::ResourceStatistics, AgentError>> {
        self.owner_of(container_id).usage(container_id)
    }
}
