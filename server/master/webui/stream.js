// The operator event stream: one SUBSCRIBE call, read as it arrives
// (RecordIO: `<decimal length>\n<JSON bytes>` repeated), kept alive across
// errors and leader changes.

/**
 * Splits a byte stream into RecordIO records. Feed it chunks as they come;
 * it calls `onRecord(text)` for each complete record. A record's bytes are
 * gathered into one buffer of its announced size, so a large first record
 * (the whole state) costs one copy, not one per chunk.
 */
export class RecordReader {
  constructor(onRecord) {
    this.onRecord = onRecord;
    this.header = '';
    this.body = null;
    this.filled = 0;
    this.decoder = new TextDecoder();
  }

  push(chunk) {
    let i = 0;
    while (i < chunk.length) {
      if (this.body === null) {
        const newline = chunk.indexOf(10, i);
        const end = newline < 0 ? chunk.length : newline;
        for (let j = i; j < end; j += 1) this.header += String.fromCharCode(chunk[j]);
        if (this.header.length > 20) throw new Error('RecordIO: a length header is too long');
        i = end;
        if (newline < 0) break;
        i += 1;
        const length = Number(this.header.trim());
        this.header = '';
        if (!Number.isSafeInteger(length) || length < 0) throw new Error('RecordIO: bad length header');
        this.body = new Uint8Array(length);
        this.filled = 0;
      }
      const n = Math.min(this.body.length - this.filled, chunk.length - i);
      this.body.set(chunk.subarray(i, i + n), this.filled);
      this.filled += n;
      i += n;
      if (this.filled === this.body.length) {
        const body = this.body;
        this.body = null;
        this.onRecord(this.decoder.decode(body));
      }
    }
  }
}

/** Delays between attempts to subscribe again, in seconds (then the last). */
const BACKOFF = [0.25, 0.5, 1, 2, 4, 5];

/**
 * Keeps one SUBSCRIBE stream open at the master that served the page (a
 * follower redirects it to the leader). Calls `onEvent(event)` for every
 * event and `onStatus(status)` when the connection's state changes:
 * `{phase: 'connecting'|'live'|'stale'|'down', leader, error, retryAt,
 * attempt}`. A stream silent for twice the heartbeat interval counts as
 * dead: it is dropped and a new one opened.
 */
export class Subscription {
  constructor({ url = '/api/v1', onEvent, onStatus }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.attempt = 0;
    this.heartbeatSeconds = 15;
    this.lastHeard = 0;
    this.controller = null;
    this.stopped = false;
    this.status = { phase: 'connecting', leader: '', error: '', retryAt: 0, attempt: 0 };
    this.watchdog = setInterval(() => this.check(), 1000);
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    if (this.controller) this.controller.abort();
  }

  setStatus(changes) {
    this.status = { ...this.status, ...changes };
    this.onStatus(this.status);
  }

  /** Silent for too long: the banner shows, the stream is replaced. */
  check() {
    if (this.status.phase !== 'live') return;
    const silent = (performance.now() - this.lastHeard) / 1000;
    if (silent > 2 * this.heartbeatSeconds) {
      this.setStatus({ phase: 'stale', error: `no event or heartbeat for ${Math.round(silent)} s` });
      if (this.controller) this.controller.abort(new Error('stale'));
    }
  }

  async connect() {
    if (this.stopped) return;
    const controller = new AbortController();
    this.controller = controller;
    this.setStatus({ retryAt: 0 });
    let error = null;
    const requested = performance.now();
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ type: 'SUBSCRIBE' }),
        signal: controller.signal,
        cache: 'no-store',
      });
      if (!response.ok) {
        const text = (await response.text()).trim();
        throw new Error(`${response.status} ${text || response.statusText}`);
      }
      const leader = new URL(response.url, location.href).host;
      // Where the time to the first picture goes (for benchmarks).
      const timing = { requested, response: performance.now(), firstChunk: 0, received: 0, parsed: 0, bytes: 0 };
      let subscribed = false;
      const reader = new RecordReader((text) => {
        this.lastHeard = performance.now();
        if (!subscribed) timing.received = this.lastHeard;
        const event = JSON.parse(text);
        if (event.type === 'SUBSCRIBED') {
          timing.parsed = performance.now();
          timing.bytes = text.length;
          this.timing = timing;
          subscribed = true;
          const seconds = event.subscribed && event.subscribed.heartbeat_interval_seconds;
          if (seconds > 0) this.heartbeatSeconds = seconds;
          this.attempt = 0;
          this.setStatus({ phase: 'live', leader, error: '', attempt: 0 });
        }
        if (subscribed) this.onEvent(event);
      });
      this.lastHeard = performance.now();
      const body = response.body.getReader();
      for (;;) {
        const { value, done } = await body.read();
        if (done) break;
        this.lastHeard = performance.now();
        if (!timing.firstChunk) timing.firstChunk = this.lastHeard;
        reader.push(value);
      }
      error = new Error('the master closed the event stream');
    } catch (e) {
      error = e;
    }
    if (this.stopped || controller !== this.controller) return;
    this.retry(error);
  }

  retry(error) {
    const delay = BACKOFF[Math.min(this.attempt, BACKOFF.length - 1)] * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    let message = (error && error.message) || String(error);
    const network = error instanceof TypeError;
    if (this.status.phase === 'stale') message = this.status.error;
    else if (this.status.phase === 'live') message = network ? `the event stream from ${this.status.leader} broke` : message;
    else if (network) message = `no master answers at ${location.host} or where it redirects`;
    this.setStatus({ phase: 'down', error: message, retryAt: Date.now() + delay * 1000, attempt: this.attempt });
    setTimeout(() => this.connect(), delay * 1000);
  }
}
