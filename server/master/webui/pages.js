// The pages: each `mount(main, route, ctx)` draws its frame once and
// returns `{update(route), render(), destroy()}`: `update` when the URL's
// parameters change, `render` when the model does (paced by app.js).

import {
  esc, TERMINAL, TASK_STATES, stateLabel, stateBadge, badge, fmtInt, fmtNum, fmtMB, fmtTime, fmtDuration,
  timeInfo, scalars, emptyRes, addRes, rangesText, agentAddress, attributes, frameworkRoles, meter, href, seg, holdsResources,
} from './util.js';
import { tableHtml, bindTables, setHtml, filtersHtml, bindFilters, syncFilters, updateOptions } from './table.js';
import { runAction, notify } from './dialog.js';
import { masterCall, agentCall, agentGet } from './api.js';
import { containerId } from './model.js';
import { sandboxPage } from './sandbox.js';

// ------------------------------------------------------------------ links

function frameworkLink(model, id) {
  const name = model.frameworkName(id);
  return `<a href="#/frameworks/${seg(id)}" title="${esc(id)}">${esc(name || id)}</a>`;
}

function agentLink(model, id) {
  const host = model.hostname(id);
  if (!host) return `<span class="muted" title="Not registered">${esc(shortId(id))}</span>`;
  return `<a href="#/agents/${seg(id)}" title="${esc(id)}">${esc(host)}</a>`;
}

function taskHref(task) {
  return `#/tasks/${seg(task.framework_id.value)}/${seg(task.task_id.value)}`;
}

export function sandboxHref(task, file) {
  return href('sandbox', {
    agent: task.agent_id.value,
    framework: task.framework_id.value,
    task: task.task_id.value,
    file,
  });
}

/** The end of a long generated ID, enough to tell IDs apart. */
function shortId(id) {
  return id && id.length > 14 ? `…${id.slice(-12)}` : id || '';
}

function waitingHtml(ctx) {
  const s = ctx.status;
  const why = s.phase === 'down' ? ` (${esc(s.error)})` : '';
  return `<p class="loading">Waiting for the master's state${why}…</p>`;
}

function dl(rows) {
  return `<dl class="facts">${rows
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`)
    .join('')}</dl>`;
}

function resCells(r) {
  return [fmtNum(r.cpus), fmtMB(r.mem), fmtMB(r.disk), fmtNum(r.gpus)];
}

/** Every role some registered framework subscribes with. */
function knownRoles(model) {
  const roles = new Set();
  for (const f of model.frameworks.values()) for (const r of frameworkRoles(f.framework_info)) roles.add(r);
  return [...roles].sort();
}

function taskRole(model, task) {
  for (const r of task.resources || []) {
    if (r.allocation_info && r.allocation_info.role) return r.allocation_info.role;
  }
  const f = model.framework(task.framework_id.value);
  return f ? frameworkRoles(f.framework_info)[0] : '';
}

function agentStatus(agent) {
  if (agent.drain_info) return ['Draining', 'warn'];
  if (agent.deactivated) return ['Deactivated', 'warn'];
  if (!agent.active) return ['Inactive', 'bad'];
  return ['Active', 'good'];
}

/** A page of one filtered, sorted, paged table with its filter bar. */
function listPage({ title, heading, intro, fields, rows, table, onMount }) {
  return {
    title,
    mount(main, route, ctx) {
      const fieldList = fields(ctx.model);
      main.innerHTML = `<div class="page-head"><h1>${esc(heading || title)}</h1><div class="page-tools"></div></div>${intro ? `<p class="intro">${intro}</p>` : ''}${filtersHtml(fieldList, route.params, `Filter ${title.toLowerCase()}`)}<section class="table-slot" aria-label="${esc(title)}"></section>`;
      const slot = main.querySelector('.table-slot');
      bindFilters(main, fieldList, ctx.setParams);
      bindTables(slot, ctx.setParams);
      const instance = {
        title,
        route,
        update(r) {
          instance.route = r;
          syncFilters(main, r.params);
          instance.render();
        },
        render() {
          updateOptions(main, fields(ctx.model), instance.route.params);
          if (!ctx.model.subscribedAt) {
            setHtml(slot, waitingHtml(ctx));
            return;
          }
          const params = instance.route.params;
          setHtml(slot, tableHtml({ ...table(ctx), rows: rows(ctx.model, params), params, cacheKey: `${ctx.model.version}|${params}` }));
        },
        destroy() {
          if (instance.cleanup) instance.cleanup();
        },
      };
      if (onMount) onMount(main, ctx, instance);
      instance.render();
      return instance;
    },
  };
}

// ------------------------------------------------------------------ tasks

function taskFields(model, fixed = {}) {
  const fields = [
    { name: 'q', label: 'ID or name starts with', type: 'search', placeholder: 'e.g. web-' },
    {
      name: 'state',
      label: 'State',
      type: 'select',
      options: [['', 'Any state'], ['live', 'Live (not ended)'], ['ended', 'Ended'], ...TASK_STATES.map((s) => [s, stateLabel(s)])],
    },
  ];
  if (!fixed.framework) {
    const frameworks = [...model.frameworks.values(), ...model.completedFrameworks.values()]
      .map((f) => [f.framework_info.id.value, `${f.framework_info.name} (${shortId(f.framework_info.id.value)})`])
      .sort((a, b) => (a[1] < b[1] ? -1 : 1));
    fields.push({ name: 'framework', label: 'Framework', type: 'select', options: [['', 'Any framework'], ...frameworks] });
    fields.push({ name: 'role', label: 'Role', type: 'select', options: [['', 'Any role'], ...knownRoles(model).map((r) => [r, r])] });
  }
  if (!fixed.agent) fields.push({ name: 'agent', label: 'Agent (hostname or ID)', type: 'search', placeholder: 'hostname' });
  return fields;
}

/** The tasks matching the filters in `params` (and the page's fixed ones). */
function filterTasks(model, params, fixed = {}) {
  const q = (params.get('q') || '').toLowerCase();
  const state = params.get('state') || '';
  const framework = fixed.framework || params.get('framework') || '';
  const role = params.get('role') || '';
  const agentText = fixed.agent ? '' : (params.get('agent') || '').toLowerCase();
  let agents = null;
  if (fixed.agent) agents = new Set([fixed.agent]);
  else if (agentText) {
    agents = new Set();
    for (const [id, a] of model.agents) {
      if (id.toLowerCase() === agentText || a.agent_info.hostname.toLowerCase().startsWith(agentText)) agents.add(id);
    }
  }
  const out = [];
  for (const t of model.tasks.values()) {
    if (state) {
      if (state === 'live') {
        if (TERMINAL.has(t.state)) continue;
      } else if (state === 'ended') {
        if (!TERMINAL.has(t.state)) continue;
      } else if (t.state !== state) continue;
    }
    if (framework && t.framework_id.value !== framework) continue;
    if (agents && !agents.has(t.agent_id.value)) continue;
    if (q && !t.task_id.value.toLowerCase().startsWith(q) && !(t.name || '').toLowerCase().startsWith(q)) continue;
    if (role && taskRole(model, t) !== role) continue;
    out.push(t);
  }
  return out;
}

function taskColumns(model, fixed = {}) {
  const columns = [
    {
      key: 'id',
      label: 'ID',
      sort: (t) => t.task_id.value,
      cell: (t) => `<a href="${taskHref(t)}" class="mono">${esc(t.task_id.value)}</a>`,
    },
    { key: 'name', label: 'Name', sort: (t) => t.name || '', cell: (t) => esc(t.name), className: 'opt' },
    { key: 'state', label: 'State', sort: (t) => t.state, cell: (t) => stateBadge(t.state) },
  ];
  if (!fixed.framework) {
    columns.push({ key: 'framework', label: 'Framework', sort: (t) => model.frameworkName(t.framework_id.value), cell: (t) => frameworkLink(model, t.framework_id.value) });
  }
  if (!fixed.agent) {
    columns.push({ key: 'agent', label: 'Agent', sort: (t) => model.hostname(t.agent_id.value), cell: (t) => agentLink(model, t.agent_id.value) });
  }
  columns.push(
    { key: 'cpus', label: 'CPUs', sort: (t) => t._res.cpus, cell: (t) => fmtNum(t._res.cpus), className: 'num' },
    { key: 'mem', label: 'Mem', sort: (t) => t._res.mem, cell: (t) => fmtMB(t._res.mem), className: 'num opt' },
    { key: 'updated', label: 'Updated', sort: (t) => t._updated, cell: (t) => `<span class="nowrap">${esc(fmtTime(t._updated))}</span>`, className: 'opt' },
    {
      key: 'actions',
      label: 'Actions',
      cell: (t) => {
        const label = esc(t.task_id.value);
        const sandbox = `<a class="button-link" href="${sandboxHref(t)}" aria-label="Sandbox of task ${label}">Sandbox</a>`;
        const kill = TERMINAL.has(t.state)
          ? ''
          : `<button type="button" class="small danger" data-action="kill-task" data-key="${esc(t._key)}" data-fk="kill-${esc(t._key)}" aria-label="Kill task ${label}">Kill</button>`;
        return `<span class="actions">${sandbox}${kill}</span>`;
      },
    },
  );
  return columns;
}

function tasksTable(model, fixed = {}, prefix = '') {
  return {
    id: prefix ? `${prefix}-tasks` : 'tasks',
    caption: 'Tasks',
    noun: 'tasks',
    prefix,
    columns: taskColumns(model, fixed),
    defaultSort: '-updated',
    rowClass: (t) => (TERMINAL.has(t.state) ? 'ended' : ''),
  };
}

const tasks = listPage({
  title: 'Tasks',
  fields: (model) => taskFields(model),
  rows: (model, params) => filterTasks(model, params),
  table: (ctx) => tasksTable(ctx.model),
});

// ------------------------------------------------------------- frameworks

function frameworkStatus(f, completed) {
  if (completed) return badge('Completed', 'neutral');
  const parts = [f.active ? badge('Active', 'good') : badge('Inactive', 'warn')];
  if (!f.connected) parts.push(badge('Disconnected', 'bad'));
  if (f.recovered) parts.push(badge('Recovered', 'neutral'));
  return parts.join(' ');
}

const frameworks = listPage({
  title: 'Frameworks',
  fields: (model) => [
    { name: 'q', label: 'Name or ID starts with', type: 'search', placeholder: 'e.g. spark' },
    { name: 'role', label: 'Role', type: 'select', options: [['', 'Any role'], ...knownRoles(model).map((r) => [r, r])] },
    {
      name: 'status',
      label: 'Status',
      type: 'select',
      options: [['', 'Registered (any status)'], ['active', 'Active'], ['inactive', 'Inactive'], ['disconnected', 'Disconnected'], ['completed', 'Completed']],
    },
  ],
  rows(model, params) {
    const q = (params.get('q') || '').toLowerCase();
    const role = params.get('role') || '';
    const status = params.get('status') || '';
    const source = status === 'completed' ? model.completedFrameworks : model.frameworks;
    const out = [];
    for (const f of source.values()) {
      const info = f.framework_info;
      if (status === 'active' && !f.active) continue;
      if (status === 'inactive' && f.active) continue;
      if (status === 'disconnected' && f.connected) continue;
      if (role && !frameworkRoles(info).includes(role)) continue;
      if (q && !info.name.toLowerCase().startsWith(q) && !info.id.value.toLowerCase().startsWith(q)) continue;
      out.push({ f, completed: status === 'completed' });
    }
    return out;
  },
  table: (ctx) => {
    const model = ctx.model;
    const used = (row) => model.frameworkUsed.get(row.f.framework_info.id.value) || emptyRes();
    return {
      id: 'frameworks',
      caption: 'Frameworks',
      noun: 'frameworks',
      defaultSort: 'name',
      columns: [
        { key: 'name', label: 'Name', sort: (r) => r.f.framework_info.name, cell: (r) => `<a href="#/frameworks/${seg(r.f.framework_info.id.value)}">${esc(r.f.framework_info.name || '(no name)')}</a>` },
        { key: 'id', label: 'ID', sort: (r) => r.f.framework_info.id.value, cell: (r) => `<span class="mono nowrap">${esc(r.f.framework_info.id.value)}</span>`, className: 'opt' },
        { key: 'role', label: 'Role', sort: (r) => frameworkRoles(r.f.framework_info).join(','), cell: (r) => esc(frameworkRoles(r.f.framework_info).join(', ')) },
        { key: 'status', label: 'Status', sort: (r) => `${r.f.active ? 0 : 1}${r.f.connected ? 0 : 1}`, cell: (r) => frameworkStatus(r.f, r.completed) },
        { key: 'tasks', label: 'Tasks', sort: (r) => model.frameworkLive.get(r.f.framework_info.id.value) || 0, cell: (r) => `<a href="${href('tasks', { framework: r.f.framework_info.id.value, state: 'live' })}">${fmtInt(model.frameworkLive.get(r.f.framework_info.id.value) || 0)}</a>`, className: 'num' },
        { key: 'cpus', label: 'CPUs', sort: (r) => used(r).cpus, cell: (r) => fmtNum(used(r).cpus), className: 'num' },
        { key: 'mem', label: 'Mem', sort: (r) => used(r).mem, cell: (r) => fmtMB(used(r).mem), className: 'num' },
        { key: 'disk', label: 'Disk', sort: (r) => used(r).disk, cell: (r) => fmtMB(used(r).disk), className: 'num opt' },
        { key: 'gpus', label: 'GPUs', sort: (r) => used(r).gpus, cell: (r) => fmtNum(used(r).gpus), className: 'num opt' },
        { key: 'offers', label: 'Offers', sort: (r) => (r.f.offers || []).length, cell: (r) => fmtInt((r.f.offers || []).length), className: 'num opt' },
        { key: 'registered', label: 'Registered', sort: (r) => timeInfo(r.f.registered_time), cell: (r) => `<span class="nowrap">${esc(fmtTime(timeInfo(r.f.registered_time)))}</span>`, className: 'opt' },
        {
          key: 'actions',
          label: 'Actions',
          cell: (r) =>
            r.completed
              ? ''
              : `<button type="button" class="small danger" data-action="teardown" data-id="${esc(r.f.framework_info.id.value)}" data-fk="teardown-${esc(r.f.framework_info.id.value)}" aria-label="Tear down framework ${esc(r.f.framework_info.name)}">Tear down</button>`,
        },
      ],
    };
  },
});

function frameworkPage() {
  return {
    title: 'Framework',
    mount(main, route, ctx) {
      const id = route.parts[1];
      const model = ctx.model;
      main.innerHTML = `<div class="subject"></div>${filtersHtml(taskFields(model, { framework: id }), route.params, 'Filter the framework\'s tasks')}<section class="table-slot" aria-label="Tasks of this framework"></section><section class="offers-slot" aria-label="Offers to this framework"></section>`;
      const subject = main.querySelector('.subject');
      const slot = main.querySelector('.table-slot');
      const offersSlot = main.querySelector('.offers-slot');
      bindFilters(main, taskFields(model, { framework: id }), ctx.setParams, 'tpage');
      bindTables(slot, ctx.setParams);
      bindTables(offersSlot, ctx.setParams);
      const instance = {
        title: `Framework ${id}`,
        route,
        update(r) {
          instance.route = r;
          syncFilters(main, r.params);
          instance.render();
        },
        render() {
          if (!model.subscribedAt) {
            setHtml(subject, waitingHtml(ctx));
            return;
          }
          const f = model.framework(id);
          const params = instance.route.params;
          if (!f) {
            setHtml(subject, `<h1>Framework <span class="mono">${esc(id)}</span></h1><p class="notice-inline">The master knows no framework with this ID (it may have been removed long ago).</p>`);
          } else {
            const info = f.framework_info;
            const completed = !model.frameworks.has(id);
            const used = model.frameworkUsed.get(id) || emptyRes();
            const offered = scalars(f.offered_resources);
            const teardown = completed
              ? ''
              : `<button type="button" class="danger" data-action="teardown" data-id="${esc(id)}" data-fk="teardown-page">Tear down</button>`;
            setHtml(
              subject,
              `<div class="page-head"><h1>Framework ${esc(info.name)}</h1><div class="page-tools">${teardown}</div></div>
${dl([
  ['ID', `<span class="mono">${esc(id)}</span>`],
  ['Status', frameworkStatus(f, completed)],
  ['Roles', esc(frameworkRoles(info).join(', '))],
  ['User', esc(info.user)],
  ['Principal', esc(info.principal)],
  ['Hostname', esc(info.hostname)],
  ['Web UI', /^https?:\/\//i.test(info.webui_url || '') ? `<a href="${esc(info.webui_url)}" rel="noopener noreferrer">${esc(info.webui_url)}</a>` : esc(info.webui_url)],
  ['Capabilities', esc((info.capabilities || []).map((c) => c.type).join(', '))],
  ['Failover timeout', info.failover_timeout ? esc(fmtDuration(info.failover_timeout)) : ''],
  ['Registered', esc(fmtTime(timeInfo(f.registered_time)))],
  ['Re-registered', esc(fmtTime(timeInfo(f.reregistered_time)))],
  ['Unregistered', esc(fmtTime(timeInfo(f.unregistered_time)))],
  ['Live tasks', fmtInt(model.frameworkLive.get(id) || 0)],
])}
<table class="data compact resources"><caption>Resources</caption><thead><tr><th scope="col"></th><th scope="col" class="num">CPUs</th><th scope="col" class="num">Mem</th><th scope="col" class="num">Disk</th><th scope="col" class="num">GPUs</th></tr></thead>
<tbody><tr><th scope="row">Used by tasks</th>${resCells(used).map((c) => `<td class="num">${c}</td>`).join('')}</tr>
<tr><th scope="row">Offered</th>${resCells(offered).map((c) => `<td class="num">${c}</td>`).join('')}</tr></tbody></table>
<h2>Tasks</h2>`,
            );
            setHtml(offersSlot, `<h2>Outstanding offers</h2>${tableHtml({ ...offersTable(model, { framework: true }, 'o'), rows: f.offers || [], params, cacheKey: `${model.version}|${params}` })}`);
          }
          setHtml(slot, tableHtml({ ...tasksTable(model, { framework: id }, 't'), rows: filterTasks(model, params, { framework: id }), params, cacheKey: `${model.version}|${params}` }));
        },
      };
      instance.render();
      return instance;
    },
  };
}

// ----------------------------------------------------------------- agents

const agents = listPage({
  title: 'Agents',
  fields: () => [
    { name: 'q', label: 'Hostname or ID starts with', type: 'search', placeholder: 'hostname' },
    { name: 'status', label: 'Status', type: 'select', options: [['', 'Any status'], ['active', 'Active'], ['deactivated', 'Deactivated'], ['inactive', 'Inactive']] },
    { name: 'attribute', label: 'Attribute (key=value)', type: 'search', placeholder: 'rack=r1' },
  ],
  rows(model, params) {
    const q = (params.get('q') || '').toLowerCase();
    const status = params.get('status') || '';
    const attribute = (params.get('attribute') || '').toLowerCase();
    const out = [];
    for (const [id, a] of model.agents) {
      const [label] = agentStatus(a);
      if (status && label.toLowerCase() !== status) continue;
      if (q && !a.agent_info.hostname.toLowerCase().startsWith(q) && !id.toLowerCase().startsWith(q)) continue;
      if (attribute && !attributes(a.agent_info).some((x) => x.toLowerCase().includes(attribute))) continue;
      out.push(a);
    }
    return out;
  },
  table: (ctx) => agentsTable(ctx.model),
});

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
  const gauge = (a, key, fmt, name) => meter(used(a)[key], total(a)[key], `${fmt(used(a)[key])} / ${fmt(total(a)[key])}`, `${name} used on ${a.agent_info.hostname}`);
  return {
    id: 'agents',
    caption: 'Agents',
    noun: 'agents',
    defaultSort: 'hostname',
    columns: [
      { key: 'hostname', label: 'Hostname', sort: (a) => a.agent_info.hostname, cell: (a) => `<a href="#/agents/${seg(id(a))}">${esc(a.agent_info.hostname)}</a>` },
      { key: 'id', label: 'ID', sort: id, cell: (a) => `<span class="mono nowrap">${esc(id(a))}</span>`, className: 'opt' },
      { key: 'status', label: 'Status', sort: (a) => agentStatus(a)[0], cell: (a) => badge(...agentStatus(a)) },
      { key: 'cpus', label: 'CPUs used', sort: (a) => used(a).cpus / (total(a).cpus || 1), cell: (a) => gauge(a, 'cpus', fmtNum, 'CPUs'), className: 'gauge' },
      { key: 'mem', label: 'Mem used', sort: (a) => used(a).mem / (total(a).mem || 1), cell: (a) => gauge(a, 'mem', fmtMB, 'Memory'), className: 'gauge' },
      { key: 'disk', label: 'Disk used', sort: (a) => used(a).disk / (total(a).disk || 1), cell: (a) => gauge(a, 'disk', fmtMB, 'Disk'), className: 'gauge opt' },
      { key: 'gpus', label: 'GPUs', sort: (a) => total(a).gpus, cell: (a) => `${fmtNum(used(a).gpus)} / ${fmtNum(total(a).gpus)}`, className: 'num opt' },
      { key: 'tasks', label: 'Tasks', sort: (a) => model.agentLive.get(id(a)) || 0, cell: (a) => `<a href="${href('tasks', { agent: id(a), state: 'live' })}">${fmtInt(model.agentLive.get(id(a)) || 0)}</a>`, className: 'num' },
      { key: 'attributes', label: 'Attributes', sort: (a) => attributes(a.agent_info).join(' '), cell: (a) => attributes(a.agent_info).map((x) => `<span class="chip">${esc(x)}</span>`).join(' ') || '<span class="muted">—</span>', className: 'opt' },
      { key: 'registered', label: 'Registered', sort: (a) => timeInfo(a.registered_time), cell: (a) => `<span class="nowrap">${esc(fmtTime(timeInfo(a.registered_time)))}</span>`, className: 'opt' },
      { key: 'actions', label: 'Actions', cell: (a) => agentButtons(a, true) },
    ],
  };
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

/** How often the agent page asks the agent for its containers' usage. */
const USAGE_INTERVAL_MS = 3000;

function agentPage() {
  return {
    title: 'Agent',
    mount(main, route, ctx) {
      const id = route.parts[1];
      const model = ctx.model;
      main.innerHTML = `<div class="subject"></div><section class="containers-slot" aria-label="Containers on this agent"></section><h2>Tasks</h2>${filtersHtml(taskFields(model, { agent: id }), route.params, 'Filter the agent\'s tasks')}<section class="table-slot" aria-label="Tasks on this agent"></section>`;
      const subject = main.querySelector('.subject');
      const containersSlot = main.querySelector('.containers-slot');
      const slot = main.querySelector('.table-slot');
      bindFilters(main, taskFields(model, { agent: id }), ctx.setParams, 'tpage');
      bindTables(slot, ctx.setParams);
      bindTables(containersSlot, ctx.setParams);
      const usage = { containers: null, error: '', at: 0, previous: new Map(), cpu: new Map() };
      let timer = null;
      let stopped = false;
      let samples = 0;
      async function poll() {
        timer = null;
        const agent = model.agents.get(id);
        if (agent) {
          const address = agentAddress(agent);
          try {
            const [containers, statistics] = await Promise.all([agentCall(address, { type: 'GET_CONTAINERS' }), agentGet(address, '/monitor/statistics')]);
            const byExecutor = new Map();
            for (const s of statistics || []) byExecutor.set(`${s.framework_id}\n${s.executor_id}`, s.statistics || {});
            const next = new Map();
            for (const c of (containers && containers.get_containers && containers.get_containers.containers) || []) {
              const key = `${c.framework_id && c.framework_id.value}\n${c.executor_id && c.executor_id.value}`;
              const stats = byExecutor.get(key) || c.resource_statistics || null;
              c._stats = stats;
              if (stats) {
                const cpuTime = (stats.cpus_user_time_secs || 0) + (stats.cpus_system_time_secs || 0);
                const before = usage.previous.get(c.container_id.value);
                if (before && stats.timestamp > before.timestamp) usage.cpu.set(c.container_id.value, (cpuTime - before.cpuTime) / (stats.timestamp - before.timestamp));
                next.set(c.container_id.value, { cpuTime, timestamp: stats.timestamp });
              }
            }
            usage.previous = next;
            usage.containers = (containers && containers.get_containers && containers.get_containers.containers) || [];
            usage.error = '';
            usage.at = Date.now();
          } catch (e) {
            usage.error = e.message;
          }
          instance.renderContainers();
        }
        samples += 1;
        // A second sample soon after the first: CPU use is a difference.
        if (!stopped) timer = setTimeout(poll, samples === 1 ? 1000 : USAGE_INTERVAL_MS);
      }
      const instance = {
        title: `Agent ${id}`,
        route,
        update(r) {
          instance.route = r;
          syncFilters(main, r.params);
          instance.render();
        },
        renderContainers() {
          const agent = model.agents.get(id);
          if (!agent) {
            setHtml(containersSlot, '');
            return;
          }
          const params = instance.route.params;
          const status = usage.error
            ? `<p class="notice-inline bad">Cannot read the agent's containers: ${esc(usage.error)}</p>`
            : usage.containers
              ? `<p class="muted small">Usage as read from the agent at ${esc(new Date(usage.at).toLocaleTimeString())}, every ${USAGE_INTERVAL_MS / 1000} s.</p>`
              : '<p class="loading">Asking the agent for its containers…</p>';
          const tasksByContainer = new Map();
          for (const t of model.tasks.values()) {
            if (t.agent_id.value !== id || TERMINAL.has(t.state)) continue;
            const c = containerId(t);
            if (c) tasksByContainer.set(c.value, t);
          }
          const rows = (usage.containers || []).map((c) => ({ c, task: tasksByContainer.get(c.container_id.value) || null }));
          const html = tableHtml({
            id: 'containers',
            caption: 'Containers',
            noun: 'containers',
            prefix: 'c',
            params,
            rows,
            defaultSort: 'container',
            empty: usage.containers ? 'No containers run on this agent.' : '…',
            columns: [
              { key: 'container', label: 'Container', sort: (r) => r.c.container_id.value, cell: (r) => `<span class="mono">${esc(r.c.container_id.value)}</span>` },
              { key: 'task', label: 'Task', sort: (r) => (r.task ? r.task.task_id.value : ''), cell: (r) => (r.task ? `<a href="${taskHref(r.task)}">${esc(r.task.task_id.value)}</a>` : `<span class="muted">${esc(r.c.executor_id ? r.c.executor_id.value : '')}</span>`) },
              { key: 'framework', label: 'Framework', sort: (r) => (r.c.framework_id ? model.frameworkName(r.c.framework_id.value) : ''), cell: (r) => (r.c.framework_id ? frameworkLink(model, r.c.framework_id.value) : ''), className: 'opt' },
              {
                key: 'cpu',
                label: 'CPU in use',
                sort: (r) => usage.cpu.get(r.c.container_id.value) || 0,
                cell: (r) => {
                  const used = usage.cpu.get(r.c.container_id.value);
                  const limit = r.c._stats ? r.c._stats.cpus_limit || 0 : 0;
                  if (used === undefined) return '<span class="muted">measuring…</span>';
                  const cores = used < 1 ? Math.max(0, used).toFixed(3) : fmtNum(used);
                  return meter(used, limit || 1, `${cores} of ${fmtNum(limit)} CPUs`, 'CPU in use');
                },
                className: 'gauge',
              },
              {
                key: 'mem',
                label: 'Memory in use',
                sort: (r) => (r.c._stats ? r.c._stats.mem_rss_bytes || 0 : 0),
                cell: (r) => {
                  const s = r.c._stats;
                  if (!s) return '<span class="muted">unknown</span>';
                  const rss = s.mem_rss_bytes || 0;
                  const limit = s.mem_limit_bytes || 0;
                  return meter(rss, limit || rss || 1, `${fmtMB(rss / 1048576)} of ${fmtMB(limit / 1048576)}`, 'Memory in use');
                },
                className: 'gauge',
              },
              {
                key: 'actions',
                label: 'Actions',
                cell: (r) =>
                  r.task
                    ? `<span class="actions"><a class="button-link" href="${sandboxHref(r.task)}">Sandbox</a><button type="button" class="small danger" data-action="kill-task" data-key="${esc(r.task._key)}" data-fk="ckill-${esc(r.task._key)}" aria-label="Kill task ${esc(r.task.task_id.value)}">Kill</button></span>`
                    : '',
              },
            ],
          });
          setHtml(containersSlot, `<h2>Containers</h2>${status}${html}`);
        },
        render() {
          if (!model.subscribedAt) {
            setHtml(subject, waitingHtml(ctx));
            return;
          }
          const agent = model.agents.get(id);
          const params = instance.route.params;
          if (!agent) {
            setHtml(subject, `<h1>Agent <span class="mono">${esc(id)}</span></h1><p class="notice-inline">This agent is not registered with the master (it may be gone, unreachable, or not re-registered yet since a failover).</p>`);
          } else {
            const info = agent.agent_info;
            const total = scalars(agent.total_resources);
            const used = model.agentUsed.get(id) || emptyRes();
            const offered = scalars(agent.offered_resources);
            const row = (name, key, fmt) =>
              `<tr><th scope="row">${name}</th><td class="num">${fmt(total[key])}</td><td class="num">${fmt(used[key])}</td><td class="num">${fmt(Math.max(0, total[key] - used[key]))}</td><td class="gauge">${meter(used[key], total[key], `${Math.round(total[key] ? (100 * used[key]) / total[key] : 0)}%`, `${name} used`)}</td></tr>`;
            setHtml(
              subject,
              `<div class="page-head"><h1>Agent ${esc(info.hostname)}</h1><div class="page-tools">${agentButtons(agent, false)}</div></div>
${dl([
  ['ID', `<span class="mono">${esc(id)}</span>`],
  ['Status', badge(...agentStatus(agent))],
  ['Address', `<span class="mono">${esc(agentAddress(agent))}</span>`],
  ['Version', esc(agent.version)],
  ['Registered', esc(fmtTime(timeInfo(agent.registered_time)))],
  ['Re-registered', esc(fmtTime(timeInfo(agent.reregistered_time)))],
  ['Attributes', attributes(info).map((x) => `<span class="chip">${esc(x)}</span>`).join(' ') || '<span class="muted">none</span>'],
  ['Other resources', esc(rangesText(agent.total_resources))],
  ['Capabilities', esc((agent.capabilities || []).map((c) => c.type).join(', '))],
  ['Live tasks', fmtInt(model.agentLive.get(id) || 0)],
  ['Offered', offered.cpus || offered.mem ? esc(`${fmtNum(offered.cpus)} CPUs, ${fmtMB(offered.mem)}`) : ''],
])}
<table class="data compact resources"><caption>Resources</caption><thead><tr><th scope="col"></th><th scope="col" class="num">Total</th><th scope="col" class="num">Used</th><th scope="col" class="num">Free</th><th scope="col">Share used</th></tr></thead><tbody>
${row('CPUs', 'cpus', fmtNum)}${row('Memory', 'mem', fmtMB)}${row('Disk', 'disk', fmtMB)}${total.gpus ? row('GPUs', 'gpus', fmtNum) : ''}</tbody></table>`,
            );
          }
          setHtml(slot, tableHtml({ ...tasksTable(model, { agent: id }, 't'), rows: filterTasks(model, params, { agent: id }), params, cacheKey: `${model.version}|${params}` }));
          instance.renderContainers();
        },
        destroy() {
          stopped = true;
          clearTimeout(timer);
        },
      };
      instance.render();
      poll();
      return instance;
    },
  };
}

// ------------------------------------------------------------------ task

function taskPage() {
  return {
    title: 'Task',
    mount(main, route, ctx) {
      const [, frameworkId, taskId] = route.parts;
      const key = `${frameworkId}\n${taskId}`;
      const model = ctx.model;
      const instance = {
        title: `Task ${taskId}`,
        update() {
          instance.render();
        },
        render() {
          if (!model.subscribedAt) {
            setHtml(main, waitingHtml(ctx));
            return;
          }
          const t = model.tasks.get(key);
          if (!t) {
            setHtml(main, `<h1>Task <span class="mono">${esc(taskId)}</span></h1><p class="notice-inline">The master knows no such task of framework <span class="mono">${esc(frameworkId)}</span> (ended tasks are forgotten after a while).</p>`);
            return;
          }
          const res = t._res;
          const container = containerId(t);
          const kill = TERMINAL.has(t.state) ? '' : `<button type="button" class="danger" data-action="kill-task" data-key="${esc(key)}" data-fk="kill-page">Kill</button>`;
          const statuses = [...t.statuses].reverse();
          setHtml(
            main,
            `<div class="page-head"><h1>Task <span class="mono">${esc(taskId)}</span></h1><div class="page-tools"><a class="button-link" href="${sandboxHref(t)}">Sandbox</a><a class="button-link" href="${sandboxHref(t, 'stdout')}">stdout</a><a class="button-link" href="${sandboxHref(t, 'stderr')}">stderr</a>${kill}</div></div>
${dl([
  ['Name', esc(t.name)],
  ['State', stateBadge(t.state)],
  ['Framework', frameworkLink(model, frameworkId)],
  ['Agent', agentLink(model, t.agent_id.value)],
  ['Executor', t.executor_id ? `<span class="mono">${esc(t.executor_id.value)}</span>` : '<span class="muted">command executor</span>'],
  ['Container', container ? `<span class="mono">${esc(container.value)}</span>` : ''],
  ['Role', esc(taskRole(model, t))],
  ['Resources', esc(`${fmtNum(res.cpus)} CPUs, ${fmtMB(res.mem)} mem, ${fmtMB(res.disk)} disk${res.gpus ? `, ${fmtNum(res.gpus)} GPUs` : ''} ${rangesText(t.resources)}`)],
  ['User', esc(t.user)],
  ['Last update', esc(fmtTime(t._updated))],
])}
<h2>Status updates</h2>
<div class="table-wrap"><table class="data"><caption class="visually-hidden">Status updates, newest first</caption><thead><tr><th scope="col">Time</th><th scope="col">State</th><th scope="col">Source</th><th scope="col">Reason</th><th scope="col">Message</th></tr></thead><tbody>
${statuses.map((s) => `<tr><td class="nowrap">${esc(fmtTime(s.timestamp))}</td><td>${stateBadge(s.state)}</td><td>${esc((s.source || '').replace('SOURCE_', '').toLowerCase())}</td><td>${esc((s.reason || '').replace('REASON_', '').toLowerCase())}</td><td>${esc(s.message)}</td></tr>`).join('') || '<tr><td colspan="5" class="empty">No updates yet.</td></tr>'}
</tbody></table></div>`,
          );
        },
      };
      instance.render();
      return instance;
    },
  };
}

// ------------------------------------------------------------------ roles

const roles = listPage({
  title: 'Roles',
  fields: () => [{ name: 'q', label: 'Role starts with', type: 'search', placeholder: 'e.g. analytics' }],
  rows(model, params) {
    const q = (params.get('q') || '').toLowerCase();
    const byRole = new Map();
    const entry = (name) => {
      if (!byRole.has(name)) byRole.set(name, { name, frameworks: new Set(), tasks: 0, used: emptyRes(), weight: null });
      return byRole.get(name);
    };
    for (const f of model.frameworks.values()) for (const r of frameworkRoles(f.framework_info)) entry(r).frameworks.add(f.framework_info.id.value);
    for (const t of model.tasks.values()) {
      if (!holdsResources(t.state)) continue;
      const e = entry(taskRole(model, t) || '*');
      e.tasks += 1;
      addRes(e.used, t._res);
    }
    for (const r of model.roleInfo || []) {
      const e = entry(r.name);
      e.weight = r.weight;
    }
    return [...byRole.values()].filter((r) => !q || r.name.toLowerCase().startsWith(q));
  },
  table: () => ({
    id: 'roles',
    caption: 'Roles',
    noun: 'roles',
    defaultSort: 'name',
    columns: [
      { key: 'name', label: 'Role', sort: (r) => r.name, cell: (r) => `<a href="${href('frameworks', { role: r.name })}">${esc(r.name)}</a>` },
      { key: 'weight', label: 'Weight', sort: (r) => r.weight ?? 1, cell: (r) => (r.weight === null ? '<span class="muted">1</span>' : fmtNum(r.weight)), className: 'num' },
      { key: 'frameworks', label: 'Frameworks', sort: (r) => r.frameworks.size, cell: (r) => fmtInt(r.frameworks.size), className: 'num' },
      { key: 'tasks', label: 'Live tasks', sort: (r) => r.tasks, cell: (r) => `<a href="${href('tasks', { role: r.name, state: 'live' })}">${fmtInt(r.tasks)}</a>`, className: 'num' },
      { key: 'cpus', label: 'CPUs', sort: (r) => r.used.cpus, cell: (r) => fmtNum(r.used.cpus), className: 'num' },
      { key: 'mem', label: 'Mem', sort: (r) => r.used.mem, cell: (r) => fmtMB(r.used.mem), className: 'num' },
      { key: 'disk', label: 'Disk', sort: (r) => r.used.disk, cell: (r) => fmtMB(r.used.disk), className: 'num opt' },
      { key: 'gpus', label: 'GPUs', sort: (r) => r.used.gpus, cell: (r) => fmtNum(r.used.gpus), className: 'num opt' },
    ],
  }),
  onMount(main, ctx) {
    // Weights are not in the event stream; ask once.
    masterCall({ type: 'GET_ROLES' })
      .then((answer) => {
        ctx.model.roleInfo = (answer && answer.get_roles && answer.get_roles.roles) || [];
        ctx.rerender();
      })
      .catch(() => {});
  },
});

// ----------------------------------------------------------------- offers

function offersTable(model, fixed = {}, prefix = '') {
  const res = (o) => {
    if (!o._res) o._res = scalars(o.resources);
    return o._res;
  };
  const columns = [{ key: 'id', label: 'Offer', sort: (o) => o.id.value, cell: (o) => `<span class="mono">${esc(o.id.value)}</span>` }];
  if (!fixed.framework) columns.push({ key: 'framework', label: 'Framework', sort: (o) => model.frameworkName(o.framework_id.value), cell: (o) => frameworkLink(model, o.framework_id.value) });
  columns.push(
    { key: 'agent', label: 'Agent', sort: (o) => o.hostname || model.hostname(o.agent_id.value), cell: (o) => agentLink(model, o.agent_id.value) },
    { key: 'cpus', label: 'CPUs', sort: (o) => res(o).cpus, cell: (o) => fmtNum(res(o).cpus), className: 'num' },
    { key: 'mem', label: 'Mem', sort: (o) => res(o).mem, cell: (o) => fmtMB(res(o).mem), className: 'num' },
    { key: 'disk', label: 'Disk', sort: (o) => res(o).disk, cell: (o) => fmtMB(res(o).disk), className: 'num opt' },
    { key: 'gpus', label: 'GPUs', sort: (o) => res(o).gpus, cell: (o) => fmtNum(res(o).gpus), className: 'num opt' },
    { key: 'other', label: 'Other', cell: (o) => `<span class="small">${esc(rangesText(o.resources))}</span>`, className: 'opt' },
  );
  return { id: prefix ? `${prefix}-offers` : 'offers', caption: 'Offers', noun: 'offers', prefix, defaultSort: 'agent', columns };
}

/** Asks the leader for the frameworks' outstanding offers (they are not in
 * the event stream). */
function refreshOffers(ctx) {
  return masterCall({ type: 'GET_FRAMEWORKS' })
    .then((answer) => ctx.model.refreshOffers(answer && answer.get_frameworks))
    .catch((e) => notify(`Could not read the offers: ${e.message}`, 'bad'));
}

const offers = listPage({
  title: 'Offers',
  heading: 'Outstanding offers',
  fields: (model) => [
    {
      name: 'framework',
      label: 'Framework',
      type: 'select',
      options: [['', 'Any framework'], ...[...model.frameworks.values()].map((f) => [f.framework_info.id.value, f.framework_info.name]).sort((a, b) => (a[1] < b[1] ? -1 : 1))],
    },
    { name: 'agent', label: 'Agent (hostname or ID)', type: 'search', placeholder: 'hostname' },
  ],
  rows(model, params) {
    const framework = params.get('framework') || '';
    const agent = (params.get('agent') || '').toLowerCase();
    return model.offers().filter((o) => {
      if (framework && o.framework_id.value !== framework) return false;
      if (agent && o.agent_id.value.toLowerCase() !== agent && !(o.hostname || model.hostname(o.agent_id.value)).toLowerCase().startsWith(agent)) return false;
      return true;
    });
  },
  table: (ctx) => offersTable(ctx.model),
  onMount(main, ctx, instance) {
    const tools = main.querySelector('.page-tools');
    tools.innerHTML = '<span class="muted small" id="offers-as-of"></span><button type="button" class="secondary" id="refresh-offers">Refresh</button>';
    const asOf = () => {
      const el = main.querySelector('#offers-as-of');
      if (el && ctx.model.offersAt) el.textContent = `As of ${new Date(ctx.model.offersAt).toLocaleTimeString()}`;
    };
    main.querySelector('#refresh-offers').addEventListener('click', () => refreshOffers(ctx).then(asOf));
    refreshOffers(ctx).then(asOf);
    asOf();
    const render = instance.render;
    instance.render = () => {
      render();
      asOf();
    };
  },
});

// --------------------------------------------------------------- overview

function overviewPage() {
  return {
    title: 'Overview',
    mount(main, route, ctx) {
      const model = ctx.model;
      main.innerHTML = '<h1>Cluster</h1><div class="overview"></div>';
      const body = main.querySelector('.overview');
      refreshOffers(ctx);
      const tick = setInterval(() => {
        const el = main.querySelector('#uptime');
        const master = ctx.cluster.master;
        if (el && master && master.start_time) el.textContent = fmtDuration(Date.now() / 1000 - master.start_time);
      }, 1000);
      const instance = {
        title: 'Overview',
        update() {
          instance.render();
        },
        render() {
          if (!model.subscribedAt) {
            setHtml(body, waitingHtml(ctx));
            return;
          }
          const master = ctx.cluster.master;
          const info = master && master.master_info;
          const version = ctx.cluster.version && ctx.cluster.version.version_info;
          let active = 0;
          let deactivated = 0;
          let inactive = 0;
          for (const a of model.agents.values()) {
            if (a.deactivated) deactivated += 1;
            else if (a.active) active += 1;
            else inactive += 1;
          }
          let activeFrameworks = 0;
          for (const f of model.frameworks.values()) if (f.active) activeFrameworks += 1;
          const total = model.total();
          const used = model.used;
          const offered = model.offered();
          const idle = emptyRes();
          addRes(addRes(addRes(idle, total), used, -1), offered, -1);
          for (const k of Object.keys(idle)) idle[k] = Math.max(0, idle[k]);
          const resourceRow = (label, key, fmt) =>
            `<tr><th scope="row">${label}</th><td class="num">${fmt(total[key])}</td><td class="num">${fmt(used[key])}</td><td class="num">${fmt(offered[key])}</td><td class="num">${fmt(idle[key])}</td><td class="gauge">${meter(used[key], total[key], `${Math.round(total[key] ? (100 * used[key]) / total[key] : 0)}%`, `${label} allocated`)}</td></tr>`;
          let live = 0;
          let ended = 0;
          const stateRows = TASK_STATES.filter((s) => model.stateCounts.get(s))
            .map((s) => {
              const n = model.stateCounts.get(s);
              if (TERMINAL.has(s)) ended += n;
              else live += n;
              return `<tr><th scope="row">${stateBadge(s)}</th><td class="num"><a href="${href('tasks', { state: s })}" aria-label="${fmtInt(n)} tasks ${esc(stateLabel(s))}">${fmtInt(n)}</a></td></tr>`;
            })
            .join('');
          const uptime = master && master.start_time ? fmtDuration(Date.now() / 1000 - master.start_time) : '';
          setHtml(
            body,
            `<section class="card" aria-labelledby="leader-heading"><h2 id="leader-heading">Leading master</h2>
${dl([
  ['Address', `<span class="mono" id="overview-leader">${esc(ctx.status.leader)}</span>`],
  ['Hostname', esc(info && (info.hostname || (info.address && info.address.hostname)))],
  ['Version', esc(version ? `${version.version}${version.git_tag ? ` (${version.git_tag})` : ''}` : '')],
  ['Uptime', `<span id="uptime">${esc(uptime)}</span>`],
  ['Started', esc(master ? fmtTime(master.start_time) : '')],
  ['Elected', esc(master ? fmtTime(master.elected_time) : '')],
  ['ID', info ? `<span class="mono">${esc(info.id)}</span>` : ''],
])}
<p class="muted small stream-facts">Event stream since ${esc(new Date(model.subscribedAt).toLocaleTimeString())}: ${fmtInt(model.eventsApplied)} events, ${fmtInt(model.heartbeats)} heartbeat${model.heartbeats === 1 ? '' : 's'}, the last at ${esc(model.lastEventAt ? new Date(model.lastEventAt).toLocaleTimeString() : '—')}.</p></section>
<div class="stack">
<section class="card" aria-labelledby="agents-heading"><h2 id="agents-heading"><a href="#/agents">Agents</a></h2>
<div class="stats">
<a class="stat" href="${href('agents', { status: 'active' })}"><span class="stat-value" id="agents-active">${fmtInt(active)}</span><span class="stat-label">active</span></a>
<a class="stat" href="${href('agents', { status: 'deactivated' })}"><span class="stat-value">${fmtInt(deactivated)}</span><span class="stat-label">deactivated</span></a>
<a class="stat" href="${href('agents', { status: 'inactive' })}"><span class="stat-value">${fmtInt(inactive)}</span><span class="stat-label">inactive</span></a>
</div></section>
<section class="card" aria-labelledby="frameworks-heading"><h2 id="frameworks-heading"><a href="#/frameworks">Frameworks</a></h2>
<div class="stats">
<a class="stat" href="${href('frameworks', { status: 'active' })}"><span class="stat-value">${fmtInt(activeFrameworks)}</span><span class="stat-label">active</span></a>
<a class="stat" href="${href('frameworks', { status: 'inactive' })}"><span class="stat-value">${fmtInt(model.frameworks.size - activeFrameworks)}</span><span class="stat-label">inactive</span></a>
<a class="stat" href="${href('frameworks', { status: 'completed' })}"><span class="stat-value">${fmtInt(model.completedFrameworks.size)}</span><span class="stat-label">completed</span></a>
</div></section>
</div>
<section class="card" aria-labelledby="tasks-heading"><h2 id="tasks-heading"><a href="#/tasks">Tasks</a></h2>
<div class="stats"><a class="stat" href="${href('tasks', { state: 'live' })}"><span class="stat-value">${fmtInt(live)}</span><span class="stat-label">live</span></a><a class="stat" href="${href('tasks', { state: 'ended' })}"><span class="stat-value">${fmtInt(ended)}</span><span class="stat-label">ended</span></a></div>
<table class="data states" id="task-states"><caption class="visually-hidden">Tasks by state</caption><thead><tr><th scope="col">State</th><th scope="col" class="num">Tasks</th></tr></thead><tbody>${stateRows || '<tr><td colspan="2" class="empty">No tasks yet.</td></tr>'}</tbody></table></section>
<section class="card wide" aria-labelledby="resources-heading"><h2 id="resources-heading">Resources</h2>
<div class="table-wrap"><table class="data resources" id="resources"><caption class="visually-hidden">Resources of the cluster</caption><thead><tr><th scope="col"></th><th scope="col" class="num">Total</th><th scope="col" class="num">Allocated</th><th scope="col" class="num">Offered</th><th scope="col" class="num">Idle</th><th scope="col">Allocated share</th></tr></thead><tbody>
${resourceRow('CPUs', 'cpus', fmtNum)}${resourceRow('Memory', 'mem', fmtMB)}${resourceRow('Disk', 'disk', fmtMB)}${resourceRow('GPUs', 'gpus', fmtNum)}
</tbody></table></div>
<p class="muted small">Allocated: what live tasks hold. Offered: outstanding offers as of ${esc(model.offersAt ? new Date(model.offersAt).toLocaleTimeString() : '—')} (offers are not in the event stream; <a href="#/offers">refresh them</a>).</p></section>`,
          );
        },
        destroy() {
          clearInterval(tick);
        },
      };
      instance.render();
      return instance;
    },
  };
}

function notFoundPage() {
  return {
    title: 'Not found',
    mount(main, route) {
      main.innerHTML = `<h1>Nothing here</h1><p>The UI has no page <span class="mono">#/${esc(route.parts.join('/'))}</span>. <a href="#/">Back to the overview</a>.</p>`;
      return { update() {}, render() {} };
    },
  };
}

export const PAGES = {
  overview: overviewPage(),
  frameworks,
  framework: frameworkPage(),
  agents,
  agent: agentPage(),
  tasks,
  task: taskPage(),
  roles,
  offers,
  sandbox: sandboxPage,
  notFound: notFoundPage(),
};

// ---------------------------------------------------------------- actions

async function refreshAgents(ctx) {
  const answer = await masterCall({ type: 'GET_AGENTS' });
  ctx.model.refreshAgents(answer && answer.get_agents);
}

function agentName(ctx, id) {
  return ctx.model.hostname(id) || id;
}

/** What the buttons with `data-action` do; each asks first. */
export const ACTIONS = {
  'kill-task'(ctx, data) {
    const task = ctx.model.tasks.get(data.key);
    if (!task) return;
    const id = task.task_id.value;
    runAction({
      title: 'Kill task',
      body: `<p>Kill task <strong class="mono">${esc(id)}</strong> of framework ${esc(ctx.model.frameworkName(task.framework_id.value) || task.framework_id.value)} on ${esc(agentName(ctx, task.agent_id.value))}?</p><p>Its agent stops the task's container; the task ends <code>TASK_KILLED</code> and its framework is told so.</p>`,
      confirmLabel: 'Kill task',
      success: `Kill sent for task ${id}: it ends TASK_KILLED once its agent has stopped it.`,
      async action() {
        const agent = ctx.model.agents.get(task.agent_id.value);
        if (!agent) throw new Error('its agent is not registered with the master');
        const container = containerId(task);
        if (!container) throw new Error('the task has no container yet (it is still being launched)');
        await agentCall(agentAddress(agent), { type: 'KILL_CONTAINER', kill_container: { container_id: container } });
      },
    });
  },
  teardown(ctx, data) {
    const name = ctx.model.frameworkName(data.id) || data.id;
    const live = ctx.model.frameworkLive.get(data.id) || 0;
    runAction({
      title: 'Tear down framework',
      body: `<p>Tear down framework <strong>${esc(name)}</strong> (<span class="mono">${esc(data.id)}</span>)?</p><p>Its ${fmtInt(live)} live task${live === 1 ? '' : 's'} are killed and it cannot subscribe again with this ID.</p>`,
      confirmLabel: 'Tear down',
      success: `Framework ${name} was torn down.`,
      action: () => masterCall({ type: 'TEARDOWN', teardown: { framework_id: { value: data.id } } }),
    });
  },
  deactivate(ctx, data) {
    const name = agentName(ctx, data.id);
    runAction({
      title: 'Deactivate agent',
      body: `<p>Deactivate agent <strong>${esc(name)}</strong>?</p><p>Its resources are no longer offered; what runs there keeps running.</p>`,
      confirmLabel: 'Deactivate',
      success: `Agent ${name} was deactivated.`,
      async action() {
        await masterCall({ type: 'DEACTIVATE_AGENT', deactivate_agent: { agent_id: { value: data.id } } });
        await refreshAgents(ctx);
      },
    });
  },
  reactivate(ctx, data) {
    const name = agentName(ctx, data.id);
    runAction({
      title: 'Reactivate agent',
      body: `<p>Reactivate agent <strong>${esc(name)}</strong>? Its resources are offered again.</p>`,
      confirmLabel: 'Reactivate',
      success: `Agent ${name} was reactivated.`,
      async action() {
        await masterCall({ type: 'REACTIVATE_AGENT', reactivate_agent: { agent_id: { value: data.id } } });
        await refreshAgents(ctx);
      },
    });
  },
  'mark-gone'(ctx, data) {
    const name = agentName(ctx, data.id);
    runAction({
      title: 'Mark agent gone',
      body: `<p>Mark agent <strong>${esc(name)}</strong> (<span class="mono">${esc(data.id)}</span>) as gone for good?</p><p>Its tasks are reported <code>TASK_GONE_BY_OPERATOR</code> and the agent may never register again with this ID. Do this only when the machine is gone.</p>`,
      confirmLabel: 'Mark gone',
      success: `Agent ${name} was marked gone.`,
      async action() {
        await masterCall({ type: 'MARK_AGENT_GONE', mark_agent_gone: { agent_id: { value: data.id } } });
        await refreshAgents(ctx);
      },
    });
  },
};
