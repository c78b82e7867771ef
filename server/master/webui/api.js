// Calls to the operator API of the masters and agents, and the agents'
// sandbox and monitoring endpoints. Every call fails with an Error whose
// message says what the other side answered.

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

async function failure(response) {
  let text = '';
  try {
    text = (await response.text()).trim();
  } catch {
    // the body is lost; the status says enough
  }
  return new Error(`${response.status} ${response.statusText}${text ? `: ${text}` : ''}`);
}

async function send(url, init, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, { ...init, signal: controller.signal, cache: 'no-store' });
    if (!response.ok) throw await failure(response);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  } catch (e) {
    if (e.name === 'AbortError') throw new Error(`no answer from ${new URL(url, location.href).host} within ${timeoutMs / 1000} s`);
    if (e instanceof TypeError) throw new Error(`cannot reach ${new URL(url, location.href).host} (${e.message})`);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A call to the master's operator API at the master that served the page;
 * a follower redirects it to the leader. Resolves to the Response (or null
 * for calls that answer nothing).
 */
export function masterCall(call, timeoutMs = 15000) {
  return send('/api/v1', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(call) }, timeoutMs);
}

/** A call to an agent's operator API (`address` is `host:port`). */
export function agentCall(address, call, timeoutMs = 15000) {
  return send(`${location.protocol}//${address}/api/v1`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(call) }, timeoutMs);
}

/** A GET of JSON from an agent. */
export function agentGet(address, path, timeoutMs = 10000) {
  return send(`${location.protocol}//${address}${path}`, { method: 'GET', headers: { Accept: 'application/json' } }, timeoutMs);
}

/** A link to download a sandbox file from its agent. */
export function downloadUrl(address, path) {
  return `${location.protocol}//${address}/files/download?path=${encodeURIComponent(path)}`;
}
