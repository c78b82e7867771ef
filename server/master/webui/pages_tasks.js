// The tasks: the table of all of them (also drawn on a framework's or an
// agent's page, with that one fixed) and the page of one task.

import { esc, TERMINAL, TASK_STATES, stateLabel, stateBadge, fmtNum, fmtMB, fmtTime, rangesText } from './util.js';
import { setHtml } from './table.js';
import { containerId, taskKey } from './model.js';
import { shortId, frameworkLink, agentLink, taskHref, taskButtons, waitingHtml, dl, knownRoles, taskRole, listPage } from './pages_common.js';

/** The filters of a tasks table; `fixed` names the framework or agent the
 * page is about, which needs no filter. */
export function taskFields(model, fixed = {}) {
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
export function filterTasks(model, params, fixed = {}) {
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
    { key: 'actions', label: 'Actions', cell: (t) => `<span class="actions">${taskButtons(t)}</span>` },
  );
  return columns;
}

/** A tasks table (without its rows); `prefix` tells its sort and page
 * parameters from those of other tables on the page. */
export function tasksTable(model, fixed = {}, prefix = '') {
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

export const tasks = listPage({
  title: 'Tasks',
  fields: (model) => taskFields(model),
  rows: (model, params) => filterTasks(model, params),
  table: (ctx) => tasksTable(ctx.model),
});

function statusRow(s) {
  const word = (text, prefix) => esc((text || '').replace(prefix, '').toLowerCase());
  return `<tr><td class="nowrap">${esc(fmtTime(s.timestamp))}</td><td>${stateBadge(s.state)}</td><td>${word(s.source, 'SOURCE_')}</td><td>${word(s.reason, 'REASON_')}</td><td>${esc(s.message)}</td></tr>`;
}

export const taskPage = {
  title: 'Task',
  mount(main, route, ctx) {
    const [, frameworkId, taskId] = route.parts;
    const key = taskKey(frameworkId, taskId);
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
        const statuses = [...t.statuses].reverse();
        setHtml(
          main,
          `<div class="page-head"><h1>Task <span class="mono">${esc(taskId)}</span></h1><div class="page-tools">${taskButtons(t, { small: false, files: true })}</div></div>
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
${statuses.map(statusRow).join('') || '<tr><td colspan="5" class="empty">No updates yet.</td></tr>'}
</tbody></table></div>`,
        );
      },
    };
    instance.render();
    return instance;
  },
};
