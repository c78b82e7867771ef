//! Where the loop's actions go: each framework's and agent's stream and
//! the operator API's subscribers, every one a bounded queue. A stream
//! whose reader falls a whole queue behind is closed rather than grown:
//! its framework subscribes again and reconciles, its agent re-registers
//! (and what it runs is reconciled), so the master's memory stays bounded
//! whoever stops reading.

use std::collections::HashMap;
use std::sync::Arc;

use meseta_proto::cluster::MasterMessage;
use meseta_proto::scheduler::Event;
use tokio::sync::mpsc;

use crate::state::{Action, ConnId, LinkId};

/// Commands queued for the loop before their senders wait (HTTP calls,
/// agents' messages: backpressure instead of memory).
pub(crate) const COMMAND_QUEUE: usize = 16 * 1024;
/// Events queued for one framework's stream; one that falls this far
/// behind is disconnected (it subscribes again and reconciles).
/// Boxed, so that the slots of a queue cost little; a burst of 100,000
/// task updates may queue for a moment.
pub(crate) const FRAMEWORK_QUEUE: usize = 64 * 1024;
/// Messages queued for one agent's stream; an agent this far behind is
/// disconnected (it re-registers, and what it runs is reconciled).
pub(crate) const AGENT_QUEUE: usize = 16 * 1024;

/// The streams actions are sent on.
#[derive(Default)]
pub(crate) struct Outputs {
    pub frameworks: HashMap<ConnId, mpsc::Sender<Box<Event>>>,
    /// Boxed: each agent's queue holds at least one block of 32 slots.
    pub agents: HashMap<LinkId, mpsc::Sender<Box<MasterMessage>>>,
    /// Operator API subscribers, each with its bounded queue.
    pub operators: Vec<mpsc::Sender<Arc<meseta_proto::master::Event>>>,
}

/// Sends each action's message on its stream (registry operations were
/// written before).
pub(crate) fn perform(actions: Vec<Action>, outputs: &mut Outputs) {
    for action in actions {
        match action {
            Action::ToFramework { conn, event } => {
                if let Some(tx) = outputs.frameworks.get(&conn) {
                    if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(Box::new(event)) {
                        // Ending the stream tells the loop (FrameworkGone).
                        tracing::warn!(
                            conn,
                            queued = FRAMEWORK_QUEUE,
                            "a framework does not read its events; disconnecting it"
                        );
                        outputs.frameworks.remove(&conn);
                    }
                }
            }
            Action::CloseFramework { conn } => {
                outputs.frameworks.remove(&conn);
            }
            Action::ToAgent { link, message } => {
                if let Some(tx) = outputs.agents.get(&link) {
                    if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(Box::new(message))
                    {
                        // Ending the stream tells the loop (AgentGone).
                        tracing::warn!(
                            link,
                            queued = AGENT_QUEUE,
                            "an agent does not read its messages; disconnecting it"
                        );
                        outputs.agents.remove(&link);
                    }
                }
            }
            Action::CloseAgent { link } => {
                outputs.agents.remove(&link);
            }
            Action::ToOperators(event) => {
                crate::http::fan_out(&mut outputs.operators, Arc::new(*event));
            }
            Action::Persist(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_a_whole_queue_behind_is_closed_and_the_others_are_not() {
        let mut outputs = Outputs::default();
        let (slow, _slow_rx) = mpsc::channel(2);
        let (fast, mut fast_rx) = mpsc::channel(2);
        outputs.frameworks.insert(1, slow);
        outputs.frameworks.insert(2, fast);
        let event = |conn| Action::ToFramework {
            conn,
            event: Event::default(),
        };
        for _ in 0..2 {
            perform(vec![event(1), event(2)], &mut outputs);
            assert!(fast_rx.try_recv().is_ok());
        }
        assert!(outputs.frameworks.contains_key(&1), "room for two");
        perform(vec![event(1), event(2)], &mut outputs);
        assert!(!outputs.frameworks.contains_key(&1), "the third overflows");
        assert!(
            outputs.frameworks.contains_key(&2),
            "a reader that keeps up stays"
        );

        let (agent, agent_rx) = mpsc::channel(1);
        outputs.agents.insert(7, agent);
        let message = || Action::ToAgent {
            link: 7,
            message: MasterMessage::default(),
        };
        perform(vec![message()], &mut outputs);
        assert!(outputs.agents.contains_key(&7));
        perform(vec![message()], &mut outputs);
        assert!(!outputs.agents.contains_key(&7));
        drop(agent_rx);
    }
}
