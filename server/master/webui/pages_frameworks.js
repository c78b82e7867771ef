// The frameworks, registered or completed, and the page of one framework
// with its tasks and its outstanding offers.

import { esc, badge, fmtInt, fmtNum, fmtMB, fmtTime, fmtDuration, timeInfo, emptyRes, scalars, frameworkRoles, href } from './util.js';
import { tableHtml, bindTables, setHtml } from './table.js';
import { idHtml, frameworkLink, dl, resourceTable, knownRoles, listPage } from './pages_common.js';
import { subjectPage } from './pages_subject.js';
import { offersTable } from './pages_roles_offers.js';

function frameworkStatus(f, completed) {
  if (completed) return badge('Completed', 'neutral');
  const parts = [f.active ? badge('Active', 'good') : badge('Inactive', 'warn')];
  if (!f.connected) parts.push(badge('Disconnected', 'bad'));
  if (f.recovered) parts.push(badge('Recovered', 'neutral'));
  return parts.join(' ');
}

function teardownButton(info, { small }) {
  const id = esc(info.id.value);
  return `<button type="button" class="${small ? 'small ' : ''}danger" data-action="teardown" data-id="${id}" data-fk="teardown-${id}" aria-label="Tear down framework ${esc(info.name)}">Tear down</button>`;
}

function frameworksTable(model) {
  const id = (r) => r.f.framework_info.id.value;
  const used = (r) => model.frameworkUsed.get(id(r)) || emptyRes();
  const live = (r) => model.frameworkLive.get(id(r)) || 0;
  return {
    id: 'frameworks',
    caption: 'Frameworks',
    noun: 'frameworks',
    defaultSort: 'name',
    columns: [
      { key: 'name', label: 'Name', sort: (r) => r.f.framework_info.name, cell: (r) => frameworkLink(model, id(r)) },
      { key: 'id', label: 'ID', sort: id, cell: (r) => idHtml(id(r)), className: 'opt' },
      { key: 'role', label: 'Role', sort: (r) => frameworkRoles(r.f.framework_info).join(','), cell: (r) => esc(frameworkRoles(r.f.framework_info).join(', ')) },
      { key: 'status', label: 'Status', sort: (r) => `${r.f.active ? 0 : 1}${r.f.connected ? 0 : 1}`, cell: (r) => frameworkStatus(r.f, r.completed) },
      { key: 'tasks', label: 'Tasks', sort: live, cell: (r) => `<a href="${href('tasks', { framework: id(r), state: 'live' })}">${fmtInt(live(r))}</a>`, className: 'num' },
      { key: 'cpus', label: 'CPUs', sort: (r) => used(r).cpus, cell: (r) => fmtNum(used(r).cpus), className: 'num' },
      { key: 'mem', label: 'Mem', sort: (r) => used(r).mem, cell: (r) => fmtMB(used(r).mem), className: 'num' },
      { key: 'disk', label: 'Disk', sort: (r) => used(r).disk, cell: (r) => fmtMB(used(r).disk), className: 'num opt' },
      { key: 'gpus', label: 'GPUs', sort: (r) => used(r).gpus, cell: (r) => fmtNum(used(r).gpus), className: 'num opt' },
      { key: 'offers', label: 'Offers', sort: (r) => (r.f.offers || []).length, cell: (r) => fmtInt((r.f.offers || []).length), className: 'num opt' },
      { key: 'registered', label: 'Registered', sort: (r) => timeInfo(r.f.registered_time), cell: (r) => `<span class="nowrap">${esc(fmtTime(timeInfo(r.f.registered_time)))}</span>`, className: 'opt' },
      { key: 'actions', label: 'Actions', cell: (r) => (r.completed ? '' : teardownButton(r.f.framework_info, { small: true })) },
    ],
  };
}

export const frameworks = listPage({
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
  table: (ctx) => frameworksTable(ctx.model),
});

function frameworkHead(model, id) {
  const f = model.framework(id);
  if (!f) return null;
  const info = f.framework_info;
  const completed = !model.frameworks.has(id);
  const webui = /^https?:\/\//i.test(info.webui_url || '') ? `<a href="${esc(info.webui_url)}" rel="noopener noreferrer">${esc(info.webui_url)}</a>` : esc(info.webui_url);
  return `<div class="page-head"><h1>Framework ${esc(info.name)}</h1><div class="page-tools">${completed ? '' : teardownButton(info, { small: false })}</div></div>
${dl([
  ['ID', `<span class="mono">${esc(id)}</span>`],
  ['Status', frameworkStatus(f, completed)],
  ['Roles', esc(frameworkRoles(info).join(', '))],
  ['User', esc(info.user)],
  ['Principal', esc(info.principal)],
  ['Hostname', esc(info.hostname)],
  ['Web UI', webui],
  ['Capabilities', esc((info.capabilities || []).map((c) => c.type).join(', '))],
  ['Failover timeout', info.failover_timeout ? esc(fmtDuration(info.failover_timeout)) : ''],
  ['Registered', esc(fmtTime(timeInfo(f.registered_time)))],
  ['Re-registered', esc(fmtTime(timeInfo(f.reregistered_time)))],
  ['Unregistered', esc(fmtTime(timeInfo(f.unregistered_time)))],
  ['Live tasks', fmtInt(model.frameworkLive.get(id) || 0)],
])}
${resourceTable({
  caption: 'Resources',
  columns: [
    ['Used by tasks', model.frameworkUsed.get(id) || emptyRes()],
    ['Offered', scalars(f.offered_resources)],
  ],
})}`;
}

/** The framework's outstanding offers, under its tasks. */
function attachOffers(main, ctx, id, instance) {
  const slot = main.querySelector('.offers-slot');
  bindTables(slot, ctx.setParams);
  return {
    render() {
      const f = ctx.model.framework(id);
      const table = { ...offersTable(ctx.model, { framework: true }, 'o'), rows: (f && f.offers) || [], params: instance.route.params };
      setHtml(slot, f ? `<h2>Outstanding offers</h2>${tableHtml(table)}` : '');
    },
  };
}

export const frameworkPage = subjectPage({
  kind: 'framework',
  title: 'Framework',
  tasksLabel: 'Tasks of this framework',
  head: frameworkHead,
  missing: 'The master knows no framework with this ID (it may have been removed long ago).',
  after: '<section class="offers-slot" aria-label="Offers to this framework"></section>',
  attach: attachOffers,
});
