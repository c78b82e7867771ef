// A task's sandbox, read from its agent: the directory listing and a live
// tail of a file (stdout, stderr, ...), which asks the agent every second
// for what was appended since the last read.

import { esc, fmtBytes, fmtTime, agentAddress } from './util.js';
import { agentGet, downloadUrl } from './api.js';
import { tableHtml, bindTables, setHtml } from './table.js';
import { Poller } from './poll.js';
import { agentLink, taskHrefOf } from './pages_common.js';

/** How often the tail asks for more, and how much it reads at once. */
const TAIL_INTERVAL_MS = 1000;
const CHUNK = 256 * 1024;
/** How much of the end of a file the tail shows when it opens. */
const INITIAL_BYTES = 64 * 1024;
/** Text kept in the viewer; older output is dropped from the top. */
const MAX_CHARS = 2 * 1024 * 1024;
const LISTING_INTERVAL_MS = 5000;

function q(path) {
  return encodeURIComponent(path);
}

/** The sandbox directory of a task, from its agent's `/state`. */
async function findSandbox(address, frameworkId, taskId) {
  const state = await agentGet(address, '/state');
  const frameworks = [...(state.frameworks || []), ...(state.completed_frameworks || [])];
  for (const f of frameworks) {
    if (f.id !== frameworkId) continue;
    for (const e of [...(f.executors || []), ...(f.completed_executors || [])]) {
      const lists = [e.tasks, e.queued_tasks, e.completed_tasks];
      if (lists.some((list) => (list || []).some((t) => t.id === taskId)) && e.directory) return e.directory;
    }
  }
  return null;
}

/** Follows one file: reads from where it stopped, every second. The
 * poller reads one round at a time: two would append the same bytes twice. */
class Tail {
  constructor({ address, path, output, status, scroller }) {
    this.address = address;
    this.path = path;
    this.output = output;
    this.status = status;
    this.scroller = scroller;
    this.offset = -1;
    this.chars = 0;
    this.lastRead = 0;
    this.poller = new Poller(() => this.poll(), TAIL_INTERVAL_MS);
  }

  async read(offset, length) {
    const query = `/files/read?path=${q(this.path)}&offset=${offset}${length !== undefined ? `&length=${length}` : ''}`;
    return agentGet(this.address, query);
  }

  /** Starts following, or waits for Follow to be ticked when `paused`. */
  start(paused) {
    this.poller.setPaused(paused);
  }

  stop() {
    this.poller.stop();
  }

  setPaused(paused) {
    this.poller.setPaused(paused);
  }

  append(text) {
    if (!text) return;
    const atBottom = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 24;
    this.output.appendChild(document.createTextNode(text));
    this.chars += text.length;
    if (this.chars > MAX_CHARS) {
      const kept = this.output.textContent.slice(-MAX_CHARS / 2);
      this.output.textContent = kept;
      this.chars = kept.length;
    }
    if (atBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  async poll() {
    try {
      const size = (await this.read(-1)).offset;
      if (this.offset < 0) {
        // Open at the last INITIAL_BYTES, from a line start.
        this.offset = Math.max(0, size - INITIAL_BYTES);
        this.skipPartialLine = this.offset > 0;
      }
      if (size < this.offset) {
        this.output.textContent = '';
        this.chars = 0;
        this.append('[the file was truncated; reading it from the start]\n');
        this.offset = 0;
      }
      while (!this.poller.stopped && this.offset < size) {
        const length = Math.min(CHUNK, size - this.offset);
        const chunk = await this.read(this.offset, length);
        let data = chunk.data || '';
        if (!data) break;
        this.offset += length;
        if (this.skipPartialLine) {
          this.skipPartialLine = false;
          const newline = data.indexOf('\n');
          data = `[… ${fmtBytes(this.offset - length + newline + 1)} earlier not shown]\n${data.slice(newline + 1)}`;
        }
        this.append(data);
      }
      this.lastRead = Date.now();
      this.status.textContent = `${fmtBytes(this.offset)} read · checked ${new Date(this.lastRead).toLocaleTimeString()}`;
      this.status.classList.remove('bad');
    } catch (e) {
      this.status.textContent = e.message.startsWith('404') ? 'The file does not exist (yet); checking again…' : `Cannot read the file: ${e.message}`;
      this.status.classList.add('bad');
    }
  }
}

export const sandboxPage = {
  title: 'Sandbox',
  mount(main, route, ctx) {
    const model = ctx.model;
    const params0 = route.params;
    const agentId = params0.get('agent') || '';
    const frameworkId = params0.get('framework') || '';
    const taskId = params0.get('task') || '';
    main.innerHTML = `<div class="page-head"><h1>Sandbox${taskId ? ` of task <span class="mono">${esc(taskId)}</span>` : ''}</h1><div class="page-tools"></div></div>
<p class="sandbox-where"></p>
<section class="listing" aria-label="Files"></section>
<section class="viewer" aria-label="File" hidden>
  <div class="viewer-head"><h2 class="viewer-title"></h2>
    <div class="viewer-tools">
      <label class="check"><input type="checkbox" id="follow" checked> Follow</label>
      <a class="button-link" id="download" href="#" rel="noopener">Download</a>
      <button type="button" class="secondary" id="close-file">Close</button>
    </div>
  </div>
  <div class="log-scroll" tabindex="0" aria-label="File contents"><pre class="log" id="log"></pre></div>
  <p class="muted small" id="tail-status" role="status"></p>
</section>`;
    const tools = main.querySelector('.page-tools');
    const where = main.querySelector('.sandbox-where');
    const listing = main.querySelector('.listing');
    const viewer = main.querySelector('.viewer');
    bindTables(listing, ctx.setParams);
    const state = { address: '', root: null, error: '', entries: null, listedPath: '', tail: null, tailPath: '', resolving: false, triedAt: 0 };
    const lister = new Poller(list, LISTING_INTERVAL_MS);

    main.querySelector('#follow').addEventListener('change', (e) => {
      if (state.tail) state.tail.setPaused(!e.target.checked);
    });
    main.querySelector('#close-file').addEventListener('click', () => ctx.setParams({ file: '' }));
    listing.addEventListener('click', (event) => {
      const open = event.target.closest('button[data-open]');
      if (open) ctx.setParams({ [open.dataset.kind]: open.dataset.open, ...(open.dataset.kind === 'path' ? { file: '', page: '' } : {}) });
    });

    function currentPath() {
      return instance.route.params.get('path') || state.root;
    }

    function filePath() {
      const file = instance.route.params.get('file');
      if (!file) return '';
      return file.startsWith('/') ? file : `${state.root}/${file}`;
    }

    async function resolveSandbox() {
      if (state.root || state.resolving || !model.subscribedAt || Date.now() - state.triedAt < 3000) return;
      state.triedAt = Date.now();
      const agent = model.agents.get(agentId);
      if (!agent) {
        state.error = 'The agent of this sandbox is not registered with the master.';
        draw();
        return;
      }
      state.address = agentAddress(agent);
      state.resolving = true;
      try {
        if (taskId) {
          state.root = await findSandbox(state.address, frameworkId, taskId);
          if (!state.root) state.error = 'The agent has no sandbox for this task (not started yet, or already cleaned up).';
        } else {
          state.root = instance.route.params.get('path');
        }
      } catch (e) {
        state.error = `Cannot ask the agent where the sandbox is: ${e.message}`;
      }
      state.resolving = false;
      if (state.root) {
        state.error = '';
        lister.now();
        openFile();
      } else draw();
    }

    /** One round of the listing's poller: an update() that changes the
     * path asks for another at once. */
    async function list() {
      const path = currentPath();
      try {
        const entries = await agentGet(state.address, `/files/browse?path=${q(path)}`);
        if (path !== currentPath()) return; // navigated meanwhile: the next round lists it
        state.entries = entries || [];
        state.listedPath = path;
        state.listError = '';
      } catch (e) {
        state.listError = e.message;
        state.entries = state.listedPath === path ? state.entries : [];
        state.listedPath = path;
      }
      if (!lister.stopped) draw();
    }

    function openFile() {
      const path = state.root ? filePath() : '';
      if (path === state.tailPath) return;
      if (state.tail) state.tail.stop();
      state.tail = null;
      state.tailPath = path;
      viewer.hidden = !path;
      if (!path) return;
      const name = path.slice(path.lastIndexOf('/') + 1);
      viewer.querySelector('.viewer-title').textContent = name;
      viewer.querySelector('#download').href = downloadUrl(state.address, path);
      const output = viewer.querySelector('#log');
      output.textContent = '';
      state.tail = new Tail({
        address: state.address,
        path,
        output,
        status: viewer.querySelector('#tail-status'),
        scroller: viewer.querySelector('.log-scroll'),
      });
      state.tail.start(!viewer.querySelector('#follow').checked);
    }

    function draw() {
      where.innerHTML = state.root
        ? `On agent ${agentLink(model, agentId)}${taskId ? ` · <a href="${taskHrefOf(frameworkId, taskId)}">task details</a>` : ''} · <span class="mono small">${esc(state.root)}</span>`
        : '';
      if (state.root && !tools.firstChild) {
        tools.innerHTML = ['stdout', 'stderr'].map((f) => `<button type="button" class="secondary" data-quick="${f}" aria-label="Follow ${f}">${f}</button>`).join('');
        for (const b of tools.querySelectorAll('button[data-quick]')) b.addEventListener('click', () => ctx.setParams({ file: b.dataset.quick }));
      }
      if (state.error) {
        setHtml(listing, `<p class="notice-inline bad">${esc(state.error)}</p>`);
        return;
      }
      if (!state.root || !state.entries) {
        setHtml(listing, '<p class="loading">Asking the agent for the sandbox…</p>');
        return;
      }
      const path = state.listedPath;
      const crumbs = [];
      if (path.startsWith(state.root)) {
        crumbs.push(`<button type="button" class="link" data-open="" data-kind="path">sandbox</button>`);
        let sofar = state.root;
        for (const part of path.slice(state.root.length).split('/').filter(Boolean)) {
          sofar = `${sofar}/${part}`;
          crumbs.push(`<button type="button" class="link" data-open="${esc(sofar)}" data-kind="path">${esc(part)}</button>`);
        }
      } else crumbs.push(`<span class="mono">${esc(path)}</span>`);
      const rows = state.entries.map((e) => ({ ...e, name: e.path.slice(e.path.lastIndexOf('/') + 1), dir: String(e.mode || '').startsWith('d') }));
      const html = tableHtml({
        id: 'files',
        caption: 'Files in the sandbox',
        noun: 'files',
        params: instance.route.params,
        rows,
        defaultSort: 'name',
        columns: [
          {
            key: 'name',
            label: 'Name',
            sort: (e) => `${e.dir ? 0 : 1}${e.name}`,
            cell: (e) =>
              e.dir
                ? `<button type="button" class="link" data-open="${esc(e.path)}" data-kind="path" data-fk="open-${esc(e.path)}">${esc(e.name)}/</button>`
                : `<button type="button" class="link" data-open="${esc(e.path)}" data-kind="file" data-fk="open-${esc(e.path)}" aria-label="Show ${esc(e.name)}">${esc(e.name)}</button>`,
          },
          { key: 'size', label: 'Size', sort: (e) => e.size, cell: (e) => (e.dir ? '' : esc(fmtBytes(e.size))), className: 'num' },
          { key: 'mode', label: 'Mode', sort: (e) => e.mode, cell: (e) => `<span class="mono">${esc(e.mode)}</span>`, className: 'opt' },
          { key: 'mtime', label: 'Modified', sort: (e) => e.mtime, cell: (e) => `<span class="nowrap">${esc(fmtTime(e.mtime))}</span>` },
          { key: 'download', label: 'Download', cell: (e) => (e.dir ? '' : `<a href="${esc(downloadUrl(state.address, e.path))}" aria-label="Download ${esc(e.name)}">Download</a>`) },
        ],
      });
      setHtml(listing, `<nav class="crumbs" aria-label="Directory">${crumbs.join('<span aria-hidden="true"> / </span>')}</nav>${state.listError ? `<p class="notice-inline bad">${esc(state.listError)}</p>` : ''}${html}`);
    }

    const instance = {
      title: `Sandbox of ${taskId || agentId}`,
      route,
      update(r) {
        const pathBefore = state.listedPath;
        instance.route = r;
        if (state.root && currentPath() !== pathBefore) {
          state.entries = null;
          lister.now();
        }
        openFile();
        draw();
      },
      render() {
        if (!state.root && !state.resolving) resolveSandbox();
        draw();
      },
      destroy() {
        lister.stop();
        if (state.tail) state.tail.stop();
      },
    };
    draw();
    resolveSandbox();
    return instance;
  },
};
