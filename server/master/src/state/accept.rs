//! ACCEPT: validating LAUNCH and LAUNCH_GROUP operations against the offers
//! they consume, creating tasks, and sending them to the agent; RESERVE,
//! UNRESERVE, CREATE and DESTROY convert what is left of the offers in place
//! (see [`super::reservations`] and [`super::volumes`]), in the order the
//! operations come.
//!
//! Validation follows Mesos: a call with an unknown, stale or foreign offer
//! drops every task in it (TASK_DROPPED, or TASK_LOST for frameworks that are
//! not partition-aware); an invalid task gets TASK_ERROR while the valid ones
//! of the same call still launch; a task group is launched whole or not at
//! all. The HTTP answer is 202 in all those cases: the outcome reaches the
//! framework as status updates. Whatever the operations leave unused goes
//! back to the allocator, filtered as the call's `filters` ask.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use meseta_allocator::Resources;
use meseta_proto::cluster::{master_message, MasterMessage, RunTasks};
use meseta_proto::scheduler::call;
use meseta_proto::v1::{self, offer::operation::Type as OpType, task_status::Reason};

use super::{Action, CallError, Master, TaskRecord};

impl Master {
    pub(super) fn accept(
        &mut self,
        now: Duration,
        framework_id: &str,
        accept: Option<call::Accept>,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let accept = accept
            .ok_or_else(|| CallError::BadRequest("Expecting 'accept' to be present".into()))?;
        let refuse = self.refuse_for(accept.filters.as_ref());

        let mut taken = Vec::new();
        let mut problem = None;
        if accept.offer_ids.is_empty() {
            problem = Some("No offers specified".to_string());
        }
        for offer_id in &accept.offer_ids {
            match self.take_offer(framework_id, &offer_id.value) {
                Some(record) => taken.push(record),
                None => {
                    problem.get_or_insert(format!("Offer {} is no longer valid", offer_id.value));
                }
            }
        }
        let agent_id = taken
            .first()
            .map(|o| o.agent_id.clone())
            .unwrap_or_default();
        if taken.iter().any(|o| o.agent_id != agent_id) {
            problem.get_or_insert("Aggregated offers must belong to one single agent".into());
        }
        if problem.is_none() && !self.agents.get(&agent_id).is_some_and(|a| a.active) {
            problem = Some(format!("Agent {agent_id} is not active"));
        }
        if let Some(message) = problem {
            for record in &taken {
                self.allocator.recover(
                    framework_id,
                    &record.role,
                    &record.agent_id,
                    &record.resources,
                    None,
                    now,
                );
            }
            for task in launched_tasks(&accept.operations) {
                self.master_update(
                    now,
                    framework_id,
                    &task.task_id.value,
                    Some(&task.agent_id.value),
                    v1::TaskState::TaskDropped,
                    Reason::InvalidOffers,
                    &message,
                    actions,
                );
            }
            self.allocation_wanted = true;
            return Ok(());
        }

        // What the offers hold, by the role each was made for (a framework
        // with several roles may accept offers of several at once).
        let mut remaining: BTreeMap<String, Resources> = BTreeMap::new();
        for record in &taken {
            remaining
                .entry(record.role.clone())
                .or_default()
                .add(&record.resources);
        }
        let mut seen = HashSet::new();
        for operation in accept.operations {
            let kind = operation.r#type.and_then(|t| OpType::try_from(t).ok());
            match kind {
                Some(OpType::Launch) => {
                    let tasks = operation.launch.map(|l| l.task_infos).unwrap_or_default();
                    for task in tasks {
                        let checked = task_role(&task, &remaining).and_then(|role| {
                            let available = &remaining[&role];
                            self.validate_task(
                                framework_id,
                                &agent_id,
                                &task,
                                None,
                                available,
                                &mut seen,
                            )
                            .map(|needed| (role, needed))
                        });
                        match checked {
                            Ok((role, needed)) => {
                                if let Some(left) = remaining.get_mut(&role) {
                                    left.subtract(&needed);
                                }
                                self.launch(
                                    framework_id,
                                    &agent_id,
                                    &role,
                                    vec![(task, needed)],
                                    None,
                                    actions,
                                );
                            }
                            Err(message) => self.task_error(
                                now,
                                framework_id,
                                &agent_id,
                                &task,
                                &message,
                                actions,
                            ),
                        }
                    }
                }
                Some(OpType::LaunchGroup) => {
                    let Some(group) = operation.launch_group else {
                        continue;
                    };
                    let executor = group.executor;
                    let tasks = group.task_group.tasks;
                    let role = group_role(&tasks, &remaining);
                    let mut budget = role
                        .as_ref()
                        .ok()
                        .and_then(|role| remaining.get(role))
                        .cloned()
                        .unwrap_or_default();
                    let mut approved = Vec::new();
                    let mut failure = role.as_ref().err().cloned();
                    for task in &tasks {
                        if failure.is_some() {
                            break;
                        }
                        match self.validate_task(
                            framework_id,
                            &agent_id,
                            task,
                            Some(&executor),
                            &budget,
                            &mut seen,
                        ) {
                            Ok(needed) => {
                                budget.subtract(&needed);
                                approved.push((task.clone(), needed));
                            }
                            Err(message) => {
                                failure = Some(message);
                                break;
                            }
                        }
                    }
                    match (failure, role) {
                        (None, Ok(role)) if !tasks.is_empty() => {
                            remaining.insert(role.clone(), budget);
                            self.launch(
                                framework_id,
                                &agent_id,
                                &role,
                                approved,
                                Some(executor),
                                actions,
                            );
                        }
                        (failure, _) => {
                            let message = failure.unwrap_or_else(|| "Task group is empty".into());
                            for task in &tasks {
                                self.task_error(
                                    now,
                                    framework_id,
                                    &agent_id,
                                    task,
                                    &message,
                                    actions,
                                );
                            }
                        }
                    }
                }
                Some(OpType::Reserve | OpType::Unreserve | OpType::Create | OpType::Destroy) => {
                    self.convert_in_accept(
                        now,
                        framework_id,
                        &agent_id,
                        operation,
                        &mut remaining,
                        actions,
                    );
                }
                other => {
                    tracing::warn!(framework_id, operation = ?other, "offer operation not supported yet; ignored");
                }
            }
        }
        for (role, left) in remaining {
            if !left.is_empty() {
                self.allocator
                    .recover(framework_id, &role, &agent_id, &left, refuse, now);
            }
        }
        self.ask_back_if_draining(framework_id, &agent_id, now, actions);
        self.allocation_wanted = true;
        Ok(())
    }

    /// Checks one task; returns the resources it consumes from the offer
    /// (its own plus its executor's when the executor is new on the agent).
    fn validate_task(
        &self,
        framework_id: &str,
        agent_id: &str,
        task: &v1::TaskInfo,
        group_executor: Option<&v1::ExecutorInfo>,
        available: &Resources,
        seen: &mut HashSet<String>,
    ) -> Result<Resources, String> {
        let task_id = &task.task_id.value;
        validate_id("Task", task_id)?;
        if !seen.insert(task_id.clone()) {
            return Err(format!("Task {task_id} is launched twice in this call"));
        }
        let framework = self
            .frameworks
            .get(framework_id)
            .ok_or_else(|| format!("Framework {framework_id} is unknown"))?;
        if framework.tasks.contains_key(task_id) {
            return Err(format!("Task has duplicate ID: {task_id}"));
        }
        if task.agent_id.value != agent_id {
            return Err(format!(
                "Task uses agent ID {} but the offer is for agent {agent_id}",
                task.agent_id.value
            ));
        }
        let executor = match group_executor {
            Some(executor) => {
                if task.executor.is_some() {
                    return Err("Task in a task group must not set 'executor'".into());
                }
                Some(executor)
            }
            None => match (&task.command, &task.executor) {
                (Some(_), Some(_)) => {
                    return Err("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present".into())
                }
                (None, None) if task.container.is_none() => {
                    return Err("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present".into())
                }
                (_, executor) => executor.as_ref(),
            },
        };
        check_resources(&task.resources)?;
        check_gpus(&task.resources).map_err(|e| format!("Task uses invalid resources: {e}"))?;
        super::containers::check_task(task, group_executor)?;
        let mut needed = Resources::from_mesos(&task.resources);
        if needed.is_empty() {
            return Err("Task uses no resources".into());
        }
        if let Some(executor) = executor {
            validate_id("Executor", &executor.executor_id.value)?;
            let key = (agent_id.to_string(), executor.executor_id.value.clone());
            match framework.executors.get(&key) {
                Some(known) if known.command != executor.command => {
                    return Err(format!(
                        "ExecutorInfo is not compatible with the running executor {}",
                        executor.executor_id.value
                    ));
                }
                Some(_) => {}
                None => {
                    check_resources(&executor.resources)?;
                    check_gpus(&executor.resources)
                        .map_err(|e| format!("Executor uses invalid resources: {e}"))?;
                    needed.add(&Resources::from_mesos(&executor.resources));
                }
            }
        }
        self.check_whole_volumes(agent_id, &needed)?;
        if !available.contains(&needed) {
            return Err(format!(
                "Task {task_id} uses more resources ({}) than available ({})",
                meseta_proto::resources::describe(&needed.to_mesos("*")),
                meseta_proto::resources::describe(&available.to_mesos("*")),
            ));
        }
        Ok(needed)
    }

    /// Records tasks as STAGING and sends them to the agent.
    #[allow(clippy::too_many_arguments)]
    fn launch(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        tasks: Vec<(v1::TaskInfo, Resources)>,
        group_executor: Option<v1::ExecutorInfo>,
        actions: &mut Vec<Action>,
    ) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let framework_pb = v1::FrameworkId {
            value: framework_id.to_string(),
        };
        let allocation = Some(v1::resource::AllocationInfo {
            role: Some(role.to_string()),
        });
        let with_role = |resources: &[v1::Resource]| -> Vec<v1::Resource> {
            resources
                .iter()
                .cloned()
                .map(|mut r| {
                    r.allocation_info = allocation.clone();
                    r
                })
                .collect()
        };
        let group = group_executor.is_some();
        let mut executor =
            group_executor.or_else(|| tasks.first().and_then(|(t, _)| t.executor.clone()));
        if let Some(executor) = executor.as_mut() {
            executor.framework_id = Some(framework_pb.clone());
            executor.resources = with_role(&executor.resources);
            framework
                .executors
                .entry((agent_id.to_string(), executor.executor_id.value.clone()))
                .or_insert_with(|| executor.clone());
        }
        let mut infos = Vec::new();
        let mut added = Vec::new();
        for (mut info, resources) in tasks {
            info.resources = with_role(&info.resources);
            if let Some(task_executor) = info.executor.as_mut() {
                task_executor.framework_id = Some(framework_pb.clone());
                task_executor.resources = with_role(&task_executor.resources);
            }
            let task = v1::Task {
                name: info.name.clone(),
                task_id: info.task_id.clone(),
                framework_id: framework_pb.clone(),
                executor_id: executor.as_ref().map(|e| e.executor_id.clone()),
                agent_id: v1::AgentId {
                    value: agent_id.to_string(),
                },
                state: v1::TaskState::TaskStaging as i32,
                resources: info.resources.clone(),
                statuses: Vec::new(),
                status_update_state: None,
                status_update_uuid: None,
                labels: info.labels.clone(),
                discovery: info.discovery.clone().map(Box::new),
                container: info.container.clone().map(Box::new),
                health_check: info.health_check.clone().map(Box::new),
                kill_policy: info.kill_policy,
                user: info
                    .command
                    .as_ref()
                    .and_then(|c| c.user.clone())
                    .or_else(|| framework.info.user.clone().into()),
                limits: info.limits.clone(),
            };
            tracing::info!(framework_id, agent_id, task_id = %info.task_id.value, "launching task");
            if self.observed {
                added.push(task.clone());
            }
            framework.tasks.insert(
                info.task_id.value.clone(),
                TaskRecord {
                    task: Arc::new(task),
                    resources,
                    role: role.to_string(),
                    resources_recovered: false,
                    unacknowledged: None,
                },
            );
            infos.push(info);
        }
        let framework_info = framework.info.clone();
        self.observe_tasks_added(added, actions);
        if let Some(agent) = self.agents.get_mut(agent_id) {
            for info in &infos {
                agent
                    .tasks
                    .insert((framework_id.to_string(), info.task_id.value.clone()));
            }
        }
        let message = MasterMessage {
            kind: Some(master_message::Kind::RunTasks(RunTasks {
                framework: framework_info,
                executor: if group {
                    executor
                } else {
                    infos.first().and_then(|t| t.executor.clone())
                },
                tasks: infos,
                group: Some(group),
            })),
        };
        self.send_agent(agent_id, message, actions);
    }

    fn task_error(
        &mut self,
        now: Duration,
        framework_id: &str,
        agent_id: &str,
        task: &v1::TaskInfo,
        message: &str,
        actions: &mut Vec<Action>,
    ) {
        tracing::info!(framework_id, task_id = %task.task_id.value, message, "refusing invalid task");
        self.master_update(
            now,
            framework_id,
            &task.task_id.value,
            Some(agent_id),
            v1::TaskState::TaskError,
            Reason::TaskInvalid,
            message,
            actions,
        );
    }
}

/// Every task a list of operations would launch.
fn launched_tasks(operations: &[v1::offer::Operation]) -> Vec<&v1::TaskInfo> {
    let mut tasks = Vec::new();
    for operation in operations {
        if let Some(launch) = &operation.launch {
            tasks.extend(launch.task_infos.iter());
        }
        if let Some(group) = &operation.launch_group {
            tasks.extend(group.task_group.tasks.iter());
        }
    }
    tasks
}

/// IDs must be non-empty, not `.` or `..`, without `/`, whitespace or control characters.
pub(super) fn validate_id(kind: &str, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("{kind} ID must not be empty"));
    }
    if id == "." || id == ".." {
        return Err(format!("{kind} ID '{id}' is not allowed"));
    }
    if id
        .chars()
        .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{kind} ID '{id}' contains invalid characters ('/', whitespace or control characters)"
        ));
    }
    Ok(())
}

/// GPUs are whole: `gpus` must add up to an unsigned integer (to Mesos's
/// three decimals), as Mesos's resource validation requires.
fn check_gpus(resources: &[v1::Resource]) -> Result<(), String> {
    let gpus = meseta_proto::resources::scalar_total(resources, "gpus");
    let milli = (gpus * 1000.0).round();
    if gpus < 0.0 || milli % 1000.0 != 0.0 {
        return Err(
            "Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer".into(),
        );
    }
    Ok(())
}

/// Scalars must be finite and non-negative; ranges must be ordered.
fn check_resources(resources: &[v1::Resource]) -> Result<(), String> {
    for resource in resources {
        if let Some(scalar) = &resource.scalar {
            if !scalar.value.is_finite() || scalar.value < 0.0 {
                return Err(format!(
                    "Resource '{}' has an invalid amount {}",
                    resource.name, scalar.value
                ));
            }
        }
        if let Some(ranges) = &resource.ranges {
            if ranges.range.iter().any(|r| r.begin > r.end) {
                return Err(format!("Resource '{}' has an invalid range", resource.name));
            }
        }
        if resource.scalar.is_none() && resource.ranges.is_none() && resource.set.is_none() {
            return Err(format!("Resource '{}' has no value", resource.name));
        }
    }
    Ok(())
}

/// The role whose offered resources a task uses: the one its resources'
/// `allocation_info` names (which an accepted offer must be for), else the
/// offers' only role.
pub(super) fn task_role(
    task: &v1::TaskInfo,
    offered: &BTreeMap<String, Resources>,
) -> Result<String, String> {
    let named: BTreeSet<&str> = task
        .resources
        .iter()
        .filter_map(|r| r.allocation_info.as_ref()?.role.as_deref())
        .collect();
    let mut named = named.into_iter();
    match (named.next(), named.next()) {
        (Some(role), None) if offered.contains_key(role) => Ok(role.to_string()),
        (Some(role), None) => Err(format!(
            "Task {} uses resources allocated to role '{role}', which no accepted offer is for",
            task.task_id.value
        )),
        (Some(_), Some(_)) => Err(format!(
            "Task {} uses resources allocated to more than one role",
            task.task_id.value
        )),
        (None, _) => match offered.keys().collect::<Vec<_>>()[..] {
            [only] => Ok(only.clone()),
            _ => Err(format!(
                "The accepted offers are for roles {:?}: task {}'s resources must say which in 'allocation_info'",
                offered.keys().collect::<Vec<_>>(),
                task.task_id.value
            )),
        },
    }
}

/// The one role a task group's tasks use (see [`task_role`]).
fn group_role(
    tasks: &[v1::TaskInfo],
    offered: &BTreeMap<String, Resources>,
) -> Result<String, String> {
    let mut roles = BTreeSet::new();
    for task in tasks {
        roles.insert(task_role(task, offered)?);
    }
    let mut roles = roles.into_iter();
    match (roles.next(), roles.next()) {
        (Some(role), None) => Ok(role),
        (None, _) => Err("Task group is empty".into()),
        (Some(_), Some(_)) => Err("The tasks of a group must use resources of one role".into()),
    }
}
