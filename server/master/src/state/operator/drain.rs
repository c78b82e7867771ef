//! DRAIN_AGENT: an agent being emptied for maintenance. It is offered no
//! more, every task on it is killed (within `max_grace_period` when
//! given), and once none is left it is DRAINED (and gone, when asked).
//! REACTIVATE_AGENT ends a drain.

use std::time::Duration;

use meseta_proto::cluster::{self, master_message, MasterMessage};
use meseta_proto::master::call;
use meseta_proto::v1::{self, TaskState};

use crate::state::{is_terminal, Action, CallError, Master};

impl Master {
    pub(super) fn drain_agent(
        &mut self,
        now: Duration,
        drain: call::DrainAgent,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let mark_gone = drain.mark_gone();
        let agent_id = drain.agent_id.value;
        let grace = match drain.max_grace_period {
            Some(d) if d.seconds < 0 || d.nanos < 0 => {
                return Err(CallError::BadRequest(
                    "'max_grace_period' must not be negative".into(),
                ))
            }
            Some(d) => Some(v1::DurationInfo {
                nanoseconds: d
                    .seconds
                    .saturating_mul(1_000_000_000)
                    .saturating_add(i64::from(d.nanos)),
            }),
            None => None,
        };
        let agent = self
            .agents
            .get_mut(&agent_id)
            .ok_or_else(|| super::unknown_agent(&agent_id))?;
        tracing::info!(agent_id, ?grace, mark_gone, "operator drains the agent");
        agent.drain = Some(v1::DrainInfo {
            state: v1::DrainState::Draining as i32,
            config: v1::DrainConfig {
                max_grace_period: grace,
                mark_gone: drain.mark_gone,
            },
        });
        let mut tasks: Vec<(String, String)> = agent.tasks.iter().cloned().collect();
        tasks.sort_unstable();
        self.deactivate(now, &agent_id, actions);
        for (framework_id, task_id) in tasks {
            let Some(record) = self
                .frameworks
                .get(&framework_id)
                .and_then(|f| f.tasks.get(&task_id))
                .filter(|r| !is_terminal(r.state()))
            else {
                continue;
            };
            let kill_policy = match grace {
                Some(grace) => Some(v1::KillPolicy {
                    grace_period: Some(grace),
                }),
                None => record.task.kill_policy,
            };
            self.send_agent(
                &agent_id,
                MasterMessage {
                    kind: Some(master_message::Kind::KillTask(cluster::KillTask {
                        framework_id: v1::FrameworkId {
                            value: framework_id.clone(),
                        },
                        task_id: v1::TaskId { value: task_id },
                        kill_policy,
                    })),
                },
                actions,
            );
        }
        self.check_drained(now, &agent_id, actions);
        Ok(())
    }

    /// A draining agent with no task left is DRAINED (and marked gone
    /// when its drain asked for it).
    pub(crate) fn check_drained(
        &mut self,
        now: Duration,
        agent_id: &str,
        actions: &mut Vec<Action>,
    ) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let draining = agent
            .drain
            .as_ref()
            .is_some_and(|d| d.state == v1::DrainState::Draining as i32);
        if !draining {
            return;
        }
        let busy = agent.tasks.iter().any(|(framework_id, task_id)| {
            self.frameworks
                .get(framework_id)
                .and_then(|f| f.tasks.get(task_id))
                .is_some_and(|r| !is_terminal(r.state()) && r.state() != TaskState::TaskUnreachable)
        });
        if busy {
            return;
        }
        let mark_gone = agent
            .drain
            .as_ref()
            .is_some_and(|d| d.config.mark_gone == Some(true));
        if let Some(drain) = self.agents.get_mut(agent_id).and_then(|a| a.drain.as_mut()) {
            drain.state = v1::DrainState::Drained as i32;
        }
        tracing::info!(agent_id, mark_gone, "agent drained");
        if mark_gone {
            self.mark_gone_as(
                now,
                agent_id,
                crate::state::Removal::GoneByOperator,
                actions,
            );
        }
    }
}
