// The polled tabs: Exceptions (script errors with their tracebacks), Current ratio (the task
// tree per class and in total) and Logs.
import { $, esc, fmtInt, highlightLocations, memo, setBadge } from '../dom.js';

const freshExceptions = memo();
const freshRatio = memo();
const freshLogs = memo();

function renderExceptions(rows) {
  $('exceptions-table').tBodies[0].innerHTML = rows
    .map(
      (e) =>
        `<tr><td class="bad">${fmtInt(e.count)}</td><td class="l err">${highlightLocations(e.msg)}</td>` +
        `<td class="l"><pre class="traceback">${highlightLocations(e.traceback)}</pre></td><td class="l">${esc(e.nodes)}</td></tr>`,
    )
    .join('');
  $('exceptions-empty').hidden = rows.length > 0;
  setBadge('badge-exceptions', rows.length);
}

function ratioTree(nodes) {
  const entries = Object.entries(nodes || {});
  if (!entries.length) return '<p class="empty">No tasks.</p>';
  const items = entries.map(([name, node]) => {
    const pct = Math.max(0, Math.min(100, (node.ratio || 0) * 100));
    return (
      `<li><div class="ratio-row"><span class="ratio-pct">${pct.toFixed(1)}%</span>` +
      `<span class="ratio-bar"><i style="width:${pct.toFixed(1)}%"></i></span>` +
      `<span class="ratio-name">${esc(name)}</span></div>` +
      (node.tasks && Object.keys(node.tasks).length ? ratioTree(node.tasks) : '') +
      '</li>'
    );
  });
  return '<ul>' + items.join('') + '</ul>';
}

function renderRatio(tasks) {
  const t = tasks || {};
  $('ratio-per-class').innerHTML = ratioTree(t.per_class);
  $('ratio-total').innerHTML = ratioTree(t.total);
}

function renderLogs(lines) {
  const box = $('logs');
  // Follow new lines only when the reader is at the bottom already.
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.innerHTML = lines
    .map((l) => {
      const lvl = /\b(ERROR|CRITICAL)\b/.test(l) ? 'error' : /\bWARN(ING)?\b/.test(l) ? 'warn' : '';
      return `<div class="log-line ${lvl}">${esc(l)}</div>`;
    })
    .join('');
  $('logs-empty').hidden = lines.length > 0;
  box.hidden = lines.length === 0;
  if (atBottom) box.scrollTop = box.scrollHeight;
}

export function render(s) {
  if (freshExceptions(s.server.exceptions)) renderExceptions(s.server.exceptions);
  if (freshRatio(s.server.tasks)) renderRatio(s.server.tasks);
  // Compared by content: each poll brings a new array, and a re-render would drop a selection.
  const lines = s.server.logs;
  if (freshLogs(lines.length, lines[lines.length - 1])) renderLogs(lines);
}
