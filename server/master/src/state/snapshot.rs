//! What the legacy endpoints (`/master/state`, `/master/frameworks`,
//! `/master/slaves`, `/master/state-summary`) and the operator API's big
//! lists (GET_STATE and its parts, SUBSCRIBED) show, taken from the state
//! machine in one pass inside the loop and rendered outside it.
//!
//! Taking it is cheap at any size: tasks and agent infos are shared with
//! the state machine (`Arc`s, copied on write there), and the resources in
//! use or offered are summed per agent and per framework in one walk over
//! the tasks and one over the offers; nothing is sorted there. Sorting,
//! building the answers and writing them, the expensive part (seconds at
//! 500,000 tasks), happen on the rendering thread while the loop goes on
//! making offers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use meseta_allocator::Resources;
use meseta_proto::v1;

use super::{Agent, Framework, Master, OfferRecord};

/// One registered agent.
pub(crate) struct AgentView {
    pub id: String,
    pub info: Arc<v1::AgentInfo>,
    pub http_address: String,
    pub registered_time: Duration,
    pub reregistered_time: Option<Duration>,
    pub active: bool,
    pub version: String,
    pub drain: Option<v1::DrainInfo>,
    pub used: Resources,
    pub offered: Resources,
}

impl AgentView {
    fn of(a: &Agent, used: Resources, offered: Resources) -> Self {
        Self {
            id: a.id.clone(),
            info: Arc::clone(&a.info),
            http_address: a.http_address.clone(),
            registered_time: a.registered_time,
            reregistered_time: a.reregistered_time,
            active: a.active,
            version: a.version.clone(),
            drain: a.drain,
            used,
            offered,
        }
    }

    /// One agent on its own (for an operator event).
    pub(crate) fn alone(m: &Master, a: &Agent) -> Self {
        Self::of(a, m.used_on_agent(&a.id), m.offered_on_agent(&a.id))
    }
}

/// One outstanding offer.
pub(crate) struct OfferView {
    pub id: String,
    pub agent_id: String,
    pub hostname: String,
    pub resources: Resources,
    pub role: String,
}

impl OfferView {
    fn of(m: &Master, id: &str, offer: &OfferRecord) -> Self {
        Self {
            id: id.to_string(),
            agent_id: offer.agent_id.clone(),
            hostname: m
                .agents()
                .get(&offer.agent_id)
                .map(|a| a.info.hostname.clone())
                .unwrap_or_default(),
            resources: offer.resources.clone(),
            role: offer.role.clone(),
        }
    }
}

/// One framework, connected or completed.
pub(crate) struct FrameworkView {
    pub id: String,
    pub info: v1::FrameworkInfo,
    pub active: bool,
    pub connected: bool,
    /// Known from the agents' re-registrations, not yet re-subscribed.
    pub recovered: bool,
    pub registered_time: Duration,
    pub reregistered_time: Option<Duration>,
    pub unregistered_time: Option<Duration>,
    pub used: Resources,
    pub offered: Resources,
    /// Its current tasks, then its completed ones.
    pub tasks: Vec<Arc<v1::Task>>,
    pub completed_tasks: Vec<Arc<v1::Task>>,
    pub offers: Vec<OfferView>,
    /// (agent, executor) pairs.
    pub executors: Vec<(String, v1::ExecutorInfo)>,
    /// As it subscribed or last updated them.
    pub offer_constraints: Option<meseta_proto::scheduler::OfferConstraints>,
}

impl FrameworkView {
    fn of(f: &Framework, used: Resources, offered: Resources, offers: Vec<OfferView>) -> Self {
        Self {
            id: f.id.clone(),
            info: f.info.clone(),
            active: f.active,
            connected: f.conn.is_some(),
            recovered: f.recovered,
            registered_time: f.registered_time,
            reregistered_time: f.reregistered_time,
            unregistered_time: f.unregistered_time,
            used,
            offered,
            tasks: Vec::new(),
            completed_tasks: Vec::new(),
            offers,
            executors: Vec::new(),
            offer_constraints: f.offer_constraints.clone(),
        }
    }

    /// With its tasks and executors.
    fn with_contents(mut self, f: &Framework) -> Self {
        self.tasks = f.tasks.values().map(|r| Arc::clone(&r.task)).collect();
        self.completed_tasks = f.completed_tasks.iter().map(Arc::clone).collect();
        self.executors = f
            .executors
            .iter()
            .map(|((agent, _), info)| (agent.clone(), info.clone()))
            .collect();
        self
    }

    /// One framework on its own (for an operator event), its offers
    /// sorted; without its tasks and executors, which the event leaves out.
    pub(crate) fn alone(m: &Master, f: &Framework) -> Self {
        let mut offers: Vec<OfferView> = f
            .offers
            .iter()
            .filter_map(|id| m.offers().get(id).map(|offer| OfferView::of(m, id, offer)))
            .collect();
        offers.sort_by(|a, b| a.id.cmp(&b.id));
        let mut offered = Resources::default();
        for offer in &offers {
            offered.add(&offer.resources);
        }
        Self::of(f, m.used_resources(Some(&f.id), None), offered, offers)
    }
}

/// Everything the endpoints render.
pub struct Snapshot {
    pub(crate) start_time: Duration,
    pub(crate) elected_time: Duration,
    /// Sorted by ID.
    pub(crate) agents: Vec<AgentView>,
    /// Agents from the registry that have not re-registered yet.
    pub(crate) recovered: Vec<v1::AgentInfo>,
    pub(crate) unreachable_agents: usize,
    /// Sorted by ID.
    pub(crate) frameworks: Vec<FrameworkView>,
    pub(crate) completed_frameworks: Vec<FrameworkView>,
}

/// Resources summed per key (borrowed from the state while it is taken;
/// hashed with foldhash: this runs inside the loop, once per task).
#[derive(Default)]
struct Sums<'a>(HashMap<&'a str, Resources, foldhash::fast::RandomState>);

impl<'a> Sums<'a> {
    fn add(&mut self, key: &'a str, resources: &Resources) {
        match self.0.get_mut(key) {
            Some(total) => total.add(resources),
            None => {
                self.0.insert(key, resources.clone());
            }
        }
    }

    fn take(&mut self, key: &str) -> Resources {
        self.0.remove(key).unwrap_or_default()
    }
}

impl Snapshot {
    /// Takes the snapshot (inside the loop: nothing is sorted or
    /// rendered here; see [`Snapshot::sort`]).
    pub fn take(m: &Master) -> Self {
        let mut used_by_agent = Sums::default();
        let mut used_by_framework: HashMap<&str, Resources> = HashMap::new();
        for framework in m.frameworks().values() {
            let mut used = Resources::default();
            for record in framework.tasks.values().filter(|r| !r.resources_recovered) {
                used_by_agent.add(&record.task.agent_id.value, &record.resources);
                used.add(&record.resources);
            }
            used_by_framework.insert(&framework.id, used);
        }
        let (mut offered_by_agent, mut offered_by_framework) = (Sums::default(), Sums::default());
        let mut offers_of: HashMap<&str, Vec<OfferView>> = HashMap::new();
        for (id, offer) in m.offers() {
            offered_by_agent.add(&offer.agent_id, &offer.resources);
            offered_by_framework.add(&offer.framework_id, &offer.resources);
            offers_of
                .entry(offer.framework_id.as_str())
                .or_default()
                .push(OfferView::of(m, id, offer));
        }
        let agents: Vec<AgentView> = m
            .agents()
            .values()
            .map(|a| AgentView::of(a, used_by_agent.take(&a.id), offered_by_agent.take(&a.id)))
            .collect();
        let mut view = |f: &Framework| {
            FrameworkView::of(
                f,
                used_by_framework.remove(f.id.as_str()).unwrap_or_default(),
                offered_by_framework.take(&f.id),
                offers_of.remove(f.id.as_str()).unwrap_or_default(),
            )
            .with_contents(f)
        };
        let frameworks: Vec<FrameworkView> = m.frameworks().values().map(&mut view).collect();
        let completed_frameworks = m.completed_frameworks().iter().map(&mut view).collect();
        let recovered: Vec<v1::AgentInfo> = m
            .recovered_agents()
            .values()
            .map(|r| r.info.clone())
            .collect();
        Self {
            start_time: m.start_time(),
            elected_time: m.elected_time(),
            agents,
            recovered,
            unreachable_agents: m.unreachable_agents().len(),
            frameworks,
            completed_frameworks,
        }
    }

    /// Puts everything in a stable order (outside the loop, before
    /// rendering): agents, frameworks, tasks, offers and executors by ID.
    pub fn sort(&mut self) {
        self.agents.sort_by(|a, b| a.id.cmp(&b.id));
        self.recovered.sort_by(|a, b| {
            a.id.as_ref()
                .map(|i| &i.value)
                .cmp(&b.id.as_ref().map(|i| &i.value))
        });
        for list in [&mut self.frameworks, &mut self.completed_frameworks] {
            list.sort_by(|a, b| a.id.cmp(&b.id));
            for f in list.iter_mut() {
                f.tasks
                    .sort_by(|a, b| a.task_id.value.cmp(&b.task_id.value));
                f.offers.sort_by(|a, b| a.id.cmp(&b.id));
                f.executors.sort_by(|a, b| {
                    (&a.0, &a.1.executor_id.value).cmp(&(&b.0, &b.1.executor_id.value))
                });
            }
        }
    }
}
