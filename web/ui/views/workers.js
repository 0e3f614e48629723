// The Workers tab, on a master only: each worker's id, state, users, CPU, memory and last
// heartbeat, from the `workers` key of the last snapshot (Locust's shape plus `last_heartbeat`).
// The tab's link is hidden where the snapshot has no `workers` (a local run).
import { $, esc, fmtInt, memo } from '../dom.js';

const fresh = memo();

export const workersOf = (s) => {
  const d = s.server.snapshot;
  return d && Array.isArray(d.workers) ? d.workers : null;
};

const MIB = 1024 * 1024;
const fmtMemory = (bytes) => (bytes > 0 ? `${(bytes / MIB).toFixed(1)} MiB` : '–');
const fmtCpu = (pct) => (pct == null ? '–' : `${Number(pct).toFixed(1)} %`);

function fmtHeartbeat(unix) {
  if (!unix) return '–';
  const ago = Math.max(0, Date.now() / 1000 - unix);
  return `${ago.toFixed(1)} s ago`;
}

function renderWorkers(workers, count) {
  $('workers-table').tBodies[0].innerHTML = workers
    .map(
      (w) =>
        `<tr data-worker="${esc(w.id)}"><td class="l name" title="${esc(w.id)}">${esc(w.id)}</td>` +
        `<td class="l"><span class="state state-${esc(w.state)}">${esc(w.state)}</span></td>` +
        `<td>${fmtInt(w.user_count)}</td><td class="${w.cpu_usage > 90 ? 'bad' : ''}">${fmtCpu(w.cpu_usage)}</td>` +
        `<td>${fmtMemory(w.memory_usage)}</td><td class="nowrap">${fmtHeartbeat(w.last_heartbeat)}</td></tr>`,
    )
    .join('');
  $('workers-empty').hidden = workers.length > 0;
  $('workers-count').textContent = fmtInt(count == null ? workers.length : count);
}

export function render(s) {
  const workers = workersOf(s);
  $('tab-link-workers').hidden = workers == null;
  if (workers == null) return;
  const d = s.server.snapshot;
  if (fresh(d)) renderWorkers(workers, d.worker_count);
}
