// The cluster as the event stream tells it: Maps keyed by ID, and the
// figures the pages show (tasks per state, resources in use per agent and
// framework) kept up to date as each event is applied, so that no page has
// to walk every task to draw a summary.

import { TERMINAL, holdsResources, scalars, emptyRes, addRes } from './util.js';

/** Ended tasks kept beyond what SUBSCRIBED brought (oldest dropped first). */
const MAX_COMPLETED = 20000;
/** Status updates kept per task. */
const MAX_STATUSES = 12;

export function taskKey(frameworkId, taskId) {
  return `${frameworkId}\n${taskId}`;
}

export class Model {
  constructor() {
    this.reset();
    /** GetRoles.roles (their weights), as the roles page last asked. */
    this.roleInfo = [];
    /** QuotaStatus.configs (guarantees and limits), as the roles page last asked. */
    this.quotaConfigs = [];
    this.version = 0;
    this.eventsApplied = 0;
    this.listeners = new Set();
  }

  reset() {
    /** `taskKey(framework, task)` -> Task (mesos.v1.Task in JSON). */
    this.tasks = new Map();
    /** Agent ID -> GetAgents.Agent. */
    this.agents = new Map();
    /** Framework ID -> GetFrameworks.Framework, registered ones. */
    this.frameworks = new Map();
    /** Framework ID -> GetFrameworks.Framework, removed ones. */
    this.completedFrameworks = new Map();
    /** Task state -> number of tasks in it. */
    this.stateCounts = new Map();
    /** Agent ID / framework ID -> resources held by their live tasks. */
    this.agentUsed = new Map();
    this.frameworkUsed = new Map();
    /** Agent ID / framework ID -> number of live tasks. */
    this.agentLive = new Map();
    this.frameworkLive = new Map();
    /** Total held by live tasks. */
    this.used = emptyRes();
    this.completed = [];
    this.completedHead = 0;
    this.subscribedAt = 0;
    this.lastEventAt = 0;
    this.heartbeats = 0;
    this.offersAt = 0;
  }

  /** Calls `fn(model)` after every change. */
  listen(fn) {
    this.listeners.add(fn);
  }

  changed() {
    this.version += 1;
    for (const fn of this.listeners) fn(this);
  }

  /** Applies one operator event (Mesos's JSON mapping of master.Event). */
  apply(event) {
    this.eventsApplied += 1;
    this.lastEventAt = Date.now();
    switch (event.type) {
      case 'SUBSCRIBED':
        this.load(event.subscribed.get_state || {});
        this.subscribedAt = Date.now();
        break;
      case 'HEARTBEAT':
        this.heartbeats += 1;
        return; // nothing the pages show changed
      case 'TASK_ADDED':
        this.addTask(event.task_added.task);
        break;
      case 'TASK_UPDATED':
        this.updateTask(event.task_updated);
        break;
      case 'AGENT_ADDED':
        this.putAgent(event.agent_added.agent);
        break;
      case 'AGENT_REMOVED':
        this.agents.delete(event.agent_removed.agent_id.value);
        break;
      case 'FRAMEWORK_ADDED':
        this.putFramework(event.framework_added.framework);
        break;
      case 'FRAMEWORK_UPDATED':
        this.putFramework(event.framework_updated.framework);
        break;
      case 'FRAMEWORK_REMOVED':
        this.removeFramework(event.framework_removed.framework_info);
        break;
      default:
        return;
    }
    this.changed();
  }

  load(state) {
    this.reset();
    const agents = state.get_agents || {};
    for (const agent of agents.agents || []) this.putAgent(agent);
    const frameworks = state.get_frameworks || {};
    for (const f of frameworks.frameworks || []) this.putFramework(f);
    for (const f of frameworks.completed_frameworks || []) {
      this.completedFrameworks.set(f.framework_info.id.value, f);
    }
    this.offersAt = Date.now();
    const tasks = state.get_tasks || {};
    for (const list of [tasks.tasks, tasks.unreachable_tasks, tasks.completed_tasks]) {
      for (const task of list || []) this.addTask(task);
    }
  }

  putAgent(agent) {
    this.agents.set(agent.agent_info.id.value, agent);
  }

  putFramework(framework) {
    const id = framework.framework_info.id.value;
    this.frameworks.set(id, framework);
    this.completedFrameworks.delete(id);
  }

  removeFramework(info) {
    const id = info.id && info.id.value;
    if (!id) return;
    const framework = this.frameworks.get(id) || { framework_info: info };
    this.frameworks.delete(id);
    this.completedFrameworks.set(id, {
      ...framework,
      framework_info: info,
      active: false,
      connected: false,
      offers: [],
      offered_resources: [],
      unregistered_time: { nanoseconds: Date.now() * 1e6 },
    });
    // The master ends the framework's live tasks with it (TASK_KILLED)
    // without an update for each.
    for (const task of this.tasks.values()) {
      if (task.framework_id.value === id && !TERMINAL.has(task.state)) this.setState(task, 'TASK_KILLED');
    }
  }

  frameworkName(id) {
    const f = this.frameworks.get(id) || this.completedFrameworks.get(id);
    return f ? f.framework_info.name : '';
  }

  framework(id) {
    return this.frameworks.get(id) || this.completedFrameworks.get(id);
  }

  hostname(agentId) {
    const a = this.agents.get(agentId);
    return a ? a.agent_info.hostname : '';
  }

  /** Adds what a task in `state` holds to the per-agent/framework figures. */
  account(task, sign) {
    if (!holdsResources(task.state)) return;
    const res = task._res;
    const agent = task.agent_id.value;
    const framework = task.framework_id.value;
    if (!this.agentUsed.has(agent)) this.agentUsed.set(agent, emptyRes());
    if (!this.frameworkUsed.has(framework)) this.frameworkUsed.set(framework, emptyRes());
    addRes(this.agentUsed.get(agent), res, sign);
    addRes(this.frameworkUsed.get(framework), res, sign);
    addRes(this.used, res, sign);
    this.agentLive.set(agent, (this.agentLive.get(agent) || 0) + sign);
    this.frameworkLive.set(framework, (this.frameworkLive.get(framework) || 0) + sign);
  }

  count(state, delta) {
    this.stateCounts.set(state, (this.stateCounts.get(state) || 0) + delta);
  }

  addTask(task) {
    const key = taskKey(task.framework_id.value, task.task_id.value);
    const old = this.tasks.get(key);
    if (old) this.dropTask(key, old);
    task._key = key;
    task._res = scalars(task.resources);
    task.state = task.state || 'TASK_STAGING';
    task.statuses = (task.statuses || []).slice(-MAX_STATUSES);
    for (const s of task.statuses) delete s.data;
    task._updated = lastTimestamp(task);
    this.tasks.set(key, task);
    this.count(task.state, 1);
    this.account(task, 1);
    if (TERMINAL.has(task.state)) this.noteCompleted(key);
  }

  dropTask(key, task) {
    this.count(task.state, -1);
    this.account(task, -1);
    this.tasks.delete(key);
  }

  setState(task, state) {
    if (task.state === state) return;
    this.count(task.state, -1);
    this.account(task, -1);
    task.state = state;
    this.count(task.state, 1);
    this.account(task, 1);
    if (TERMINAL.has(state)) this.noteCompleted(task._key);
  }

  updateTask(update) {
    const status = update.status;
    delete status.data;
    const key = taskKey(update.framework_id.value, status.task_id.value);
    let task = this.tasks.get(key);
    if (!task) {
      // An update for a task we never heard of (it predates a lost event):
      // keep what the update says.
      this.addTask({
        name: '',
        task_id: status.task_id,
        framework_id: update.framework_id,
        agent_id: status.agent_id || { value: '' },
        executor_id: status.executor_id,
        state: update.state,
        statuses: [status],
      });
      return;
    }
    task.statuses.push(status);
    if (task.statuses.length > MAX_STATUSES) task.statuses.shift();
    if (status.timestamp) task._updated = status.timestamp;
    this.setState(task, update.state || status.state);
  }

  /** Remembers an ended task; forgets the oldest past the limit. */
  noteCompleted(key) {
    this.completed.push(key);
    while (this.completed.length - this.completedHead > MAX_COMPLETED) {
      const old = this.completed[this.completedHead];
      this.completedHead += 1;
      const task = this.tasks.get(old);
      if (task && TERMINAL.has(task.state)) this.dropTask(old, task);
    }
    if (this.completedHead > 4096 && this.completedHead * 2 > this.completed.length) {
      this.completed = this.completed.slice(this.completedHead);
      this.completedHead = 0;
    }
  }

  /** Offers are not in the event stream: a GET_FRAMEWORKS answer brings them. */
  refreshOffers(getFrameworks) {
    for (const f of (getFrameworks && getFrameworks.frameworks) || []) {
      const id = f.framework_info.id.value;
      const known = this.frameworks.get(id);
      if (known) {
        known.offers = f.offers || [];
        known.offered_resources = f.offered_resources || [];
      }
    }
    this.offersAt = Date.now();
    this.changed();
  }

  /** Replaces the agents by a GET_AGENTS answer (after an operator action:
   * deactivation has no event of its own). */
  refreshAgents(getAgents) {
    const seen = new Set();
    for (const agent of (getAgents && getAgents.agents) || []) {
      this.putAgent(agent);
      seen.add(agent.agent_info.id.value);
    }
    for (const id of [...this.agents.keys()]) if (!seen.has(id)) this.agents.delete(id);
    this.changed();
  }

  /** Role weights are not in the event stream: a GET_ROLES answer brings them. */
  refreshRoles(getRoles) {
    this.roleInfo = (getRoles && getRoles.roles) || [];
    this.changed();
  }

  /** Quotas are not in the event stream: a GET_QUOTA answer brings them. */
  refreshQuota(getQuota) {
    this.quotaConfigs = (getQuota && getQuota.status && getQuota.status.configs) || [];
    this.changed();
  }

  /** Every offer outstanding, with its framework's ID. */
  offers() {
    const out = [];
    for (const f of this.frameworks.values()) {
      for (const offer of f.offers || []) out.push(offer);
    }
    return out;
  }

  /** Resources offered to all frameworks together. */
  offered() {
    const total = emptyRes();
    for (const f of this.frameworks.values()) addRes(total, scalars(f.offered_resources));
    return total;
  }

  /** Resources of all agents together. */
  total() {
    const total = emptyRes();
    for (const a of this.agents.values()) addRes(total, scalars(a.total_resources));
    return total;
  }
}

/** When a task last changed, from its statuses. */
function lastTimestamp(task) {
  let t = 0;
  for (const s of task.statuses || []) if (s.timestamp > t) t = s.timestamp;
  return t;
}

/** The container of a task, from its latest status that names one. */
export function containerId(task) {
  for (let i = (task.statuses || []).length - 1; i >= 0; i -= 1) {
    const s = task.statuses[i];
    if (s.container_status && s.container_status.container_id) return s.container_status.container_id;
  }
  return null;
}
