// The web UI's entry point: the event stream feeding the model, the hash
// router (`#/tasks?state=TASK_RUNNING`), the connection banner, and
// rendering paced to what the browser can keep up with.

import { Model } from './model.js';
import { Subscription } from './stream.js';
import { masterCall } from './api.js';
import { PAGES, ACTIONS } from './pages.js';
import { esc, fmtDuration } from './util.js';

const model = new Model();
const main = document.getElementById('main');
const banner = document.getElementById('banner');
const connection = document.getElementById('connection');

/** What the pages share: the model, the connection, the master's facts. */
const ctx = {
  model,
  status: { phase: 'connecting', leader: '', error: '' },
  cluster: { master: null, version: null },
  route: null,
  setParams,
  rerender: () => scheduleRender(),
};

/** Timings for tests and benchmarks (milliseconds since navigation). */
const timings = { subscribed: 0, firstRender: 0, renders: 0, lastRenderMs: 0 };
window.meseta = { model, ctx, timings };

// ---------------------------------------------------------------- routing

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const mark = raw.indexOf('?');
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const query = mark < 0 ? '' : raw.slice(mark + 1);
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, params: new URLSearchParams(query) };
}

const TOP_LEVEL = new Set(['overview', 'frameworks', 'agents', 'tasks', 'roles', 'offers', 'sandbox']);

/** Which page a route shows, and what identifies its subject. */
function resolve(route) {
  const [first = '', ...rest] = route.parts;
  const name = first || 'overview';
  if (name === 'frameworks' && rest.length === 1) return { page: 'framework', id: rest[0] };
  if (name === 'agents' && rest.length === 1) return { page: 'agent', id: rest[0] };
  if (name === 'tasks' && rest.length === 2) return { page: 'task', id: rest.join('\n') };
  if (TOP_LEVEL.has(name) && rest.length === 0) return { page: name, id: '' };
  return { page: 'notFound', id: route.parts.join('/') };
}

let current = null; // {page, id, instance}

function show() {
  const route = parseHash();
  ctx.route = route;
  const target = resolve(route);
  route.target = target;
  for (const link of document.querySelectorAll('[data-nav]')) {
    const section = { framework: 'frameworks', agent: 'agents', task: 'tasks', sandbox: 'tasks' }[target.page] || target.page;
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (current && current.page === target.page && current.id === target.id) {
    current.instance.update(route);
    return;
  }
  if (current && current.instance.destroy) current.instance.destroy();
  main.innerHTML = '';
  const page = PAGES[target.page];
  const instance = page.mount(main, route, ctx);
  current = { page: target.page, id: target.id, instance };
  document.title = `${instance.title || page.title} · Meseta`;
  window.scrollTo(0, 0);
}

/** Changes parameters of the current view (filters, sorting, paging) in
 * place: the hash is replaced, the page re-renders what depends on them. */
function setParams(changes) {
  const route = ctx.route;
  for (const [key, value] of Object.entries(changes)) {
    if (value === '' || value === null || value === undefined) route.params.delete(key);
    else route.params.set(key, value);
  }
  const query = route.params.toString();
  const path = route.parts.map(encodeURIComponent).join('/');
  history.replaceState(null, '', `#/${path}${query ? `?${query}` : ''}`);
  if (current) current.instance.update(route);
}

window.addEventListener('hashchange', show);

// -------------------------------------------------------------- rendering

let renderTimer = null;
let lastRenderEnd = 0;

/** Renders the current page soon: at once when idle, else spaced by a
 * few times what the last render took, so bursts of events coalesce. */
function scheduleRender() {
  if (renderTimer !== null) return;
  const gap = Math.min(1000, Math.max(40, timings.lastRenderMs * 3));
  const wait = Math.max(0, lastRenderEnd + gap - performance.now());
  renderTimer = setTimeout(render, wait);
}

function render() {
  renderTimer = null;
  if (document.hidden) return; // picked up on visibilitychange
  const start = performance.now();
  if (current && current.instance.render) current.instance.render();
  const end = performance.now();
  timings.lastRenderMs = end - start;
  timings.renders += 1;
  timings.renderedVersion = model.version;
  if (!timings.firstRender && model.subscribedAt) timings.firstRender = end;
  lastRenderEnd = end;
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) scheduleRender();
});

model.listen(() => scheduleRender());

// ------------------------------------------------------------- connection

function showStatus() {
  const s = ctx.status;
  if (s.phase === 'live') {
    connection.innerHTML = `<span class="dot live" aria-hidden="true"></span>Live · leader <span id="leader-address">${esc(s.leader)}</span>`;
    banner.hidden = true;
    banner.textContent = '';
    return;
  }
  if (s.phase === 'connecting') {
    connection.innerHTML = `<span class="dot" aria-hidden="true"></span>Connecting…`;
    return;
  }
  connection.innerHTML = `<span class="dot down" aria-hidden="true"></span>Reconnecting…`;
  const wait = s.retryAt ? Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000)) : 0;
  const when = wait > 0 ? `Trying again in ${wait} s` : 'Reconnecting now';
  const age = model.lastEventAt ? ` The figures below are as of ${fmtDuration((Date.now() - model.lastEventAt) / 1000)} ago.` : '';
  banner.innerHTML = `<strong>Not connected to the leading master</strong>: ${esc(s.error || 'connection lost')}. ${when} (attempt ${s.attempt}).${esc(age)}`;
  banner.hidden = false;
}

// The banner's countdown; nobody reads it in a hidden tab.
setInterval(() => {
  if (document.hidden) return;
  if (ctx.status.phase === 'down' || ctx.status.phase === 'stale') showStatus();
}, 1000);

/** Facts about the leader the stream does not carry, asked once per subscription. */
async function learnLeader() {
  const [master, version] = await Promise.allSettled([masterCall({ type: 'GET_MASTER' }), masterCall({ type: 'GET_VERSION' })]);
  ctx.cluster = {
    master: master.status === 'fulfilled' && master.value ? master.value.get_master : null,
    version: version.status === 'fulfilled' && version.value ? version.value.get_version : null,
  };
  scheduleRender();
}

const subscription = new Subscription({
  onEvent(event) {
    if (event.type !== 'SUBSCRIBED') {
      model.apply(event);
      return;
    }
    const start = performance.now();
    model.apply(event);
    timings.subscribed = performance.now();
    timings.stream = { ...subscription.timing, applied: timings.subscribed, applyMs: timings.subscribed - start };
    learnLeader();
    // The first render after a (re)subscription at once.
    if (renderTimer !== null) {
      clearTimeout(renderTimer);
      renderTimer = null;
    }
    render();
    timings.firstRenderMs = performance.now() - timings.subscribed;
  },
  onStatus(status) {
    ctx.status = status;
    showStatus();
    scheduleRender();
  },
});
window.meseta.subscription = subscription;

// --------------------------------------------------------------- actions

main.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button || !main.contains(button)) return;
  const action = ACTIONS[button.dataset.action];
  if (action) action(ctx, button.dataset);
});

document.getElementById('skip').addEventListener('click', () => main.focus());

show();
subscription.start();
