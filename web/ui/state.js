// The UI's one store. `server` holds the server's last answers as they came (only api.js writes
// it); `ui` holds what is the page's own business (tab, sort, open form, pending command).
// Everything shown is derived from these by the functions below, so there is no second copy of
// the run state that could disagree with the server.

export const store = {
  server: {
    snapshot: null, // the last /stats/requests (stream event or GET)
    status: null, // the last /status
    statusApi: null, // null: not asked yet, false: this server has no /status
    history: [], // the charts' points, /stats/history objects; replaced, never edited in place
    tasks: null, // /tasks
    exceptions: [], // /exceptions' list
    logs: [], // /logs' master lines
    connected: true, // whether the event stream is up
  },
  ui: {
    tab: 'statistics',
    sort: { key: null, dir: -1 }, // key null: the server's order
    showForm: false, // the start form opened over a stopped test
    pending: null, // the command waiting for its answer: 'start', 'stop', 'edit', 'reload'
    banner: null, // {kind, title, message}: the last reload's or failed command's outcome
  },
};

const listeners = [];

export function subscribe(fn) {
  listeners.push(fn);
}

// Rendering is synchronous, so a handler that changes the store can focus what it has just shown.
function changed() {
  for (const fn of listeners) fn(store);
}

export function setServer(patch) {
  Object.assign(store.server, patch);
  changed();
}

export function setUi(patch) {
  Object.assign(store.ui, patch);
  changed();
}

// ---------------------------------------------------------------- derived

const RUNNING = new Set(['spawning', 'running']);

// The snapshot is the fresher source (a second old at most); /status answers until the first one.
export function runState(s = store) {
  const { snapshot, status } = s.server;
  return (snapshot && snapshot.state) || (status && status.state) || null;
}

export const isRunning = (s = store) => RUNNING.has(runState(s));

// null until the server has said where the test is: neither view is shown before that.
export function isStartView(s = store) {
  const state = runState(s);
  return state == null ? null : s.ui.showForm || state === 'ready';
}

export function userCount(s = store) {
  const { snapshot, status } = s.server;
  if (snapshot && snapshot.user_count != null) return snapshot.user_count;
  return status ? status.user_count : null;
}

export const statusField = (name, s = store) => (s.server.status ? s.server.status[name] : undefined);

// The classes the start form offers: /status knows weights and hosts, /tasks only the shares.
export function userClasses(s = store) {
  const classes = statusField('classes', s);
  if (Array.isArray(classes) && classes.length) {
    return classes.map((c) => ({ name: c.name, weight: c.weight, fixed_count: c.fixed_count, host: c.host }));
  }
  const tasks = s.server.tasks;
  return tasks && tasks.per_class ? Object.entries(tasks.per_class).map(([name, node]) => ({ name, ratio: node.ratio })) : [];
}
