// The Statistics tab (one row per request name, Aggregated last, sortable by any column) and the
// Failures tab, both from the last snapshot.
import { $, esc, fmtInt, fmtMs, fmtRate, fmtTime, memo, setBadge } from '../dom.js';
import { setUi, store } from '../state.js';

const freshStats = memo();
const freshFailures = memo();
let statsHtml = '';

const sortValue = (row, key) => (row[key] == null ? -Infinity : row[key]);

function sorted(rows, { key, dir }) {
  if (!key) return rows;
  return rows.sort((a, b) => {
    const x = sortValue(a, key);
    const y = sortValue(b, key);
    if (typeof x === 'string' || typeof y === 'string') return dir * String(x).localeCompare(String(y));
    return dir * (x - y);
  });
}

// A master marks rows whose percentiles come from a Locust worker's 2-digit buckets.
const APPROX = '<span class="approx" title="Percentiles from a Locust worker\'s 2-digit buckets: approximate">≈</span> ';

const line = (r, cls) =>
  `<tr class="${cls}"><td class="l">${esc(r.method)}</td><td class="l name" title="${esc(r.name)}">${r.approximate ? APPROX : ''}${esc(r.name)}</td>` +
  `<td>${fmtInt(r.num_requests)}</td><td class="${r.num_failures > 0 ? 'bad' : ''}">${fmtInt(r.num_failures)}</td>` +
  `<td>${fmtMs(r.median_response_time)}</td><td>${fmtMs(r['response_time_percentile_0.95'])}</td>` +
  `<td>${fmtMs(r['response_time_percentile_0.99'])}</td><td>${fmtMs(r.avg_response_time)}</td>` +
  `<td>${fmtMs(r.min_response_time)}</td><td>${fmtMs(r.max_response_time)}</td>` +
  `<td>${fmtInt(r.avg_content_length)}</td><td>${fmtRate(r.current_rps)}</td>` +
  `<td class="${r.current_fail_per_sec > 0 ? 'bad' : ''}">${fmtRate(r.current_fail_per_sec)}</td></tr>`;

function renderStats(d, sort) {
  const rows = d && Array.isArray(d.stats) ? d.stats.slice() : [];
  const total = rows.length && rows[rows.length - 1].name === 'Aggregated' ? rows.pop() : null;
  let html = sorted(rows, sort).map((r) => line(r, '')).join('');
  if (total) html += line(total, 'total');
  // Unchanged rows are left alone, so a selection survives (e.g. copying a stopped test's numbers).
  if (html !== statsHtml) $('stats-table').tBodies[0].innerHTML = statsHtml = html;
  $('stats-empty').hidden = rows.length > 0 || (total && total.num_requests > 0);
  for (const th of $('stats-table').tHead.rows[0].cells) {
    th.classList.toggle('sorted', th.dataset.key === sort.key);
    th.classList.toggle('asc', th.dataset.key === sort.key && sort.dir > 0);
  }
}

function renderFailures(d) {
  const rows = d && Array.isArray(d.errors) ? d.errors.slice() : [];
  rows.sort((a, b) => (b.occurrences || 0) - (a.occurrences || 0));
  $('failures-table').tBodies[0].innerHTML = rows
    .map(
      (e) =>
        `<tr><td class="l">${esc(e.method)}</td><td class="l name">${esc(e.name)}</td><td class="l err">${esc(e.error)}</td>` +
        `<td class="bad">${fmtInt(e.occurrences)}</td><td class="l nowrap">${esc(fmtTime(e.first_seen))}</td>` +
        `<td class="l nowrap">${esc(fmtTime(e.last_seen))}</td></tr>`,
    )
    .join('');
  $('failures-empty').hidden = rows.length > 0;
  setBadge('badge-failures', rows.length);
}

export function render(s) {
  const d = s.server.snapshot;
  if (freshStats(d, s.ui.sort)) renderStats(d, s.ui.sort);
  if (freshFailures(d)) renderFailures(d);
}

// Text columns sort ascending first, numbers descending; the third click restores the server's order.
function onSortClick(ev) {
  const th = ev.target.closest('th[data-key]');
  if (!th) return;
  const key = th.dataset.key;
  const first = key === 'name' || key === 'method' ? 1 : -1;
  const { sort } = store.ui;
  if (sort.key !== key) setUi({ sort: { key, dir: first } });
  else if (sort.dir === first) setUi({ sort: { key, dir: -first } });
  else setUi({ sort: { key: null, dir: -1 } });
}

export function bind() {
  $('stats-table').tHead.addEventListener('click', onSortClick);
}
