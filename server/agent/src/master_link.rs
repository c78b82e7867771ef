//! The link to the master: one `AgentLink.Attach` stream, redialled forever.
//!
//! ```text
//! connect ─▶ send Register ─▶ await Registered ─▶ serve messages ─┐
//!    ▲                                                             │ stream broke, or
//!    └──────────── wait (capped, jittered backoff) ◀──────────────┘ no ping for 3 intervals
//! ```
//! `Register` carries the agent ID when we have one (saved under the work
//! dir, so a restarted agent keeps it) and everything we run — including
//! what [recovery](crate::recovery) took back after a restart — so the
//! master can rebuild its view after its own failover, a network cut or our
//! restart. An agent that discarded an incompatible checkpoint registers
//! without an ID and names the old one in `previous_agent_id`. On
//! `Registered` the ID and the `AgentInfo` are checkpointed and every
//! unacknowledged status update is resent. `Refused` means the master will not take this ID again: we say so
//! loudly, stop what we run under it, forget it and register anew.
//!
//! Messages are only sent upstream while registered; updates missed while
//! disconnected are resent after the next registration.

use std::sync::Arc;
use std::time::Duration;

use meseta_coordination::detector::{Endpoint, MasterDetector};
use meseta_proto::cluster::{
    agent_link_client::AgentLinkClient, agent_message::Kind, master_message, AgentMessage, Pong,
    Register, Registered,
};
use meseta_proto::{v1, MESOS_VERSION};
use rand::Rng;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::inner::{Inner, OUTBOUND_QUEUE};
use crate::sandbox::validate_id;
use crate::state::ExecutorKind;

/// Ping interval assumed until the master says otherwise.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(15);
/// Missed pings after which the master is considered lost.
pub const MISSED_PINGS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How one session with the master ended.
enum SessionEnd {
    Lost {
        reason: String,
        was_registered: bool,
    },
}

/// The delay before (re-)registration attempt `attempt` (0-based), as
/// Mesos agents pick it: uniformly in `[0, factor × 2^attempt]`, the bound
/// capped at `max`. Spread over the whole range, so that the agents of a
/// large cluster that all lost their master at once do not arrive at the
/// new leader together.
pub fn backoff(attempt: u32, factor: Duration, max: Duration) -> Duration {
    let bound = factor
        .checked_mul(1u32 << attempt.min(20))
        .unwrap_or(max)
        .min(max);
    bound.mul_f64(rand::rng().random_range(0.0..=1.0))
}

impl Inner {
    /// Keeps the agent attached to the master until the agent stops.
    pub(crate) async fn run_master_link(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        let mut attempt = 0u32;
        let mut detector = match MasterDetector::new(&self.settings.config.master) {
            Ok(detector) => detector,
            Err(error) => {
                tracing::error!(master = %self.settings.config.master, %error, "cannot find the master");
                return;
            }
        };
        // The master the last session went to: a new one (a new leader)
        // starts the backoff again.
        let mut tried = None;
        loop {
            let before = tried.clone();
            let end = tokio::select! {
                end = self.session(&mut detector, &mut tried) => end,
                _ = stop.wait_for(|stopped| *stopped) => return self.link_down(),
            };
            self.link_down();
            let SessionEnd::Lost {
                reason,
                was_registered,
            } = end;
            if was_registered || tried != before {
                attempt = 0;
            }
            let config = &self.settings.config;
            let delay = backoff(
                attempt,
                config.registration_backoff_factor,
                config.reconnect_backoff_max,
            );
            attempt = attempt.saturating_add(1);
            tracing::warn!(master = %self.settings.config.master, %reason, ?delay, "lost the master; reconnecting");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    }

    fn link_down(&self) {
        self.master.disconnect();
        self.lock().registered = false;
    }

    async fn session(
        self: &Arc<Self>,
        detector: &mut MasterDetector,
        tried: &mut Option<Endpoint>,
    ) -> SessionEnd {
        let lost = |reason: String| SessionEnd::Lost {
            reason,
            was_registered: false,
        };
        let master = match detector.detect().await {
            Ok(master) => master,
            Err(error) => return lost(format!("cannot find the leading master: {error}")),
        };
        *tried = Some(master.clone());
        let url = format!("http://{master}");
        let endpoint = match tonic::transport::Endpoint::from_shared(url.clone()) {
            Ok(endpoint) => endpoint.connect_timeout(CONNECT_TIMEOUT).tcp_nodelay(true),
            Err(e) => return lost(format!("bad master address {url}: {e}")),
        };
        let channel = match endpoint.connect().await {
            Ok(channel) => channel,
            Err(e) => {
                detector.failed(&master);
                return lost(format!("cannot connect to {url}: {e}"));
            }
        };
        let (tx, rx) = mpsc::channel::<AgentMessage>(OUTBOUND_QUEUE);
        let register = self.register_message();
        tracing::info!(master = %url, agent_id = ?register.info.id.as_ref().map(|i| &i.value), tasks = register.tasks.len(), "registering with the master");
        if tx
            .try_send(AgentMessage {
                kind: Some(Kind::Register(register)),
            })
            .is_err()
        {
            return lost("cannot queue the registration".into());
        }
        let mut client = AgentLinkClient::new(channel);
        let attach = client.attach(ReceiverStream::new(rx));
        let mut inbound =
            match tokio::time::timeout(DEFAULT_PING_INTERVAL * MISSED_PINGS, attach).await {
                Ok(Ok(response)) => response.into_inner(),
                Ok(Err(status)) => {
                    detector.failed(&master);
                    return lost(format!("Attach failed: {status}"));
                }
                Err(_) => return lost("the master did not answer Attach".into()),
            };
        let mut silence = DEFAULT_PING_INTERVAL * MISSED_PINGS;
        let mut registered = false;
        loop {
            let end = |reason: String| SessionEnd::Lost {
                reason,
                was_registered: registered,
            };
            let message = match tokio::time::timeout(silence, inbound.message()).await {
                Err(_) => return end(format!("no message from the master for {silence:?}")),
                Ok(Err(status)) => return end(format!("stream failed: {status}")),
                Ok(Ok(None)) => return end("the master closed the stream".into()),
                Ok(Ok(Some(message))) => message,
            };
            match message.kind {
                Some(master_message::Kind::Registered(r)) => match self.on_registered(r, &tx) {
                    Ok(interval) => {
                        registered = true;
                        silence = interval * MISSED_PINGS;
                    }
                    Err(reason) => return end(reason),
                },
                Some(master_message::Kind::Refused(refused)) => {
                    self.on_refused(refused.reason.unwrap_or_default());
                    return end("the master refused this agent".into());
                }
                Some(master_message::Kind::Ping(ping)) => {
                    let pong = AgentMessage {
                        kind: Some(Kind::Pong(Pong {
                            sequence: ping.sequence,
                        })),
                    };
                    if tx.try_send(pong).is_err() {
                        return end("cannot answer the master's ping".into());
                    }
                }
                Some(kind) if registered => self.dispatch(kind),
                Some(_) => tracing::warn!("message from the master before registration; ignored"),
                None => tracing::debug!("empty message from the master; ignored"),
            }
        }
    }

    /// Routes a master message to the module of its operation.
    fn dispatch(self: &Arc<Self>, kind: master_message::Kind) {
        use master_message::Kind as K;
        match kind {
            K::RunTasks(request) => self.run_tasks(request),
            K::KillTask(request) => self.kill_task(request),
            K::Acknowledge(ack) => self.acknowledge(ack),
            K::FrameworkMessage(message) => self.framework_message(message),
            K::ShutdownFramework(request) => self.shutdown_framework(&request.framework_id),
            K::ReconcileTasks(request) => self.reconcile(request),
            K::CheckpointResources(update) => self.keep_resources(update.total),
            K::Registered(_) | K::Refused(_) | K::Ping(_) => {}
        }
    }

    /// The master made or undid a dynamic reservation or a volume: the
    /// agent keeps its new resources (on disk first), makes or deletes the
    /// volumes' directories, and registers with them from now on.
    fn keep_resources(&self, total: Vec<v1::Resource>) {
        let described = meseta_proto::resources::describe(&total);
        if let Err(e) = self
            .layout
            .write_resources(&self.settings.resources, &total)
        {
            tracing::error!(error = %e, resources = %described, "cannot keep the resources the master sent; a restart will register without its reservations");
        }
        let before = self.agent_info().resources;
        crate::volumes::follow(self.layout.work_dir(), &before, &total);
        let checkpoint = {
            let mut state = self.lock();
            state.resources = Some(total);
            state.checkpoint.clone()
        };
        if let Err(e) = checkpoint.write_agent_info(&self.agent_info()) {
            tracing::error!(error = %e, "cannot checkpoint the agent's new resources");
        }
        tracing::info!(resources = %described, "the master changed this agent's reservations");
    }

    /// Saves the ID, starts sending upstream, resends pending updates.
    /// Returns the ping interval.
    fn on_registered(
        &self,
        registered: Registered,
        tx: &mpsc::Sender<AgentMessage>,
    ) -> Result<Duration, String> {
        let id = registered.agent_id;
        validate_id("agent ID", &id.value)
            .map_err(|e| format!("the master gave an unusable ID: {e}"))?;
        let checkpoint = {
            let mut state = self.lock();
            if let Some(old) = state.agent_id.as_ref().filter(|old| **old != id) {
                tracing::warn!(old = %old.value, new = %id.value, "the master assigned a new agent ID");
            }
            state.agent_id = Some(id.clone());
            state.registered = true;
            state.previous_agent_id = None;
            state.checkpoint.clone()
        };
        // What a restart compares itself with (and the ID it comes back as).
        let saved = checkpoint
            .write_agent_info(&self.agent_info())
            .and_then(|()| self.layout.write_agent_id(&id.value));
        if let Err(e) = saved {
            tracing::error!(error = %e, "cannot checkpoint the agent; a restart will register anew");
        }
        let interval = ping_interval(registered.ping_interval_seconds);
        tracing::info!(agent_id = %id.value, ?interval, "registered with the master");
        self.master.connect(tx.clone());
        self.resend_updates();
        Ok(interval)
    }

    /// The master will not take this agent: stop what runs under the old
    /// ID, forget it, and let the next session register anew.
    fn on_refused(self: &Arc<Self>, reason: String) {
        let old = self.agent_id();
        tracing::error!(
            agent_id = ?old.as_ref().map(|i| &i.value),
            %reason,
            "THE MASTER REFUSED THIS AGENT: killing its tasks, forgetting its ID and registering as a new agent"
        );
        self.layout.forget_agent_id();
        {
            let mut state = self.lock();
            state.agent_id = None;
            state.registered = false;
            state.updates.clear();
            let ids: Vec<String> = state.frameworks.keys().cloned().collect();
            for id in ids {
                if let Some(framework) = state.frameworks.get_mut(&id) {
                    framework.terminating = true;
                }
                state.checkpoint.remove_framework(&id);
                state.complete_terminal_tasks(&id);
            }
        }
        self.stop_executors(None, self.settings.config.executor_shutdown_grace_period);
    }

    /// The `Register` message: who we are and everything we run.
    pub(crate) fn register_message(&self) -> Register {
        let info = self.agent_info();
        let state = self.lock();
        let agent_id = state.agent_id.clone().unwrap_or_default();
        let mut register = Register {
            info,
            http_address: Some(self.endpoint()),
            version: Some(MESOS_VERSION.to_string()),
            previous_agent_id: state.previous_agent_id.clone(),
            ..Default::default()
        };
        for framework in state.frameworks.values().filter(|f| !f.terminating) {
            register.frameworks.push(framework.info.clone());
            for executor in framework.executors.values() {
                let executor_id =
                    (executor.kind != ExecutorKind::Command).then(|| executor.id().clone());
                if executor_id.is_some() {
                    register.executors.push(executor.info.clone());
                }
                for task in executor.tasks.values() {
                    let key =
                        crate::status_updates::StreamKey::new(&framework.id, &task.info.task_id);
                    let in_flight = state.updates.in_flight(&key);
                    register.tasks.push(v1::Task {
                        status_update_state: in_flight.map(|s| s.state),
                        status_update_uuid: in_flight.and_then(|s| s.uuid.clone()),
                        ..crate::state::task_view(framework, executor, task, &agent_id)
                    });
                }
            }
        }
        register
    }
}

/// The longest ping interval taken from a master; beyond it a silent
/// master would go unnoticed for too long.
const MAX_PING_INTERVAL: Duration = Duration::from_secs(3600);

/// The ping interval a master announced, as a duration: none, zero,
/// negative or not a number is the default; more than an hour is an hour
/// (whatever the master says, nothing here may overflow or panic).
fn ping_interval(seconds: Option<f64>) -> Duration {
    match seconds {
        Some(s) if s.is_finite() && s > 0.0 => {
            Duration::try_from_secs_f64(s).map_or(MAX_PING_INTERVAL, |d| d.min(MAX_PING_INTERVAL))
        }
        _ => DEFAULT_PING_INTERVAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masters_ping_interval_never_panics() {
        assert_eq!(ping_interval(Some(5.0)), Duration::from_secs(5));
        assert_eq!(ping_interval(Some(0.25)), Duration::from_millis(250));
        for worst in [
            None,
            Some(0.0),
            Some(-1.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
        ] {
            assert_eq!(ping_interval(worst), DEFAULT_PING_INTERVAL, "{worst:?}");
        }
        for huge in [Some(1e300), Some(f64::MAX), Some(1e9)] {
            let interval = ping_interval(huge);
            assert_eq!(interval, MAX_PING_INTERVAL, "{huge:?}");
            let _ = interval * MISSED_PINGS;
        }
    }

    #[test]
    fn backoff_doubles_is_capped_and_spread_over_its_whole_range() {
        let max = Duration::from_secs(30);
        let factor = Duration::from_secs(1);
        for attempt in 0..40 {
            let bound = Duration::from_secs(1u64 << attempt.min(20)).min(max);
            let delays: Vec<Duration> = (0..200).map(|_| backoff(attempt, factor, max)).collect();
            assert!(
                delays.iter().all(|d| *d <= bound),
                "attempt {attempt}: {delays:?}"
            );
            // Spread: some in the lower quarter, some in the upper one.
            assert!(delays.iter().any(|d| *d < bound / 4), "attempt {attempt}");
            assert!(
                delays.iter().any(|d| *d > bound * 3 / 4),
                "attempt {attempt}"
            );
        }
    }
}
