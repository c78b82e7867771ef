// What the pages share: links to frameworks, agents, tasks and sandboxes;
// IDs that fit a table cell; facts and resource tables; what an agent's
// status is; a task's buttons; and the page of one filtered table that
// most pages are. Each page is a `mount(main, route, ctx)` that draws its
// frame once and returns `{update(route), render(), destroy()}`: `update`
// when the URL's parameters change, `render` when the model does (paced by
// app.js).

import { esc, badge, fmtNum, fmtMB, meter, href, seg, frameworkRoles, TERMINAL } from './util.js';
import { tableHtml, bindTables, setHtml, filtersHtml, bindFilters, syncFilters, updateOptions } from './table.js';

// ------------------------------------------------------------------ links

/** The end of a long generated ID, enough to tell IDs apart. */
export function shortId(id) {
  return id && id.length > 14 ? `…${id.slice(-12)}` : id || '';
}

/**
 * An ID in a table cell. A long one shows its start and its end (where
 * generated IDs differ, as in `…-S3`), the middle elided by CSS; the text
 * stays whole, to select, copy and find, and its tooltip shows it too.
 */
export function idHtml(id) {
  const text = id || '';
  if (text.length <= 20) return `<span class="mono id">${esc(text)}</span>`;
  return `<span class="mono id" title="${esc(text)}"><span class="id-head">${esc(text.slice(0, -8))}</span>${esc(text.slice(-8))}</span>`;
}

export function frameworkLink(model, id) {
  const name = model.frameworkName(id);
  return `<a href="#/frameworks/${seg(id)}" title="${esc(id)}">${esc(name || id)}</a>`;
}

export function agentLink(model, id) {
  const host = model.hostname(id);
  if (!host) return `<span class="muted" title="Not registered">${esc(shortId(id))}</span>`;
  return `<a href="#/agents/${seg(id)}" title="${esc(id)}" class="ellipsis">${esc(host)}</a>`;
}

export function taskHrefOf(frameworkId, taskId) {
  return `#/tasks/${seg(frameworkId)}/${seg(taskId)}`;
}

export function taskHref(task) {
  return taskHrefOf(task.framework_id.value, task.task_id.value);
}

export function sandboxHref(task, file) {
  return href('sandbox', {
    agent: task.agent_id.value,
    framework: task.framework_id.value,
    task: task.task_id.value,
    file,
  });
}

/** A task's sandbox link (and its stdout and stderr, with `files`) and,
 * while the task lives, the button that kills it. */
export function taskButtons(task, { small = true, files = false } = {}) {
  const id = esc(task.task_id.value);
  const links = [['', 'Sandbox'], ...(files ? [['stdout', 'stdout'], ['stderr', 'stderr']] : [])]
    .map(([file, text]) => `<a class="button-link" href="${sandboxHref(task, file)}" aria-label="${text} of task ${id}">${text}</a>`)
    .join('');
  const key = esc(task._key);
  const kill = TERMINAL.has(task.state)
    ? ''
    : `<button type="button" class="${small ? 'small ' : ''}danger" data-action="kill-task" data-key="${key}" data-fk="kill-${key}" aria-label="Kill task ${id}">Kill</button>`;
  return links + kill;
}

// ------------------------------------------------------------------ facts

export function waitingHtml(ctx) {
  const s = ctx.status;
  const why = s.phase === 'down' ? ` (${esc(s.error)})` : '';
  return `<p class="loading">Waiting for the master's state${why}…</p>`;
}

export function dl(rows) {
  return `<dl class="facts">${rows
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`)
    .join('')}</dl>`;
}

const RESOURCE_KINDS = [
  ['CPUs', 'cpus', fmtNum],
  ['Memory', 'mem', fmtMB],
  ['Disk', 'disk', fmtMB],
  ['GPUs', 'gpus', fmtNum],
];

/**
 * A table of resources with a row per kind (GPUs only where there are
 * some). `columns`: `[[heading, {cpus, mem, disk, gpus}]]`. `share`
 * (`{heading, used, total, verb}`) adds a bar of used out of total, each
 * named `<kind> <verb>`. A `wide` table fills its card; others fit their
 * figures and show their caption.
 */
export function resourceTable({ id, caption, columns, share, wide = false }) {
  const kinds = RESOURCE_KINDS.filter(([, key]) => key !== 'gpus' || columns.some(([, res]) => res.gpus));
  const head = `<tr><th scope="col"></th>${columns.map(([heading]) => `<th scope="col" class="num">${esc(heading)}</th>`).join('')}${share ? `<th scope="col">${esc(share.heading)}</th>` : ''}</tr>`;
  const rows = kinds
    .map(([label, key, fmt]) => {
      const cells = columns.map(([, res]) => `<td class="num">${fmt(res[key])}</td>`).join('');
      const used = share && share.used[key];
      const total = share && share.total[key];
      const bar = share ? `<td class="gauge">${meter(used, total, `${Math.round(total ? (100 * used) / total : 0)}%`, `${label} ${share.verb}`)}</td>` : '';
      return `<tr><th scope="row">${label}</th>${cells}${bar}</tr>`;
    })
    .join('');
  const table = `<table class="data ${wide ? '' : 'compact '}resources"${id ? ` id="${esc(id)}"` : ''}><caption${wide ? ' class="visually-hidden"' : ''}>${esc(caption)}</caption><thead>${head}</thead><tbody>${rows}</tbody></table>`;
  return wide ? `<div class="table-wrap">${table}</div>` : table;
}

// ------------------------------------------------------------ the cluster

/** `fn(model)`, computed again only when the model changed: for what a
 * page derives from every task or agent. */
export function perVersion(fn) {
  let version = -1;
  let value;
  return (model) => {
    if (model.version !== version) {
      value = fn(model);
      version = model.version;
    }
    return value;
  };
}

/** Every role some registered framework subscribes with. */
export function knownRoles(model) {
  const roles = new Set();
  for (const f of model.frameworks.values()) for (const r of frameworkRoles(f.framework_info)) roles.add(r);
  return [...roles].sort();
}

export function taskRole(model, task) {
  for (const r of task.resources || []) {
    if (r.allocation_info && r.allocation_info.role) return r.allocation_info.role;
  }
  const f = model.framework(task.framework_id.value);
  return f ? frameworkRoles(f.framework_info)[0] : '';
}

/** What an agent can be, as the overview counts and the agents page filters. */
export const AGENT_STATUSES = {
  active: { label: 'Active', kind: 'good' },
  draining: { label: 'Draining', kind: 'warn' },
  deactivated: { label: 'Deactivated', kind: 'warn' },
  inactive: { label: 'Inactive', kind: 'bad' },
};

/** Which of AGENT_STATUSES an agent is in. A draining agent is deactivated
 * too, and a deactivated one may be disconnected as well: the first that
 * applies names it. */
export function agentStatus(agent) {
  if (agent.drain_info) return 'draining';
  if (agent.deactivated) return 'deactivated';
  if (!agent.active) return 'inactive';
  return 'active';
}

export function agentBadge(agent) {
  const { label, kind } = AGENT_STATUSES[agentStatus(agent)];
  return badge(label, kind);
}

// ------------------------------------------------------------------ pages

/** A page of one filtered, sorted, paged table with its filter bar. */
export function listPage({ title, heading, intro, fields, rows, table, onMount }) {
  return {
    title,
    mount(main, route, ctx) {
      const fieldList = fields(ctx.model);
      main.innerHTML = `<div class="page-head"><h1>${esc(heading || title)}</h1><div class="page-tools"></div></div>${intro ? `<p class="intro">${intro}</p>` : ''}${filtersHtml(fieldList, route.params, `Filter ${title.toLowerCase()}`)}<section class="table-slot" aria-label="${esc(title)}"></section>`;
      const slot = main.querySelector('.table-slot');
      bindFilters(main, fieldList, ctx.setParams);
      bindTables(slot, ctx.setParams);
      const cache = {};
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
          setHtml(slot, tableHtml({ ...table(ctx), rows: () => rows(ctx.model, params), params, cache, cacheKey: ctx.model.version }));
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

export const notFoundPage = {
  title: 'Not found',
  mount(main, route) {
    main.innerHTML = `<h1>Nothing here</h1><p>The UI has no page <span class="mono">#/${esc(route.parts.join('/'))}</span>. <a href="#/">Back to the overview</a>.</p>`;
    return { update() {}, render() {} };
  },
};
