// Small helpers shared by the modules: escaping, formatting, resources.

/** Escapes text for HTML (element content and quoted attributes). */
export function esc(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Task states after which a task holds nothing and changes no more. */
export const TERMINAL = new Set([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
]);

/** Every task state, in the order a task usually goes through them. */
export const TASK_STATES = [
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_KILLING',
  'TASK_UNREACHABLE',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
];

/** Whether a task in `state` holds resources on its agent. */
export function holdsResources(state) {
  return !TERMINAL.has(state) && state !== 'TASK_UNREACHABLE';
}

/** `TASK_RUNNING` -> `Running`. */
export function stateLabel(state) {
  const words = String(state || 'unknown').replace(/^TASK_/, '').toLowerCase().split('_');
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A badge for a task state (colour by kind, text for everyone). */
export function stateBadge(state) {
  let kind = 'neutral';
  if (state === 'TASK_RUNNING') kind = 'good';
  else if (state === 'TASK_FINISHED') kind = 'done';
  else if (['TASK_FAILED', 'TASK_ERROR', 'TASK_LOST', 'TASK_GONE', 'TASK_DROPPED'].includes(state)) kind = 'bad';
  else if (['TASK_KILLED', 'TASK_KILLING', 'TASK_GONE_BY_OPERATOR', 'TASK_UNREACHABLE'].includes(state)) kind = 'warn';
  return `<span class="badge ${kind}">${esc(stateLabel(state))}</span>`;
}

export function badge(text, kind) {
  return `<span class="badge ${kind}">${esc(text)}</span>`;
}

const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimalFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export function fmtInt(n) {
  return numberFormat.format(n || 0);
}

export function fmtNum(n) {
  return decimalFormat.format(Math.round((n || 0) * 100) / 100);
}

/** Mesos counts memory and disk in MB. */
export function fmtMB(mb) {
  return fmtBytes((mb || 0) * 1024 * 1024);
}

export function fmtBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = Number(bytes) || 0;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** A duration in seconds as `3d 4h`, `5m 2s`, ... */
export function fmtDuration(seconds) {
  let s = Math.max(0, Math.floor(seconds || 0));
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  parts.push(`${s}s`);
  return parts.slice(0, 2).join(' ');
}

/** Seconds since the epoch as a local date and time. */
export function fmtTime(seconds) {
  if (!seconds) return '';
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A `TimeInfo` (nanoseconds) in seconds. */
export function timeInfo(t) {
  return t && t.nanoseconds ? Number(t.nanoseconds) / 1e9 : 0;
}

/** `{cpus, mem, disk, gpus}` of a list of `Resource`s (scalars only). */
export function scalars(resources) {
  const out = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  if (!resources) return out;
  for (const r of resources) {
    if (r && r.scalar && r.name in out) out[r.name] += Number(r.scalar.value) || 0;
  }
  return out;
}

export function emptyRes() {
  return { cpus: 0, mem: 0, disk: 0, gpus: 0 };
}

/** Adds `b` times `sign` into `a`. */
export function addRes(a, b, sign = 1) {
  a.cpus += sign * b.cpus;
  a.mem += sign * b.mem;
  a.disk += sign * b.disk;
  a.gpus += sign * b.gpus;
  // Floating-point dust from many additions and subtractions.
  for (const k of ['cpus', 'mem', 'disk', 'gpus']) if (Math.abs(a[k]) < 1e-9) a[k] = 0;
  return a;
}

/** `ports:[31000-31009]`-style text of the non-scalar resources. */
export function rangesText(resources) {
  const parts = [];
  for (const r of resources || []) {
    if (r.ranges && r.ranges.range) {
      const ranges = r.ranges.range.map((x) => (x.begin === x.end ? `${x.begin}` : `${x.begin}-${x.end}`));
      parts.push(`${r.name}:[${ranges.join(',')}]`);
    } else if (r.set && r.set.item) {
      parts.push(`${r.name}:{${r.set.item.join(',')}}`);
    }
  }
  return parts.join(' ');
}

/** `host:port` of an agent, from its `pid` (`slave(1)@host:port`). */
export function agentAddress(agent) {
  const pid = agent && agent.pid;
  if (pid && pid.includes('@')) return pid.slice(pid.lastIndexOf('@') + 1);
  const info = agent && agent.agent_info;
  if (info && info.hostname) return `${info.hostname}:${info.port || 5051}`;
  return '';
}

/** An agent's attributes as `key=value` strings. */
export function attributes(info) {
  return ((info && info.attributes) || []).map((a) => {
    let value = '';
    if (a.text) value = a.text.value;
    else if (a.scalar) value = a.scalar.value;
    else if (a.ranges) value = (a.ranges.range || []).map((r) => `${r.begin}-${r.end}`).join(',');
    else if (a.set) value = (a.set.item || []).join(',');
    return `${a.name}=${value}`;
  });
}

/** The roles a framework subscribes with. */
export function frameworkRoles(info) {
  if (!info) return [];
  if (info.roles && info.roles.length) return info.roles;
  return [info.role || '*'];
}

/** A `used / total` bar with its text. */
export function meter(used, total, text, label) {
  const fraction = total > 0 ? Math.min(1, Math.max(0, used / total)) : 0;
  const percent = Math.round(fraction * 100);
  return `<span class="meter" role="img" aria-label="${esc(label)}: ${percent}%"><span class="meter-fill" style="width:${percent}%"></span></span> <span class="meter-text">${esc(text)}</span>`;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** `#/path?params` for links. */
export function href(path, params) {
  const query = params ? new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString() : '';
  return `#/${path}${query ? `?${query}` : ''}`;
}

/** Encodes one path segment of a route. */
export function seg(text) {
  return encodeURIComponent(text);
}
