//! Maintenance (Mesos's maintenance primitives): an operator posts a
//! schedule of windows, each a set of machines and when they will be
//! unavailable; those machines are *draining*: offers of their agents carry
//! the unavailability, and frameworks with tasks there receive inverse
//! offers, which they accept or decline (a hint the operator reads in
//! GET_MAINTENANCE_STATUS). START_MAINTENANCE takes scheduled machines
//! *down*: their agents are removed (their tasks lost) and refused until
//! STOP_MAINTENANCE brings the machines up again and out of the schedule.
//! Mesos never changes a machine's mode by itself.
//!
//! A machine is named by host name (not case-sensitive) and IP; an agent is
//! on a machine when every part the machine's ID gives matches the agent's
//! (its host name, and the IP of its address). Schedule and down machines
//! live in the registry, replaced whole on every change.

use std::collections::BTreeSet;
use std::time::Duration;

use meseta_proto::allocator::{inverse_offer_status, InverseOfferStatus};
use meseta_proto::maintenance::{cluster_status, ClusterStatus, Schedule};
use meseta_proto::registry::Maintenance;
use meseta_proto::scheduler::{event, Event};
use meseta_proto::v1;

use super::health::Removal;
use super::{Action, CallError, Master};
use crate::registry::ops;

/// A machine as compared: host name in lower case, IP.
type Machine = (String, String);

fn machine(id: &v1::MachineId) -> Machine {
    (
        id.hostname.clone().unwrap_or_default().to_lowercase(),
        id.ip.clone().unwrap_or_default(),
    )
}

/// Whether machine `id` names the agent with `hostname` at `ip`.
fn names(id: &v1::MachineId, hostname: &str, ip: &str) -> bool {
    let (host, machine_ip) = machine(id);
    (host.is_empty() || host == hostname.to_lowercase())
        && (machine_ip.is_empty() || machine_ip == ip)
}

/// The IP of an agent's `host:port` address.
fn ip_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// A list of machines as START/STOP_MAINTENANCE take it: not empty, each
/// once, each with a host name or an IP, IPs well formed.
fn checked_machines(machines: &[v1::MachineId]) -> Result<BTreeSet<Machine>, String> {
    if machines.is_empty() {
        return Err("the list of machines is empty".into());
    }
    let mut seen = BTreeSet::new();
    for id in machines {
        check_machine(id)?;
        if !seen.insert(machine(id)) {
            return Err(format!("machine {} is listed twice", shown(id)));
        }
    }
    Ok(seen)
}

fn check_machine(id: &v1::MachineId) -> Result<(), String> {
    let (host, ip) = machine(id);
    if host.is_empty() && ip.is_empty() {
        return Err("a machine needs a hostname or an ip".into());
    }
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("'{ip}' is not an IP address"));
    }
    Ok(())
}

fn shown(id: &v1::MachineId) -> String {
    let (host, ip) = machine(id);
    match (host.is_empty(), ip.is_empty()) {
        (false, false) => format!("{host} ({ip})"),
        (false, true) => host,
        _ => ip,
    }
}

impl Master {
    /// The maintenance schedule in force.
    pub fn maintenance_schedule(&self) -> Schedule {
        self.maintenance.schedule.clone().unwrap_or_default()
    }

    /// GET_MAINTENANCE_STATUS: draining machines with the frameworks'
    /// answers to their inverse offers, and down machines.
    pub fn maintenance_status(&self) -> ClusterStatus {
        let down: BTreeSet<Machine> = self.maintenance.down_machines.iter().map(machine).collect();
        let draining_machines = self
            .maintenance_schedule()
            .windows
            .iter()
            .flat_map(|w| w.machine_ids.iter())
            .filter(|id| !down.contains(&machine(id)))
            .map(|id| cluster_status::DrainingMachine {
                id: id.clone(),
                statuses: self
                    .inverse_statuses
                    .iter()
                    .filter(|((agent, _), _)| {
                        self.agents
                            .get(agent)
                            .is_some_and(|a| names(id, &a.info.hostname, ip_of(&a.http_address)))
                    })
                    .map(|(_, status)| status.clone())
                    .collect(),
            })
            .collect();
        ClusterStatus {
            draining_machines,
            down_machines: self.maintenance.down_machines.clone(),
        }
    }

    /// When the agent at `hostname`/`address` will be unavailable, if its
    /// machine is scheduled for maintenance.
    pub(super) fn unavailability_of(
        &self,
        hostname: &str,
        address: &str,
    ) -> Option<v1::Unavailability> {
        let ip = ip_of(address);
        self.maintenance
            .schedule
            .as_ref()?
            .windows
            .iter()
            .find(|w| w.machine_ids.iter().any(|id| names(id, hostname, ip)))
            .map(|w| w.unavailability)
    }

    /// Whether the agent at `hostname`/`address` is on a machine that is down.
    pub(super) fn machine_is_down(&self, hostname: &str, address: &str) -> bool {
        let ip = ip_of(address);
        self.maintenance
            .down_machines
            .iter()
            .any(|id| names(id, hostname, ip))
    }

    pub(super) fn recover_maintenance(&mut self, maintenance: Maintenance) {
        self.maintenance = maintenance;
    }

    /// UPDATE_MAINTENANCE_SCHEDULE: the new schedule replaces the old.
    pub(super) fn update_maintenance_schedule(
        &mut self,
        now: Duration,
        schedule: Schedule,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let bad = |m: String| CallError::BadRequest(format!("Invalid maintenance schedule: {m}"));
        let mut scheduled = BTreeSet::new();
        for window in &schedule.windows {
            if window.machine_ids.is_empty() {
                return Err(bad("a window has no machines".into()));
            }
            for id in &window.machine_ids {
                check_machine(id).map_err(bad)?;
                if !scheduled.insert(machine(id)) {
                    return Err(bad(format!("machine {} appears more than once", shown(id))));
                }
            }
        }
        if let Some(id) = self
            .maintenance
            .down_machines
            .iter()
            .find(|id| !scheduled.contains(&machine(id)))
        {
            return Err(bad(format!(
                "machine {} is down and must stay in the schedule; bring it up (STOP_MAINTENANCE) first",
                shown(id)
            )));
        }
        let before = self.draining_agents();
        self.maintenance.schedule = (!schedule.windows.is_empty()).then_some(schedule);
        tracing::info!(
            machines = scheduled.len(),
            "operator updates the maintenance schedule"
        );
        actions.push(Action::Persist(ops::set_maintenance(&self.maintenance)));
        let after = self.draining_agents();
        // Offers carry the new unavailability and inverse offers the new
        // window: both are made again.
        for agent_id in before.union(&after) {
            self.rescind_inverse_offers(agent_id, now, actions);
            self.rescind_agent_offers(agent_id, now, actions);
        }
        for agent_id in &after {
            self.send_inverse_offers(agent_id, now, actions);
        }
        self.allocation_wanted = true;
        Ok(())
    }

    /// START_MAINTENANCE: scheduled machines go down; their agents are
    /// removed.
    pub(super) fn start_maintenance(
        &mut self,
        now: Duration,
        machines: Vec<v1::MachineId>,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let wanted = checked_machines(&machines).map_err(CallError::BadRequest)?;
        let scheduled: BTreeSet<Machine> = self
            .maintenance_schedule()
            .windows
            .iter()
            .flat_map(|w| w.machine_ids.iter().map(machine))
            .collect();
        if let Some(id) = machines.iter().find(|id| !scheduled.contains(&machine(id))) {
            return Err(CallError::BadRequest(format!(
                "machine {} is not in the maintenance schedule; schedule it first",
                shown(id)
            )));
        }
        for id in &machines {
            if !self
                .maintenance
                .down_machines
                .iter()
                .any(|d| machine(d) == machine(id))
            {
                self.maintenance.down_machines.push(id.clone());
            }
        }
        tracing::warn!(
            machines = wanted.len(),
            "operator starts maintenance: the machines go down"
        );
        actions.push(Action::Persist(ops::set_maintenance(&self.maintenance)));
        let mut doomed: Vec<String> = self
            .agents
            .values()
            .filter(|a| {
                machines
                    .iter()
                    .any(|id| names(id, &a.info.hostname, ip_of(&a.http_address)))
            })
            .map(|a| a.id.clone())
            .collect();
        doomed.sort_unstable();
        for agent_id in doomed {
            self.rescind_inverse_offers(&agent_id, now, actions);
            self.mark_gone_as(now, &agent_id, Removal::GoneByOperator, actions);
        }
        Ok(())
    }

    /// STOP_MAINTENANCE: down machines come up and leave the schedule.
    pub(super) fn stop_maintenance(
        &mut self,
        machines: Vec<v1::MachineId>,
        actions: &mut Vec<Action>,
    ) -> Result<(), CallError> {
        let wanted = checked_machines(&machines).map_err(CallError::BadRequest)?;
        let down: BTreeSet<Machine> = self.maintenance.down_machines.iter().map(machine).collect();
        if let Some(id) = machines.iter().find(|id| !down.contains(&machine(id))) {
            return Err(CallError::BadRequest(format!(
                "machine {} is not down; only machines in maintenance can be brought up",
                shown(id)
            )));
        }
        self.maintenance
            .down_machines
            .retain(|id| !wanted.contains(&machine(id)));
        if let Some(schedule) = self.maintenance.schedule.as_mut() {
            for window in &mut schedule.windows {
                window
                    .machine_ids
                    .retain(|id| !wanted.contains(&machine(id)));
            }
            schedule.windows.retain(|w| !w.machine_ids.is_empty());
            if schedule.windows.is_empty() {
                self.maintenance.schedule = None;
            }
        }
        tracing::info!(
            machines = wanted.len(),
            "operator stops maintenance: the machines are up"
        );
        actions.push(Action::Persist(ops::set_maintenance(&self.maintenance)));
        Ok(())
    }

    /// ACCEPT_INVERSE_OFFERS and DECLINE_INVERSE_OFFERS: the framework's
    /// answer is recorded for the operator; unknown IDs are ignored, as
    /// for offers.
    pub(super) fn answer_inverse_offers(
        &mut self,
        now: Duration,
        framework_id: &str,
        ids: &[v1::OfferId],
        accepted: bool,
    ) {
        let status = if accepted {
            inverse_offer_status::Status::Accept
        } else {
            inverse_offer_status::Status::Decline
        };
        for id in ids {
            let theirs = self
                .inverse_offers
                .get(&id.value)
                .is_some_and(|(framework, _)| framework == framework_id);
            let Some((framework, agent_id)) = theirs
                .then(|| self.inverse_offers.remove(&id.value))
                .flatten()
            else {
                continue;
            };
            tracing::info!(framework_id, agent_id, accepted, "inverse offer answered");
            self.inverse_statuses.insert(
                (agent_id, framework),
                inverse_status(framework_id, status, now),
            );
        }
    }

    /// Drops a removed framework's inverse offers and answers.
    pub(super) fn forget_inverse_offers_of(&mut self, framework_id: &str) {
        self.inverse_offers
            .retain(|_, (framework, _)| framework != framework_id);
        self.inverse_statuses
            .retain(|(_, framework), _| framework != framework_id);
    }

    /// Agents on draining machines, in ID order.
    fn draining_agents(&self) -> BTreeSet<String> {
        self.agents
            .values()
            .filter(|a| {
                self.unavailability_of(&a.info.hostname, &a.http_address)
                    .is_some()
            })
            .map(|a| a.id.clone())
            .collect()
    }

    /// Sends an inverse offer for `agent_id` to every framework with tasks
    /// there.
    fn send_inverse_offers(&mut self, agent_id: &str, now: Duration, actions: &mut Vec<Action>) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let frameworks: BTreeSet<String> = agent.tasks.iter().map(|(f, _)| f.clone()).collect();
        for framework_id in frameworks {
            self.send_inverse_offer(&framework_id, agent_id, now, actions);
        }
    }

    /// After a launch: a framework that now runs tasks on a draining agent
    /// and was not asked about it yet is sent an inverse offer.
    pub(super) fn ask_back_if_draining(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        now: Duration,
        actions: &mut Vec<Action>,
    ) {
        let asked = self
            .inverse_statuses
            .contains_key(&(agent_id.to_string(), framework_id.to_string()));
        let runs_there = self
            .agents
            .get(agent_id)
            .is_some_and(|a| a.tasks.iter().any(|(f, _)| f == framework_id));
        if self.maintenance.schedule.is_some() && !asked && runs_there {
            self.send_inverse_offer(framework_id, agent_id, now, actions);
        }
    }

    /// One inverse offer for `agent_id` (if it is draining) to `framework_id`.
    fn send_inverse_offer(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        now: Duration,
        actions: &mut Vec<Action>,
    ) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let Some(unavailability) =
            self.unavailability_of(&agent.info.hostname, &agent.http_address)
        else {
            return;
        };
        let id = self.ids.offer_id(&self.info.id);
        self.inverse_offers
            .insert(id.clone(), (framework_id.to_string(), agent_id.to_string()));
        self.inverse_statuses.insert(
            (agent_id.to_string(), framework_id.to_string()),
            inverse_status(framework_id, inverse_offer_status::Status::Unknown, now),
        );
        let event = Event {
            r#type: Some(event::Type::InverseOffers as i32),
            inverse_offers: Some(event::InverseOffers {
                inverse_offers: vec![v1::InverseOffer {
                    id: v1::OfferId { value: id },
                    url: None,
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_string(),
                    },
                    agent_id: Some(v1::AgentId {
                        value: agent_id.to_string(),
                    }),
                    unavailability,
                    resources: Vec::new(),
                }],
            }),
            ..Default::default()
        };
        self.send(framework_id, event, now, actions);
    }

    /// Rescinds the outstanding inverse offers for `agent_id` and forgets
    /// the answers given for it.
    fn rescind_inverse_offers(&mut self, agent_id: &str, now: Duration, actions: &mut Vec<Action>) {
        let mut outstanding: Vec<(String, String)> = self
            .inverse_offers
            .iter()
            .filter(|(_, (_, agent))| agent == agent_id)
            .map(|(id, (framework, _))| (id.clone(), framework.clone()))
            .collect();
        outstanding.sort_unstable();
        for (id, framework_id) in outstanding {
            self.inverse_offers.remove(&id);
            let event = Event {
                r#type: Some(event::Type::RescindInverseOffer as i32),
                rescind_inverse_offer: Some(event::RescindInverseOffer {
                    inverse_offer_id: v1::OfferId { value: id },
                }),
                ..Default::default()
            };
            self.send(&framework_id, event, now, actions);
        }
        self.inverse_statuses
            .retain(|(agent, _), _| agent != agent_id);
    }
}

fn inverse_status(
    framework_id: &str,
    status: inverse_offer_status::Status,
    now: Duration,
) -> InverseOfferStatus {
    InverseOfferStatus {
        status: status as i32,
        framework_id: v1::FrameworkId {
            value: framework_id.to_string(),
        },
        timestamp: v1::TimeInfo {
            nanoseconds: i64::try_from(now.as_nanos()).unwrap_or(i64::MAX),
        },
    }
}
