// The roles (what their frameworks' live tasks hold, what agents have
// reserved for them, their weights and quotas) and the outstanding offers. Neither weights, quotas nor offers are
// in the event stream: the pages ask the leader for them.

import { esc, fmtInt, fmtNum, fmtMB, emptyRes, addRes, scalars, rangesText, frameworkRoles, holdsResources, href } from './util.js';
import { notify } from './dialog.js';
import { masterCall } from './api.js';
import { idHtml, frameworkLink, agentLink, perVersion, taskRole, listPage } from './pages_common.js';

// ------------------------------------------------------------------ roles

/** `cpus 4 · mem 1.0 GB`, names in order; a dash when there are none. */
function amountsText(amounts) {
  const names = Object.keys(amounts || {}).sort();
  if (!names.length) return '<span class="muted">—</span>';
  const shown = (n) => (n === 'mem' || n === 'disk' ? fmtMB(amounts[n].value) : fmtNum(amounts[n].value));
  return esc(names.map((n) => `${n} ${shown(n)}`).join(' · '));
}

/** The role a resource is reserved for (the last of its stack, or the older
 * `role` field); null when it is not reserved. */
function reservedFor(resource) {
  const stack = resource.reservations || [];
  if (stack.length) return stack[stack.length - 1].role || null;
  return resource.role && resource.role !== '*' ? resource.role : null;
}

/** Every role with its frameworks, live tasks, what they hold, what agents
 * have reserved for it, and its weight: one walk over the tasks and the
 * agents' resources per change of the model. */
const roleTotals = perVersion((model) => {
  const byRole = new Map();
  const entry = (name) => {
    if (!byRole.has(name)) byRole.set(name, { name, frameworks: new Set(), tasks: 0, used: emptyRes(), reserved: {}, weight: null, quota: null });
    return byRole.get(name);
  };
  for (const f of model.frameworks.values()) for (const r of frameworkRoles(f.framework_info)) entry(r).frameworks.add(f.framework_info.id.value);
  for (const t of model.tasks.values()) {
    if (!holdsResources(t.state)) continue;
    const e = entry(taskRole(model, t) || '*');
    e.tasks += 1;
    addRes(e.used, t._res);
  }
  for (const a of model.agents.values()) {
    for (const r of a.total_resources || []) {
      const role = reservedFor(r);
      if (!role || !r.scalar) continue;
      const reserved = entry(role).reserved;
      reserved[r.name] = { value: (reserved[r.name] ? reserved[r.name].value : 0) + (Number(r.scalar.value) || 0) };
    }
  }
  for (const r of model.roleInfo) entry(r.name).weight = r.weight;
  for (const q of model.quotaConfigs) entry(q.role).quota = q;
  return [...byRole.values()];
});

export const roles = listPage({
  title: 'Roles',
  fields: () => [{ name: 'q', label: 'Role starts with', type: 'search', placeholder: 'e.g. analytics' }],
  rows(model, params) {
    const q = (params.get('q') || '').toLowerCase();
    return roleTotals(model).filter((r) => !q || r.name.toLowerCase().startsWith(q));
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
      { key: 'reserved', label: 'Reserved', cell: (r) => amountsText(r.reserved), className: 'opt' },
      { key: 'guarantee', label: 'Guaranteed', cell: (r) => amountsText(r.quota && r.quota.guarantees), className: 'opt' },
      { key: 'limit', label: 'Limited to', cell: (r) => amountsText(r.quota && r.quota.limits), className: 'opt' },
    ],
  }),
  onMount(main, ctx) {
    // Reservations change agents' resources without an event of their own.
    masterCall({ type: 'GET_AGENTS' })
      .then((answer) => ctx.model.refreshAgents(answer && answer.get_agents))
      .catch(() => {});
    masterCall({ type: 'GET_ROLES' })
      .then((answer) => ctx.model.refreshRoles(answer && answer.get_roles))
      .catch(() => {});
    masterCall({ type: 'GET_QUOTA' })
      .then((answer) => ctx.model.refreshQuota(answer && answer.get_quota))
      .catch(() => {});
  },
});

// ----------------------------------------------------------------- offers

/** An offers table (without its rows); `fixed.framework` leaves out the
 * framework column on that framework's page. */
export function offersTable(model, fixed = {}, prefix = '') {
  const res = (o) => {
    if (!o._res) o._res = scalars(o.resources);
    return o._res;
  };
  const columns = [{ key: 'id', label: 'Offer', sort: (o) => o.id.value, cell: (o) => idHtml(o.id.value) }];
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

/** Asks the leader for the frameworks' outstanding offers. */
export function refreshOffers(ctx) {
  return masterCall({ type: 'GET_FRAMEWORKS' })
    .then((answer) => ctx.model.refreshOffers(answer && answer.get_frameworks))
    .catch((e) => notify(`Could not read the offers: ${e.message}`, 'bad'));
}

export const offers = listPage({
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
