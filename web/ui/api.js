// Everything the UI asks the server, and the only way server answers enter the store. Commands
// return the server's answer and change nothing themselves; the caller refreshes, and the views
// follow whatever the server then reports. Every URL is relative, so the UI also works behind a
// reverse proxy's path prefix.
import { runState, setServer, store } from './state.js';

async function request(path, opts) {
  try {
    const res = await fetch(path, Object.assign({ cache: 'no-store' }, opts));
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (_) {
      /* not JSON: callers look at `text` */
    }
    return { ok: res.ok, status: res.status, json, text };
  } catch (e) {
    return { ok: false, status: 0, json: null, text: String(e) };
  }
}

const post = (path, params) =>
  request(path, {
    method: 'POST',
    headers: params ? { 'Content-Type': 'application/x-www-form-urlencoded' } : undefined,
    body: params ? params.toString() : undefined,
  });

// What to tell the user about a failed command: the server's own message when it sent one.
export const failureText = (r, what) =>
  (r.json && r.json.message) ||
  (r.status === 0 ? 'Cannot reach rustlocust (is it still running?)' : `${what} failed: HTTP ${r.status} ${r.text.slice(0, 200)}`);

// A refused /swarm is HTTP 200 with success false (Locust's answer, and ours): read `success`.
export const succeeded = (r) => r.json != null && r.json.success === true;

export const command = {
  swarm: (params) => post('swarm', params),
  stop: () => post('stop'),
  resetStats: () => post('stats/reset'),
  reload: () => post('reload'),
};

// ---------------------------------------------------------------- reads

export async function refreshStatus() {
  if (store.server.statusApi === false) return;
  const r = await request('status');
  if (r.status === 404 || r.status === 405) return setServer({ statusApi: false });
  if (r.ok && r.json) setServer({ status: r.json, statusApi: true });
}

// The snapshot is also on the stream; asking for it is for right after a command.
async function refreshSnapshot() {
  const r = await request('stats/requests');
  if (r.ok && r.json) onSnapshot(r.json);
}

// The run's state now, for right after a command: its effect is shown from the server's fresh
// answers, not from the next stream tick.
export const refreshRun = () => Promise.all([refreshSnapshot(), refreshStatus()]);

export async function refreshTasks() {
  const r = await request('tasks');
  if (r.ok && r.json) setServer({ tasks: r.json });
}

export async function refreshExceptions() {
  const r = await request('exceptions');
  if (r.ok && r.json && Array.isArray(r.json.exceptions)) setServer({ exceptions: r.json.exceptions });
}

export async function refreshLogs() {
  const r = await request('logs');
  if (r.ok && r.json) setServer({ logs: Array.isArray(r.json.master) ? r.json.master : [] });
}

// ---------------------------------------------------------------- the stream

function onSnapshot(snapshot) {
  const before = runState();
  setServer({ snapshot });
  // A test started, ended or was stopped (maybe elsewhere): /status has its target, host, etc.
  if (runState() !== before) refreshStatus();
}

// /stats/stream: unnamed events are /stats/requests snapshots; `history` replaces the charts'
// points and `points` appends to them (both are /stats/history objects, server time included).
export function connect() {
  const es = new EventSource('stats/stream');
  const parsed = (handle) => (ev) => {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch (_) {
      return; // a partial message; the next one is whole
    }
    handle(data);
  };
  es.onmessage = parsed(onSnapshot);
  es.addEventListener(
    'history',
    parsed((points) => setServer({ history: points })),
  );
  es.addEventListener(
    'points',
    parsed((points) => setServer({ history: store.server.history.concat(points) })),
  );
  es.onopen = () => setServer({ connected: true });
  es.onerror = () => setServer({ connected: false });
}
