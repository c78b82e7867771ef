// The agents, and the page of one agent: its facts and resources from the
// master, its containers' live usage asked of the agent itself, and its
// tasks.

import { esc, TERMINAL, fmtInt, fmtNum, fmtMB, fmtTime, timeInfo, emptyRes, scalars, rangesText, agentAddress, attributes, meter, href } from './util.js';
import { tableHtml, bindTables, setHtml } from './table.js';
import { agentCall, agentGet } from './api.js';
import { containerId } from './model.js';
import { Poller } from './poll.js';
import { idHtml, frameworkLink, agentLink, taskHref, taskButtons, dl, resourceTable, perVersion, AGENT_STATUSES, agentStatus, agentBadge, listPage } from './pages_common.js';
import { subjectPage } from './pages_subject.js';

function attributeChips(info, none) {
  return attributes(info).map((x) => `<span class="chip">${esc(x)}</span>`).join(' ') || `<span class="muted">${none}</span>`;
}

function agentButtons(a, small) {
  const id = esc(a.agent_info.id.value);
  const host = esc(a.agent_info.hostname);
  const cls = small ? 'small ' : '';
  const toggle = a.deactivated
    ? `<button type="button" class="${cls}secondary" data-action="reactivate" data-id="${id}" data-fk="reactivate-${id}" aria-label="Reactivate agent ${host}">Reactivate</button>`
    : `<button type="button" class="${cls}secondary" data-action="deactivate" data-id="${id}" data-fk="deactivate-${id}" aria-label="Deactivate agent ${host}">Deactivate</button>`;
  const gone = `<button type="button" class="${cls}danger" data-action="mark-gone" data-id="${id}" data-fk="gone-${id}" aria-label="Mark agent ${host} gone">Mark gone</button>`;
  return `<span class="actions">${toggle}${gone}</span>`;
}

function agentsTable(model) {
  const id = (a) => a.agent_info.id.value;
  const total = (a) => {
    if (!a._total || a._totalOf !== a.total_resources) {
      a._total = scalars(a.total_resources);
      a._totalOf = a.total_resources;
    }
    return a._total;
  };
  const used = (a) => model.agentUsed.get(id(a)) || emptyRes();
  const live = (a) => model.agentLive.get(id(a)) || 0;
  const gauge = (a, key, fmt, name) => meter(used(a)[key], total(a)[key], `${fmt(used(a)[key])} / ${fmt(total(a)[key])}`, `${name} used on ${a.agent_info.hostname}`);
  return {
    id: 'agents',
    caption: 'Agents',
    noun: 'agents',
    defaultSort: 'hostname',
    columns: [
      { key: 'hostname', label: 'Hostname', sort: (a) => a.agent_info.hostname, cell: (a) => agentLink(model, id(a)) },
      { key: 'id', label: 'ID', sort: id, cell: (a) => idHtml(id(a)), className: 'opt' },
      { key: 'status', label: 'Status', sort: agentStatus, cell: agentBadge },
      { key: 'cpus', label: 'CPUs used', sort: (a) => used(a).cpus / (total(a).cpus || 1), cell: (a) => gauge(a, 'cpus', fmtNum, 'CPUs'), className: 'gauge' },
      { key: 'mem', label: 'Mem used', sort: (a) => used(a).mem / (total(a).mem || 1), cell: (a) => gauge(a, 'mem', fmtMB, 'Memory'), className: 'gauge' },
      { key: 'disk', label: 'Disk used', sort: (a) => used(a).disk / (total(a).disk || 1), cell: (a) => gauge(a, 'disk', fmtMB, 'Disk'), className: 'gauge opt' },
      { key: 'gpus', label: 'GPUs', sort: (a) => total(a).gpus, cell: (a) => `${fmtNum(used(a).gpus)} / ${fmtNum(total(a).gpus)}`, className: 'num opt' },
      { key: 'tasks', label: 'Tasks', sort: live, cell: (a) => `<a href="${href('tasks', { agent: id(a), state: 'live' })}">${fmtInt(live(a))}</a>`, className: 'num' },
      { key: 'attributes', label: 'Attributes', sort: (a) => attributes(a.agent_info).join(' '), cell: (a) => attributeChips(a.agent_info, '—'), className: 'opt' },
      { key: 'registered', label: 'Registered', sort: (a) => timeInfo(a.registered_time), cell: (a) => `<span class="nowrap">${esc(fmtTime(timeInfo(a.registered_time)))}</span>`, className: 'opt' },
      { key: 'actions', label: 'Actions', cell: (a) => agentButtons(a, true) },
    ],
  };
}

export const agents = listPage({
  title: 'Agents',
  fields: () => [
    { name: 'q', label: 'Hostname or ID starts with', type: 'search', placeholder: 'hostname' },
    { name: 'status', label: 'Status', type: 'select', options: [['', 'Any status'], ...Object.entries(AGENT_STATUSES).map(([key, s]) => [key, s.label])] },
    { name: 'attribute', label: 'Attribute (key=value)', type: 'search', placeholder: 'rack=r1' },
  ],
  rows(model, params) {
    const q = (params.get('q') || '').toLowerCase();
    const status = params.get('status') || '';
    const attribute = (params.get('attribute') || '').toLowerCase();
    const out = [];
    for (const [id, a] of model.agents) {
      if (status && agentStatus(a) !== status) continue;
      if (q && !a.agent_info.hostname.toLowerCase().startsWith(q) && !id.toLowerCase().startsWith(q)) continue;
      if (attribute && !attributes(a.agent_info).some((x) => x.toLowerCase().includes(attribute))) continue;
      out.push(a);
    }
    return out;
  },
  table: (ctx) => agentsTable(ctx.model),
});

function agentHead(model, id) {
  const agent = model.agents.get(id);
  if (!agent) return null;
  const info = agent.agent_info;
  const total = scalars(agent.total_resources);
  const used = model.agentUsed.get(id) || emptyRes();
  const offered = scalars(agent.offered_resources);
  const free = emptyRes();
  for (const key of Object.keys(free)) free[key] = Math.max(0, total[key] - used[key]);
  return `<div class="page-head"><h1>Agent ${esc(info.hostname)}</h1><div class="page-tools">${agentButtons(agent, false)}</div></div>
${dl([
  ['ID', `<span class="mono">${esc(id)}</span>`],
  ['Status', agentBadge(agent)],
  ['Address', `<span class="mono">${esc(agentAddress(agent))}</span>`],
  ['Version', esc(agent.version)],
  ['Registered', esc(fmtTime(timeInfo(agent.registered_time)))],
  ['Re-registered', esc(fmtTime(timeInfo(agent.reregistered_time)))],
  ['Attributes', attributeChips(info, 'none')],
  ['Other resources', esc(rangesText(agent.total_resources))],
  ['Capabilities', esc((agent.capabilities || []).map((c) => c.type).join(', '))],
  ['Live tasks', fmtInt(model.agentLive.get(id) || 0)],
  ['Offered', offered.cpus || offered.mem ? esc(`${fmtNum(offered.cpus)} CPUs, ${fmtMB(offered.mem)}`) : ''],
])}
${resourceTable({
  caption: 'Resources',
  columns: [
    ['Total', total],
    ['Used', used],
    ['Free', free],
  ],
  share: { heading: 'Share used', used, total, verb: 'used' },
})}`;
}

/** The live task in each container, over all agents: one walk over the
 * tasks per change of the model, however often the usage is drawn. */
const taskByContainer = perVersion((model) => {
  const index = new Map();
  for (const t of model.tasks.values()) {
    if (TERMINAL.has(t.state)) continue;
    const c = containerId(t);
    if (c) index.set(c.value, t);
  }
  return index;
});

/** How often the agent page asks the agent for its containers' usage. */
const USAGE_INTERVAL_MS = 3000;

/** Reads the agent's containers and their usage now and then; CPU use is
 * the difference between two samples of the CPU time. */
class Usage {
  constructor() {
    this.containers = null;
    this.error = '';
    this.at = 0;
    this.previous = new Map();
    this.cpu = new Map();
  }

  async read(address) {
    try {
      const [answer, statistics] = await Promise.all([agentCall(address, { type: 'GET_CONTAINERS' }), agentGet(address, '/monitor/statistics')]);
      const containers = (answer && answer.get_containers && answer.get_containers.containers) || [];
      const byExecutor = new Map();
      for (const s of statistics || []) byExecutor.set(`${s.framework_id}\n${s.executor_id}`, s.statistics || {});
      const next = new Map();
      for (const c of containers) {
        const stats = byExecutor.get(`${c.framework_id && c.framework_id.value}\n${c.executor_id && c.executor_id.value}`) || c.resource_statistics || null;
        c._stats = stats;
        if (!stats) continue;
        const id = c.container_id.value;
        const cpuTime = (stats.cpus_user_time_secs || 0) + (stats.cpus_system_time_secs || 0);
        const before = this.previous.get(id);
        if (before && stats.timestamp > before.timestamp) this.cpu.set(id, (cpuTime - before.cpuTime) / (stats.timestamp - before.timestamp));
        next.set(id, { cpuTime, timestamp: stats.timestamp });
      }
      for (const id of this.cpu.keys()) if (!next.has(id)) this.cpu.delete(id);
      this.previous = next;
      this.containers = containers;
      this.error = '';
      this.at = Date.now();
    } catch (e) {
      this.error = e.message;
    }
  }

  /** Whether a container has had one sample but not yet a second. */
  measuring() {
    for (const id of this.previous.keys()) if (!this.cpu.has(id)) return true;
    return false;
  }

  statusHtml() {
    if (this.error) return `<p class="notice-inline bad">Cannot read the agent's containers: ${esc(this.error)}</p>`;
    if (this.containers) return `<p class="muted small">Usage as read from the agent at ${esc(new Date(this.at).toLocaleTimeString())}, every ${USAGE_INTERVAL_MS / 1000} s.</p>`;
    return '<p class="loading">Asking the agent for its containers…</p>';
  }

  cpuCell(c) {
    const used = this.cpu.get(c.container_id.value);
    if (used === undefined) return '<span class="muted">measuring…</span>';
    const limit = c._stats ? c._stats.cpus_limit || 0 : 0;
    const cores = used < 1 ? Math.max(0, used).toFixed(3) : fmtNum(used);
    return meter(used, limit || 1, `${cores} of ${fmtNum(limit)} CPUs`, 'CPU in use');
  }
}

function memoryCell(c) {
  const s = c._stats;
  if (!s) return '<span class="muted">unknown</span>';
  const rss = s.mem_rss_bytes || 0;
  const limit = s.mem_limit_bytes || 0;
  return meter(rss, limit || rss || 1, `${fmtMB(rss / 1048576)} of ${fmtMB(limit / 1048576)}`, 'Memory in use');
}

function containersTable(model, usage, params) {
  const index = taskByContainer(model);
  const rows = (usage.containers || []).map((c) => ({ c, task: index.get(c.container_id.value) || null }));
  return tableHtml({
    id: 'containers',
    caption: 'Containers',
    noun: 'containers',
    prefix: 'c',
    params,
    rows,
    defaultSort: 'container',
    empty: usage.containers ? 'No containers run on this agent.' : '…',
    columns: [
      { key: 'container', label: 'Container', sort: (r) => r.c.container_id.value, cell: (r) => idHtml(r.c.container_id.value) },
      { key: 'task', label: 'Task', sort: (r) => (r.task ? r.task.task_id.value : ''), cell: (r) => (r.task ? `<a href="${taskHref(r.task)}">${esc(r.task.task_id.value)}</a>` : `<span class="muted">${esc(r.c.executor_id ? r.c.executor_id.value : '')}</span>`) },
      { key: 'framework', label: 'Framework', sort: (r) => (r.c.framework_id ? model.frameworkName(r.c.framework_id.value) : ''), cell: (r) => (r.c.framework_id ? frameworkLink(model, r.c.framework_id.value) : ''), className: 'opt' },
      { key: 'cpu', label: 'CPU in use', sort: (r) => usage.cpu.get(r.c.container_id.value) || 0, cell: (r) => usage.cpuCell(r.c), className: 'gauge' },
      { key: 'mem', label: 'Memory in use', sort: (r) => (r.c._stats ? r.c._stats.mem_rss_bytes || 0 : 0), cell: (r) => memoryCell(r.c), className: 'gauge' },
      { key: 'actions', label: 'Actions', cell: (r) => (r.task ? `<span class="actions">${taskButtons(r.task)}</span>` : '') },
    ],
  });
}

/** The agent's containers above its tasks, asked of the agent while the
 * page is shown (and the tab visible). */
function attachContainers(main, ctx, id, instance) {
  const slot = main.querySelector('.containers-slot');
  bindTables(slot, ctx.setParams);
  const usage = new Usage();
  const render = () => {
    if (!ctx.model.agents.has(id)) setHtml(slot, '');
    else setHtml(slot, `<h2>Containers</h2>${usage.statusHtml()}${containersTable(ctx.model, usage, instance.route.params)}`);
  };
  const poller = new Poller(
    async () => {
      const agent = ctx.model.agents.get(id);
      if (!agent) return;
      await usage.read(agentAddress(agent));
      render();
    },
    // A second sample soon after the first: CPU use is a difference.
    () => (usage.measuring() ? 1000 : USAGE_INTERVAL_MS),
  );
  poller.now();
  return { render, destroy: () => poller.stop() };
}

export const agentPage = subjectPage({
  kind: 'agent',
  title: 'Agent',
  tasksLabel: 'Tasks on this agent',
  head: agentHead,
  missing: 'This agent is not registered with the master (it may be gone, unreachable, or not re-registered yet since a failover).',
  before: '<section class="containers-slot" aria-label="Containers on this agent"></section>',
  attach: attachContainers,
});
