//! What a simulated agent does with each message from the master, and
//! what it tells the master when it (re-)registers.

use std::time::Duration;

use meseta_agent::status_updates::StreamKey;
use meseta_proto::cluster::{
    agent_message, master_message, AgentMessage, MasterMessage, Pong, Register,
    StatusUpdate as UpdateMessage,
};
use meseta_proto::v1::{self, task_status, TaskState};

use super::{AgentNode, SimTask, DEFAULT_PING_INTERVAL};
use crate::net::Net;
use crate::rng::SimRng;
use crate::truth::Truth;

impl AgentNode {
    pub(super) fn on_message(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        message: MasterMessage,
    ) {
        use master_message::Kind;
        let Some(kind) = message.kind else { return };
        match kind {
            Kind::Registered(registered) => {
                self.disk.agent_id = Some(registered.agent_id);
                let at = self.instant(now);
                let Some(running) = self.running.as_mut() else {
                    return;
                };
                running.registered = true;
                running.attempt = 0;
                running.ping_interval = registered
                    .ping_interval_seconds
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map_or(DEFAULT_PING_INTERVAL, Duration::from_secs_f64);
                let mut heads = running.updates.resend_all(at);
                heads.sort_by(|a, b| a.status.task_id.value.cmp(&b.status.task_id.value));
                for update in heads {
                    self.forward(now, net, rng, update);
                }
            }
            Kind::Refused(_) => {
                // Registering anew: what ran under the old ID is killed.
                self.disk.agent_id = None;
                for task in self.disk.tasks.values_mut() {
                    task.state = TaskState::TaskKilled;
                }
                truth.agent_refused(self.index);
                self.disk.tasks.clear();
                self.disk.frameworks.clear();
                if let Some(running) = self.running.as_mut() {
                    running.updates.clear();
                }
            }
            Kind::Ping(ping) => self.send(
                now,
                net,
                rng,
                agent_message::Kind::Pong(Pong {
                    sequence: ping.sequence,
                }),
            ),
            Kind::RunTasks(run) => self.run_tasks(now, net, rng, truth, run),
            Kind::KillTask(kill) => {
                let key = (kill.framework_id.value.clone(), kill.task_id.value.clone());
                match self.disk.tasks.get(&key).map(|t| t.state) {
                    Some(state) if !state.is_terminal() => {
                        self.end_task(now, net, rng, truth, &key, TaskState::TaskKilled)
                    }
                    Some(_) => {}
                    None => {
                        let status = v1::TaskStatus {
                            task_id: kill.task_id,
                            state: TaskState::TaskLost as i32,
                            source: Some(task_status::Source::Agent as i32),
                            reason: Some(task_status::Reason::TaskUnknown as i32),
                            agent_id: self.disk.agent_id.clone(),
                            ..Default::default()
                        };
                        self.send_unreliable(now, net, rng, kill.framework_id, status);
                    }
                }
            }
            Kind::Acknowledge(ack) => {
                let at = self.instant(now);
                let Some(running) = self.running.as_mut() else {
                    return;
                };
                let Ok(done) =
                    running
                        .updates
                        .acknowledge(at, &ack.framework_id, &ack.task_id, &ack.uuid)
                else {
                    return;
                };
                truth.acknowledged(&ack.framework_id.value, &done.status);
                if done.stream_closed {
                    self.disk
                        .tasks
                        .remove(&(ack.framework_id.value, ack.task_id.value));
                }
                if let Some(next) = done.next {
                    self.forward(now, net, rng, next);
                }
            }
            Kind::ShutdownFramework(shutdown) => {
                let fid = shutdown.framework_id.value.clone();
                if let Some(running) = self.running.as_mut() {
                    running.updates.remove_framework(&shutdown.framework_id);
                }
                self.disk.frameworks.remove(&fid);
                self.disk.tasks.retain(|(f, _), _| *f != fid);
                truth.framework_shut_down(self.index, &fid);
            }
            // The simulated frameworks make no reservations.
            Kind::CheckpointResources(_) => {}
            Kind::ReconcileTasks(request) => {
                let fid = request.framework_id.value.clone();
                let known: Vec<v1::TaskStatus> = self
                    .disk
                    .tasks
                    .iter()
                    .filter(|((f, t), _)| {
                        *f == fid
                            && (request.task_ids.is_empty()
                                || request.task_ids.iter().any(|id| id.value == *t))
                    })
                    .map(|(_, task)| v1::TaskStatus {
                        task_id: task.info.task_id.clone(),
                        state: task.state as i32,
                        source: Some(task_status::Source::Agent as i32),
                        reason: Some(task_status::Reason::Reconciliation as i32),
                        agent_id: self.disk.agent_id.clone(),
                        ..Default::default()
                    })
                    .collect();
                for status in known {
                    self.send_unreliable(now, net, rng, request.framework_id.clone(), status);
                }
            }
            Kind::FrameworkMessage(_) => {}
        }
    }

    fn run_tasks(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        truth: &mut Truth,
        run: meseta_proto::cluster::RunTasks,
    ) {
        let framework_id = run.framework.id.clone().unwrap_or_default();
        let fid = framework_id.value.clone();
        self.disk.frameworks.insert(fid.clone(), run.framework);
        for info in run.tasks {
            let key = (fid.clone(), info.task_id.value.clone());
            if self.disk.tasks.contains_key(&key) {
                continue;
            }
            truth.started(self.index, &fid, &info, now);
            let length = info
                .data
                .as_deref()
                .and_then(|d| <[u8; 8]>::try_from(d).ok())
                .map_or(1000, u64::from_le_bytes);
            self.disk.tasks.insert(
                key.clone(),
                SimTask {
                    info,
                    framework_id: framework_id.clone(),
                    state: TaskState::TaskRunning,
                    ends_at: now + Duration::from_millis(length),
                },
            );
            self.report(now, net, rng, truth, &key, TaskState::TaskRunning);
        }
    }

    fn send_unreliable(
        &mut self,
        now: Duration,
        net: &mut Net,
        rng: &mut SimRng,
        framework_id: v1::FrameworkId,
        status: v1::TaskStatus,
    ) {
        let latest_state = Some(status.state);
        self.send(
            now,
            net,
            rng,
            agent_message::Kind::StatusUpdate(UpdateMessage {
                framework_id,
                status,
                latest_state,
            }),
        );
    }

    /// The `Register` message: who it is and what it runs.
    pub(super) fn register_message(&self) -> AgentMessage {
        let agent_id = self.disk.agent_id.clone();
        let running = self.running.as_ref();
        let tasks = self
            .disk
            .tasks
            .values()
            .map(|task| {
                let key = StreamKey::new(&task.framework_id, &task.info.task_id);
                let in_flight = running.and_then(|r| r.updates.in_flight(&key));
                v1::Task {
                    name: task.info.name.clone(),
                    task_id: task.info.task_id.clone(),
                    framework_id: task.framework_id.clone(),
                    agent_id: agent_id.clone().unwrap_or_default(),
                    state: task.state as i32,
                    resources: task.info.resources.clone(),
                    status_update_state: in_flight.map(|s| s.state),
                    status_update_uuid: in_flight.and_then(|s| s.uuid.clone()),
                    ..Default::default()
                }
            })
            .collect();
        let register = Register {
            info: v1::AgentInfo {
                hostname: format!("sim-agent-{}", self.index),
                port: Some(5051 + self.index as i32),
                resources: self.resources.clone(),
                id: agent_id,
                ..Default::default()
            },
            tasks,
            frameworks: self.disk.frameworks.values().cloned().collect(),
            http_address: Some(format!("127.0.0.1:{}", 5051 + self.index)),
            ..Default::default()
        };
        AgentMessage {
            kind: Some(agent_message::Kind::Register(register)),
        }
    }
}
