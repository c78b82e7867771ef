// The overview: the leading master, counts of agents, frameworks and tasks
// that lead to their pages, and the cluster's resources.

import { esc, TERMINAL, TASK_STATES, stateLabel, stateBadge, fmtInt, fmtTime, fmtDuration, emptyRes, addRes, href } from './util.js';
import { setHtml } from './table.js';
import { waitingHtml, dl, resourceTable, perVersion, AGENT_STATUSES, agentStatus } from './pages_common.js';
import { refreshOffers } from './pages_roles_offers.js';

/** Agents per status, as the agents page filters them. */
const agentCounts = perVersion((model) => {
  const counts = Object.fromEntries(Object.keys(AGENT_STATUSES).map((key) => [key, 0]));
  for (const a of model.agents.values()) counts[agentStatus(a)] += 1;
  return counts;
});

function stat(link, value, label, id) {
  return `<a class="stat" href="${link}"><span class="stat-value"${id ? ` id="${id}"` : ''}>${fmtInt(value)}</span><span class="stat-label">${esc(label)}</span></a>`;
}

function leaderCard(ctx) {
  const model = ctx.model;
  const master = ctx.cluster.master;
  const info = master && master.master_info;
  const version = ctx.cluster.version && ctx.cluster.version.version_info;
  const uptime = master && master.start_time ? fmtDuration(Date.now() / 1000 - master.start_time) : '';
  return `<section class="card" aria-labelledby="leader-heading"><h2 id="leader-heading">Leading master</h2>
${dl([
  ['Address', `<span class="mono" id="overview-leader">${esc(ctx.status.leader)}</span>`],
  ['Hostname', esc(info && (info.hostname || (info.address && info.address.hostname)))],
  ['Version', esc(version ? `${version.version}${version.git_tag ? ` (${version.git_tag})` : ''}` : '')],
  ['Uptime', `<span id="uptime">${esc(uptime)}</span>`],
  ['Started', esc(master ? fmtTime(master.start_time) : '')],
  ['Elected', esc(master ? fmtTime(master.elected_time) : '')],
  ['ID', info ? `<span class="mono">${esc(info.id)}</span>` : ''],
])}
<p class="muted small stream-facts">Event stream since ${esc(new Date(model.subscribedAt).toLocaleTimeString())}: ${fmtInt(model.eventsApplied)} events, ${fmtInt(model.heartbeats)} heartbeat${model.heartbeats === 1 ? '' : 's'}, the last at ${esc(model.lastEventAt ? new Date(model.lastEventAt).toLocaleTimeString() : '—')}.</p></section>`;
}

function countsCards(model) {
  const agents = agentCounts(model);
  // Draining is rare: shown only when some agent is.
  const agentStats = Object.entries(AGENT_STATUSES)
    .filter(([key]) => key !== 'draining' || agents.draining)
    .map(([key, s]) => stat(href('agents', { status: key }), agents[key], s.label.toLowerCase(), `agents-${key}`))
    .join('\n');
  let activeFrameworks = 0;
  for (const f of model.frameworks.values()) if (f.active) activeFrameworks += 1;
  return `<div class="stack">
<section class="card" aria-labelledby="agents-heading"><h2 id="agents-heading"><a href="#/agents">Agents</a></h2>
<div class="stats">
${agentStats}
</div></section>
<section class="card" aria-labelledby="frameworks-heading"><h2 id="frameworks-heading"><a href="#/frameworks">Frameworks</a></h2>
<div class="stats">
${stat(href('frameworks', { status: 'active' }), activeFrameworks, 'active')}
${stat(href('frameworks', { status: 'inactive' }), model.frameworks.size - activeFrameworks, 'inactive')}
${stat(href('frameworks', { status: 'completed' }), model.completedFrameworks.size, 'completed')}
</div></section>
</div>`;
}

function tasksCard(model) {
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
  return `<section class="card" aria-labelledby="tasks-heading"><h2 id="tasks-heading"><a href="#/tasks">Tasks</a></h2>
<div class="stats">${stat(href('tasks', { state: 'live' }), live, 'live')}${stat(href('tasks', { state: 'ended' }), ended, 'ended')}</div>
<table class="data states" id="task-states"><caption class="visually-hidden">Tasks by state</caption><thead><tr><th scope="col">State</th><th scope="col" class="num">Tasks</th></tr></thead><tbody>${stateRows || '<tr><td colspan="2" class="empty">No tasks yet.</td></tr>'}</tbody></table></section>`;
}

function resourcesCard(model) {
  const total = model.total();
  const used = model.used;
  const offered = model.offered();
  const idle = emptyRes();
  addRes(addRes(addRes(idle, total), used, -1), offered, -1);
  for (const k of Object.keys(idle)) idle[k] = Math.max(0, idle[k]);
  return `<section class="card wide" aria-labelledby="resources-heading"><h2 id="resources-heading">Resources</h2>
${resourceTable({
  id: 'resources',
  caption: 'Resources of the cluster',
  wide: true,
  columns: [
    ['Total', total],
    ['Allocated', used],
    ['Offered', offered],
    ['Idle', idle],
  ],
  share: { heading: 'Allocated share', used, total, verb: 'allocated' },
})}
<p class="muted small">Allocated: what live tasks hold. Offered: outstanding offers as of ${esc(model.offersAt ? new Date(model.offersAt).toLocaleTimeString() : '—')} (offers are not in the event stream; <a href="#/offers">refresh them</a>).</p></section>`;
}

export const overviewPage = {
  title: 'Overview',
  mount(main, route, ctx) {
    const model = ctx.model;
    main.innerHTML = '<h1>Cluster</h1><div class="overview"></div>';
    const body = main.querySelector('.overview');
    refreshOffers(ctx);
    const tick = setInterval(() => {
      const el = main.querySelector('#uptime');
      const master = ctx.cluster.master;
      if (el && master && master.start_time && !document.hidden) el.textContent = fmtDuration(Date.now() / 1000 - master.start_time);
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
        setHtml(body, `${leaderCard(ctx)}\n${countsCards(model)}\n${tasksCard(model)}\n${resourcesCard(model)}`);
      },
      destroy() {
        clearInterval(tick);
      },
    };
    instance.render();
    return instance;
  },
};
