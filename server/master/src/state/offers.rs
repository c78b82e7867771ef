//! Offers: turning allocation cycles into OFFERS events, and taking
//! resources back on DECLINE or when an offer must be rescinded.
//!
//! The allocator decides *who* gets *what*; this module only packages the
//! allocations as `Offer`s, remembers them, and returns their resources to
//! the allocator when they are not used.

use std::collections::BTreeMap;
use std::time::Duration;

use meseta_allocator::Resources;
use meseta_proto::scheduler::{call, event, Event};
use meseta_proto::v1;

use super::{Action, CallError, Master, OfferRecord};

impl Master {
    /// Runs one allocation cycle and sends the resulting offers.
    pub(super) fn allocate(&mut self, now: Duration, actions: &mut Vec<Action>) {
        self.allocation_wanted = false;
        self.counters.allocation_runs += 1;
        let allocations = self.allocator.allocate(now);
        let mut by_framework: BTreeMap<String, Vec<v1::Offer>> = BTreeMap::new();
        for allocation in allocations {
            let Some(agent) = self.agents.get(&allocation.agent_id) else {
                continue;
            };
            let framework = self.frameworks.get(&allocation.framework_id);
            let framework_ok = framework.is_some_and(|f| f.conn.is_some());
            let refinement = framework.is_some_and(|f| {
                super::has_capability(
                    &f.info,
                    v1::framework_info::capability::Type::ReservationRefinement,
                )
            });
            if !framework_ok || !agent.active {
                self.allocator.recover(
                    &allocation.framework_id,
                    &allocation.role,
                    &allocation.agent_id,
                    &allocation.resources,
                    None,
                    now,
                );
                continue;
            }
            let offer_id = self.ids.offer_id(&self.info.id);
            let executor_ids = self
                .frameworks
                .get(&allocation.framework_id)
                .map(|f| {
                    let from = (allocation.agent_id.clone(), String::new());
                    f.executors
                        .range(from..)
                        .take_while(|((a, _), _)| a == &allocation.agent_id)
                        .map(|((_, e), _)| v1::ExecutorId { value: e.clone() })
                        .collect()
                })
                .unwrap_or_default();
            let mut resources = allocation.resources.to_mesos(&allocation.role);
            if !refinement {
                meseta_proto::resources::to_pre_refinement(&mut resources);
            }
            let offer = v1::Offer {
                id: v1::OfferId {
                    value: offer_id.clone(),
                },
                framework_id: v1::FrameworkId {
                    value: allocation.framework_id.clone(),
                },
                agent_id: v1::AgentId {
                    value: allocation.agent_id.clone(),
                },
                hostname: agent.info.hostname.clone(),
                url: agent_url(&agent.http_address),
                domain: agent.info.domain.clone(),
                resources,
                attributes: agent.info.attributes.clone(),
                executor_ids,
                allocation_info: Some(v1::resource::AllocationInfo {
                    role: Some(allocation.role.clone()),
                }),
                unavailability: self.unavailability_of(&agent.info.hostname, &agent.http_address),
            };
            self.agent_offers
                .entry(allocation.agent_id.clone())
                .or_default()
                .push(offer_id.clone());
            self.offers.insert(
                offer_id.clone(),
                OfferRecord {
                    framework_id: allocation.framework_id.clone(),
                    agent_id: allocation.agent_id.clone(),
                    resources: allocation.resources,
                    role: allocation.role,
                    made_at: now,
                },
            );
            if let Some(framework) = self.frameworks.get_mut(&allocation.framework_id) {
                framework.offers.insert(offer_id);
            }
            by_framework
                .entry(allocation.framework_id)
                .or_default()
                .push(offer);
        }
        for (framework_id, offers) in by_framework {
            self.counters.offers_sent += offers.len() as u64;
            let event = Event {
                r#type: Some(event::Type::Offers as i32),
                offers: Some(event::Offers { offers }),
                ..Default::default()
            };
            self.send(&framework_id, event, now, actions);
        }
    }

    /// Takes an offer out of the books, checking it belongs to the framework.
    pub(super) fn take_offer(&mut self, framework_id: &str, offer_id: &str) -> Option<OfferRecord> {
        if self.offers.get(offer_id)?.framework_id != framework_id {
            return None;
        }
        let record = self.offers.remove(offer_id)?;
        self.forget_agent_offer(&record.agent_id, offer_id);
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.offers.remove(offer_id);
        }
        Some(record)
    }

    fn forget_agent_offer(&mut self, agent_id: &str, offer_id: &str) {
        if let Some(ids) = self.agent_offers.get_mut(agent_id) {
            ids.retain(|id| id != offer_id);
            if ids.is_empty() {
                self.agent_offers.remove(agent_id);
            }
        }
    }

    /// The filter a framework asked for, or the default one.
    pub(super) fn refuse_for(&self, filters: Option<&v1::Filters>) -> Option<Duration> {
        let seconds = filters
            .and_then(|f| f.refuse_seconds)
            .unwrap_or(self.settings.default_refuse.as_secs_f64());
        (seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds.min(1e9)))
    }

    /// DECLINE: the offers' resources go back, filtered for the framework.
    pub(super) fn decline(
        &mut self,
        now: Duration,
        framework_id: &str,
        decline: Option<call::Decline>,
    ) -> Result<(), CallError> {
        let decline = decline
            .ok_or_else(|| CallError::BadRequest("Expecting 'decline' to be present".into()))?;
        let refuse = self.refuse_for(decline.filters.as_ref());
        for offer_id in &decline.offer_ids {
            // Unknown offers are ignored: they may have been rescinded meanwhile.
            if let Some(record) = self.take_offer(framework_id, &offer_id.value) {
                self.allocator.recover(
                    framework_id,
                    &record.role,
                    &record.agent_id,
                    &record.resources,
                    refuse,
                    now,
                );
            }
        }
        self.allocation_wanted = true;
        Ok(())
    }

    /// REVIVE: clears the framework's filters and unsuppresses it in
    /// every role.
    pub(super) fn revive(&mut self, framework_id: &str) {
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.suppressed_roles.clear();
        }
        self.allocator.revive(framework_id);
        self.allocation_wanted = true;
    }

    /// REVIVE with `roles` (empty: all of them): those of the framework's
    /// roles are unsuppressed and their filters cleared; roles it is not
    /// subscribed to are ignored.
    pub(super) fn revive_roles(&mut self, framework_id: &str, roles: &[String]) {
        if roles.is_empty() {
            return self.revive(framework_id);
        }
        for role in self.own_roles(framework_id, roles) {
            if let Some(framework) = self.frameworks.get_mut(framework_id) {
                framework.suppressed_roles.remove(&role);
            }
            self.allocator.revive_role(framework_id, &role);
            self.allocation_wanted = true;
        }
    }

    /// SUPPRESS with `roles` (empty: all of them); see
    /// [`revive_roles`](Self::revive_roles).
    pub(super) fn suppress_roles(&mut self, framework_id: &str, roles: &[String]) {
        if roles.is_empty() {
            return self.suppress(framework_id);
        }
        for role in self.own_roles(framework_id, roles) {
            if let Some(framework) = self.frameworks.get_mut(framework_id) {
                framework.suppressed_roles.insert(role.clone());
            }
            self.allocator.suppress_role(framework_id, &role);
        }
    }

    /// Those of `roles` the framework is subscribed to.
    fn own_roles(&self, framework_id: &str, roles: &[String]) -> Vec<String> {
        let subscribed = self
            .frameworks
            .get(framework_id)
            .map(|f| f.roles())
            .unwrap_or_default();
        roles
            .iter()
            .filter(|role| subscribed.contains(*role))
            .cloned()
            .collect()
    }

    /// SUPPRESS: no more offers, in any role, until REVIVE.
    pub(super) fn suppress(&mut self, framework_id: &str) {
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.suppressed_roles = framework.roles().into_iter().collect();
        }
        self.allocator.suppress(framework_id);
    }

    /// Rescinds the offers held longer than the offer timeout (if one is
    /// set), so that a framework sitting on offers does not starve others.
    /// Their resources go back without a filter, as in Mesos.
    pub(super) fn expire_offers(&mut self, now: Duration, actions: &mut Vec<Action>) {
        let Some(timeout) = self.settings.offer_timeout else {
            return;
        };
        let mut expired: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, offer)| now.saturating_sub(offer.made_at) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        expired.sort_unstable();
        for offer_id in expired {
            tracing::info!(offer_id, "offer timed out; rescinding it");
            self.rescind_offer(&offer_id, now, actions);
        }
    }

    /// Rescinds one offer: RESCIND to its framework, resources back.
    pub(super) fn rescind_offer(
        &mut self,
        offer_id: &str,
        now: Duration,
        actions: &mut Vec<Action>,
    ) {
        let Some(record) = self.offers.remove(offer_id) else {
            return;
        };
        self.forget_agent_offer(&record.agent_id, offer_id);
        self.counters.offers_rescinded += 1;
        if let Some(framework) = self.frameworks.get_mut(&record.framework_id) {
            framework.offers.remove(offer_id);
        }
        self.allocator.recover(
            &record.framework_id,
            &record.role,
            &record.agent_id,
            &record.resources,
            None,
            now,
        );
        let event = Event {
            r#type: Some(event::Type::Rescind as i32),
            rescind: Some(event::Rescind {
                offer_id: v1::OfferId {
                    value: offer_id.to_string(),
                },
            }),
            ..Default::default()
        };
        self.send(&record.framework_id, event, now, actions);
        self.allocation_wanted = true;
    }

    pub(super) fn rescind_framework_offers(
        &mut self,
        framework_id: &str,
        now: Duration,
        actions: &mut Vec<Action>,
    ) {
        let mut ids: Vec<String> = self
            .frameworks
            .get(framework_id)
            .map(|f| f.offers.iter().cloned().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        for offer_id in ids {
            self.rescind_offer(&offer_id, now, actions);
        }
    }

    pub(super) fn rescind_agent_offers(
        &mut self,
        agent_id: &str,
        now: Duration,
        actions: &mut Vec<Action>,
    ) {
        let mut ids = self.agent_offers.get(agent_id).cloned().unwrap_or_default();
        ids.sort_unstable();
        for offer_id in ids {
            self.rescind_offer(&offer_id, now, actions);
        }
    }

    /// Total resources of a framework's outstanding offers.
    pub fn offered_resources(&self, framework_id: &str) -> Resources {
        let mut total = Resources::default();
        if let Some(framework) = self.frameworks.get(framework_id) {
            for offer_id in &framework.offers {
                if let Some(record) = self.offers.get(offer_id) {
                    total.add(&record.resources);
                }
            }
        }
        total
    }
}

/// The agent's URL in an offer (`http://host:port/slave(1)`).
fn agent_url(http_address: &str) -> Option<v1::Url> {
    let (host, port) = http_address.rsplit_once(':')?;
    let port: i32 = port.parse().ok()?;
    Some(v1::Url {
        scheme: "http".into(),
        address: v1::Address {
            hostname: Some(host.to_string()),
            ip: Some(host.to_string()),
            port,
        },
        path: Some("/slave(1)".into()),
        query: Vec::new(),
        fragment: None,
    })
}
