// rustlocust control UI: plain JS, no framework. Stats arrive on the SSE stream (stats/stream, the
// /stats/requests JSON once a second); /status, /tasks, /exceptions and /logs are polled every few
// seconds. Every URL is relative, so the UI also works behind a reverse proxy's path prefix.
(function () {
  'use strict';

  const POLL_MS = 5000;
  const MAX_POINTS = 20000; // chart points kept; beyond, older halves are thinned out
  const RUNNING = new Set(['spawning', 'running']);

  const $ = (id) => document.getElementById(id);
  const esc = (s) =>
    String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const { fmtMs, fmtRate } = window.RLCharts;
  const fmtInt = (v) => (v == null || !isFinite(v) ? '–' : String(Math.round(v)));
  const fmtTime = (unix) => (unix ? new Date(unix * 1000).toLocaleString() : '');

  const S = {
    state: 'ready',
    userCount: 0,
    host: '',
    scenario: '',
    classes: [], // [{name, weight, fixed_count, host, ratio}]
    statusApi: null, // null: unknown, false: the server has no /status
    status: null,
    snapshot: null,
    showForm: false,
    lastRate: 1,
    tab: 'statistics',
    sort: { key: null, dir: -1 },
    points: { t: [], rps: [], fail: [], p50: [], p95: [], users: [] },
    charts: null,
    exceptions: [],
    tasks: null,
    logsKey: '',
  };

  // ---------------------------------------------------------------- HTTP helpers

  async function request(path, opts) {
    try {
      const res = await fetch(path, Object.assign({ cache: 'no-store' }, opts));
      const text = await res.text();
      let json = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch (_) {
        /* not JSON */
      }
      return { ok: res.ok, status: res.status, json, text };
    } catch (e) {
      return { ok: false, status: 0, json: null, text: String(e) };
    }
  }
  const getJson = (path) => request(path);
  const post = (path, params) =>
    request(path, {
      method: 'POST',
      headers: params ? { 'Content-Type': 'application/x-www-form-urlencoded' } : undefined,
      body: params ? params.toString() : undefined,
    });
  const failureText = (r, what) =>
    (r.json && r.json.message) || (r.status === 0 ? 'Cannot reach rustlocust (is it still running?)' : `${what} failed: HTTP ${r.status} ${r.text.slice(0, 200)}`);

  // ---------------------------------------------------------------- header and views

  function stateLabel(state) {
    return (state || 'unknown').toUpperCase();
  }

  function renderHeader() {
    const d = S.snapshot;
    const st = $('m-state');
    st.textContent = stateLabel(S.state);
    st.className = 'state state-' + S.state;
    $('m-users').textContent = fmtInt(S.userCount);
    $('m-rps').textContent = d ? fmtRate(d.current_rps || 0) : '0';
    const ratio = d ? d.fail_ratio || 0 : 0;
    const pct = ratio * 100;
    const fail = $('m-fail');
    fail.textContent = (pct === 0 ? '0' : pct < 1 ? pct.toFixed(1) : String(Math.round(pct))) + '%';
    fail.classList.toggle('bad', ratio > 0);
    const host = S.host || '–';
    $('m-host').textContent = host;
    $('m-host').title = host;
    $('scenario-name').textContent = S.scenario;

    const running = RUNNING.has(S.state);
    const startShown = isStartView();
    $('btn-new').hidden = running || startShown || S.state === 'stopping';
    $('btn-edit').hidden = !running;
    $('btn-stop').hidden = !running;
    $('btn-reset').hidden = startShown && S.state === 'ready';
  }

  function isStartView() {
    return S.showForm || S.state === 'ready';
  }

  function renderView() {
    const start = isStartView();
    $('start-view').hidden = !start;
    $('run-view').hidden = start;
    $('start-cancel').hidden = !(S.showForm && S.state !== 'ready');
    renderHeader();
    if (!start) showTab(S.tab);
  }

  // ---------------------------------------------------------------- start form

  function classList() {
    if (S.status && Array.isArray(S.status.classes) && S.status.classes.length) {
      return S.status.classes.map((c) => ({ name: c.name, weight: c.weight, fixed_count: c.fixed_count, host: c.host }));
    }
    if (S.tasks && S.tasks.per_class) {
      return Object.entries(S.tasks.per_class).map(([name, node]) => ({ name, ratio: node.ratio }));
    }
    return [];
  }

  function renderClasses() {
    const classes = classList();
    const key = JSON.stringify(classes);
    if (key === S.classesKey) return;
    S.classesKey = key;
    const box = $('f-classes');
    const checked = new Set(
      [...box.querySelectorAll('input:checked')].map((i) => i.value),
    );
    const hadAny = box.querySelector('input') != null;
    $('f-classes-box').hidden = classes.length === 0;
    box.innerHTML = classes
      .map((c) => {
        const on = !hadAny || checked.has(c.name) || !S.knownClasses || !S.knownClasses.has(c.name);
        const info = [];
        if (c.fixed_count) info.push(`fixed_count ${c.fixed_count}`);
        else if (c.weight != null) info.push(`weight ${c.weight}`);
        else if (c.ratio != null) info.push(`${(c.ratio * 100).toFixed(0)}%`);
        if (c.host) info.push(c.host);
        return `<label class="class-option"><input type="checkbox" name="user_classes" value="${esc(c.name)}"${on ? ' checked' : ''}>` +
          `<span class="class-name">${esc(c.name)}</span><span class="muted">${esc(info.join(' · '))}</span></label>`;
      })
      .join('');
    S.knownClasses = new Set(classes.map((c) => c.name));
  }

  function showFormError(el, msg) {
    el.textContent = msg || '';
    el.hidden = !msg;
  }

  function parseUsers(v) {
    return /^\s*\d+\s*$/.test(v) ? parseInt(v, 10) : NaN;
  }

  async function onStart(ev) {
    ev.preventDefault();
    const err = $('start-error');
    const users = parseUsers($('f-users').value);
    const rate = parseFloat($('f-rate').value);
    if (!(users >= 0)) return showFormError(err, 'Number of users must be a whole number ≥ 0.');
    if (!(rate > 0) || !isFinite(rate)) return showFormError(err, 'Ramp up must be a number greater than 0.');
    const params = new URLSearchParams();
    params.append('user_count', String(users));
    params.append('spawn_rate', String(rate));
    const host = $('f-host').value.trim();
    if (host) params.append('host', host);
    const runTime = $('f-runtime').value.trim();
    if (runTime) params.append('run_time', runTime);
    const boxes = [...$('f-classes').querySelectorAll('input[name=user_classes]')];
    const picked = boxes.filter((b) => b.checked).map((b) => b.value);
    if (boxes.length && picked.length === 0) return showFormError(err, 'Pick at least one user class.');
    if (picked.length < boxes.length) picked.forEach((c) => params.append('user_classes', c));
    showFormError(err, '');
    const btn = $('start-submit');
    btn.disabled = true;
    btn.textContent = 'Starting…';
    const r = await post('swarm', params);
    btn.disabled = false;
    btn.textContent = 'Start';
    if (!r.json || r.json.success !== true) return showFormError(err, failureText(r, 'Start'));
    if (r.json.host) S.host = r.json.host;
    else if (host) S.host = host;
    S.lastRate = rate;
    S.showForm = false;
    S.state = 'spawning';
    clearChart();
    S.tab = 'statistics';
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    renderView();
    refreshStatus();
  }

  function openStartForm() {
    S.showForm = true;
    showFormError($('start-error'), '');
    renderView();
    $('f-users').focus();
  }

  // ---------------------------------------------------------------- header buttons

  async function onStop() {
    $('btn-stop').disabled = true;
    const r = await post('stop');
    $('btn-stop').disabled = false;
    if (!r.ok) return showBanner('error', 'Stop failed', failureText(r, 'Stop'));
    S.state = r.json && r.json.success === false ? S.state : 'stopped';
    renderView();
    refreshNow();
  }

  async function onReset() {
    const r = await post('stats/reset');
    if (!r.ok) return showBanner('error', 'Reset failed', failureText(r, 'Reset'));
    S.exceptions = [];
    renderExceptions();
    refreshNow();
  }

  function openEdit() {
    const target = S.status && S.status.target_users != null ? S.status.target_users : S.userCount;
    const rate = S.status && S.status.spawn_rate ? S.status.spawn_rate : S.lastRate;
    $('e-users').value = String(target);
    $('e-rate').value = String(rate);
    showFormError($('edit-error'), '');
    $('edit-dialog').showModal();
    $('e-users').select();
  }

  async function onEdit(ev) {
    ev.preventDefault();
    const err = $('edit-error');
    const users = parseUsers($('e-users').value);
    const rate = parseFloat($('e-rate').value);
    if (!(users >= 0)) return showFormError(err, 'Number of users must be a whole number ≥ 0.');
    if (!(rate > 0) || !isFinite(rate)) return showFormError(err, 'Ramp up must be a number greater than 0.');
    const params = new URLSearchParams({ user_count: String(users), spawn_rate: String(rate) });
    const btn = $('edit-submit');
    btn.disabled = true;
    const r = await post('swarm', params);
    btn.disabled = false;
    if (!r.json || r.json.success !== true) return showFormError(err, failureText(r, 'Update'));
    S.lastRate = rate;
    $('edit-dialog').close();
    refreshStatus();
  }

  // ---------------------------------------------------------------- reload

  function showBanner(kind, title, message) {
    const b = $('reload-banner');
    b.className = 'banner banner-' + kind;
    $('reload-title').textContent = title;
    $('reload-message').innerHTML = highlightLocations(message || '');
    $('reload-message').hidden = !message;
    b.hidden = false;
    clearTimeout(S.bannerTimer);
    if (kind === 'ok') S.bannerTimer = setTimeout(() => (b.hidden = true), 6000);
  }

  async function onReload() {
    const btn = $('btn-reload');
    btn.disabled = true;
    btn.classList.add('busy');
    const r = await post('reload');
    btn.disabled = false;
    btn.classList.remove('busy');
    if (r.json && r.json.success === true) {
      showBanner('ok', 'Scenario reloaded', r.json.message || '');
      S.reloadError = null;
    } else if (r.json && r.json.success === false) {
      S.reloadError = r.json.message || 'unknown error';
      showBanner('error', 'Scenario reload failed — the previous version stays loaded', S.reloadError);
    } else {
      showBanner('error', 'Scenario reload failed', failureText(r, 'Reload'));
    }
    renderReloadError();
    await Promise.all([refreshStatus(), pollTasks()]);
    renderClasses();
  }

  function renderReloadError() {
    const msg = (S.status && S.status.reload_error) || S.reloadError;
    const el = $('start-reload-error');
    el.innerHTML = msg ? '<strong>The scenario does not compile:</strong><pre>' + highlightLocations(msg) + '</pre>' : '';
    el.hidden = !msg;
  }

  // Script locations become highlighted spans: `file.rhai:12:5`, `file.rhai:12` and tracebacks'
  // `File "file.rhai", line 12, column 5`.
  function highlightLocations(text) {
    return esc(text)
      .replace(/([\w./\\-]+\.rhai:\d+(?::\d+)?)/g, '<span class="loc">$1</span>')
      .replace(/(File &quot;[^&]+&quot;, line \d+(?:, column \d+)?)/g, '<span class="loc">$1</span>');
  }

  // ---------------------------------------------------------------- statistics

  function sortValue(row, key) {
    const v = row[key];
    return v == null ? -Infinity : v;
  }

  function renderStats() {
    const d = S.snapshot;
    const rows = d && Array.isArray(d.stats) ? d.stats.slice() : [];
    const total = rows.length && rows[rows.length - 1].name === 'Aggregated' ? rows.pop() : null;
    if (S.sort.key) {
      const { key, dir } = S.sort;
      rows.sort((a, b) => {
        const x = sortValue(a, key);
        const y = sortValue(b, key);
        if (typeof x === 'string' || typeof y === 'string') return dir * String(x).localeCompare(String(y));
        return dir * (x - y);
      });
    }
    const line = (r, cls) =>
      `<tr class="${cls}"><td class="l">${esc(r.method)}</td><td class="l name" title="${esc(r.name)}">${esc(r.name)}</td>` +
      `<td>${fmtInt(r.num_requests)}</td><td class="${r.num_failures > 0 ? 'bad' : ''}">${fmtInt(r.num_failures)}</td>` +
      `<td>${fmtMs(r.median_response_time)}</td><td>${fmtMs(r['response_time_percentile_0.95'])}</td>` +
      `<td>${fmtMs(r['response_time_percentile_0.99'])}</td><td>${fmtMs(r.avg_response_time)}</td>` +
      `<td>${fmtMs(r.min_response_time)}</td><td>${fmtMs(r.max_response_time)}</td>` +
      `<td>${fmtInt(r.avg_content_length)}</td><td>${fmtRate(r.current_rps)}</td>` +
      `<td class="${r.current_fail_per_sec > 0 ? 'bad' : ''}">${fmtRate(r.current_fail_per_sec)}</td></tr>`;
    let html = rows.map((r) => line(r, '')).join('');
    if (total) html += line(total, 'total');
    // Unchanged rows are left alone, so a selection survives (e.g. copying a stopped test's numbers).
    if (html !== S.statsHtml) $('stats-table').tBodies[0].innerHTML = S.statsHtml = html;
    $('stats-empty').hidden = rows.length > 0 || (total && total.num_requests > 0);
    for (const th of $('stats-table').tHead.rows[0].cells) {
      th.classList.toggle('sorted', th.dataset.key === S.sort.key);
      th.classList.toggle('asc', th.dataset.key === S.sort.key && S.sort.dir > 0);
    }
  }

  function onSortClick(ev) {
    const th = ev.target.closest('th[data-key]');
    if (!th) return;
    const key = th.dataset.key;
    const first = key === 'name' || key === 'method' ? 1 : -1; // text ascending, numbers descending
    if (S.sort.key !== key) S.sort = { key, dir: first };
    else if (S.sort.dir === first) S.sort.dir = -first;
    else S.sort = { key: null, dir: -1 }; // third click: back to Locust's order
    renderStats();
  }

  function renderFailures() {
    const d = S.snapshot;
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

  function setBadge(id, n) {
    const b = $(id);
    b.textContent = String(n);
    b.hidden = !n;
  }

  // ---------------------------------------------------------------- charts

  function clearChart() {
    for (const k of Object.keys(S.points)) S.points[k] = [];
    updateCharts();
  }

  function addPoint(d) {
    const p = S.points;
    const pct = d.current_response_time_percentiles || {};
    const num = (v) => (v == null || !isFinite(v) ? null : Number(v));
    p.t.push(Date.now() / 1000);
    p.rps.push(num(d.current_rps) || 0);
    p.fail.push(num(d.current_fail_per_sec) || 0);
    // 0 means no request in the server's window: a gap, not a 0 ms latency.
    const ms = (v) => num(v) || null;
    p.p50.push(ms(pct['response_time_percentile_0.5']));
    p.p95.push(ms(pct['response_time_percentile_0.95']));
    p.users.push(num(d.user_count) || 0);
    if (p.t.length > MAX_POINTS) {
      // Halve the resolution of the older half so a long run keeps its whole shape.
      const half = Math.floor(p.t.length / 2);
      for (const k of Object.keys(p)) p[k] = p[k].filter((_, i) => i >= half || i % 2 === 0);
    }
    updateCharts();
  }

  function chartData() {
    const p = S.points;
    return { rps: [p.t, p.rps, p.fail], rt: [p.t, p.p50, p.p95], users: [p.t, p.users] };
  }

  function updateCharts() {
    $('tab-charts').dataset.points = String(S.points.t.length);
    if (S.tab !== 'charts' || isStartView()) return;
    const data = chartData();
    if (!S.charts) {
      S.charts = {
        rps: window.RLCharts.create($('chart-rps'), 'rps', data.rps),
        rt: window.RLCharts.create($('chart-rt'), 'rt', data.rt),
        users: window.RLCharts.create($('chart-users'), 'users', data.users),
      };
    } else {
      for (const k of Object.keys(S.charts)) S.charts[k].setData(data[k]);
    }
  }

  // ---------------------------------------------------------------- polled tabs

  async function pollExceptions() {
    const r = await getJson('exceptions');
    if (r.ok && r.json && Array.isArray(r.json.exceptions)) {
      S.exceptions = r.json.exceptions;
      renderExceptions();
    }
  }

  function renderExceptions() {
    const rows = S.exceptions;
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

  async function pollTasks() {
    const r = await getJson('tasks');
    if (r.ok && r.json) {
      S.tasks = r.json;
      renderRatio();
      renderClasses();
    }
  }

  function ratioTree(nodes) {
    const entries = Object.entries(nodes || {});
    if (!entries.length) return '<p class="empty">No tasks.</p>';
    return (
      '<ul>' +
      entries
        .map(([name, node]) => {
          const pct = Math.max(0, Math.min(100, (node.ratio || 0) * 100));
          return (
            `<li><div class="ratio-row"><span class="ratio-pct">${pct.toFixed(1)}%</span>` +
            `<span class="ratio-bar"><i style="width:${pct.toFixed(1)}%"></i></span>` +
            `<span class="ratio-name">${esc(name)}</span></div>` +
            (node.tasks && Object.keys(node.tasks).length ? ratioTree(node.tasks) : '') +
            '</li>'
          );
        })
        .join('') +
      '</ul>'
    );
  }

  function renderRatio() {
    const t = S.tasks || {};
    $('ratio-per-class').innerHTML = ratioTree(t.per_class);
    $('ratio-total').innerHTML = ratioTree(t.total);
  }

  async function pollLogs() {
    const r = await getJson('logs');
    if (!r.ok || !r.json) return;
    const lines = Array.isArray(r.json.master) ? r.json.master : [];
    const key = lines.length + '|' + (lines[lines.length - 1] || '');
    if (key === S.logsKey) return;
    S.logsKey = key;
    const box = $('logs');
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

  async function refreshStatus() {
    if (S.statusApi === false) return;
    const r = await getJson('status');
    if (r.status === 404 || r.status === 405) {
      S.statusApi = false;
      return;
    }
    if (!r.ok || !r.json) return;
    S.statusApi = true;
    S.status = r.json;
    const st = r.json;
    if (st.host) S.host = st.host;
    if (st.scenario_file) S.scenario = st.scenario_file;
    if (st.spawn_rate) S.lastRate = st.spawn_rate;
    if (st.state && !S.snapshot) S.state = st.state;
    const hostInput = $('f-host');
    if (!hostInput.dataset.touched && st.host) hostInput.value = st.host;
    $('start-scenario').textContent = st.scenario_file ? 'Scenario: ' + st.scenario_file : '';
    renderClasses();
    renderReloadError();
    renderHeader();
  }

  function pollAll() {
    if (document.hidden) return;
    refreshStatus();
    pollTasks();
    pollExceptions();
    pollLogs();
  }

  async function refreshNow() {
    const r = await getJson('stats/requests');
    if (r.ok && r.json) onSnapshot(r.json, false);
    refreshStatus();
    pollExceptions();
  }

  // ---------------------------------------------------------------- the stream

  // `fromStream`: chart points come from the once-a-second stream only, so they stay evenly spaced.
  function onSnapshot(d, fromStream) {
    const prev = S.state;
    S.snapshot = d;
    if (d.state) S.state = d.state;
    if (d.user_count != null) S.userCount = d.user_count;
    // A test started elsewhere (another tab, the API): start a fresh chart.
    if (RUNNING.has(S.state) && (prev === 'ready' || prev === 'stopped') && S.points.t.length) clearChart();
    if (fromStream && RUNNING.has(S.state)) addPoint(d);
    if (S.state !== prev) {
      if (S.state !== 'ready' && prev === 'ready') S.showForm = false;
      renderView();
      if (!RUNNING.has(S.state)) refreshStatus();
    } else {
      renderHeader();
    }
    renderStats();
    renderFailures();
  }

  function connect() {
    if (typeof EventSource === 'undefined') {
      setInterval(async () => {
        const r = await getJson('stats/requests');
        if (r.ok && r.json) onSnapshot(r.json, true);
      }, 2000);
      return;
    }
    const es = new EventSource('stats/stream');
    const handle = (ev) => {
      $('conn-banner').hidden = true;
      try {
        onSnapshot(JSON.parse(ev.data), true);
      } catch (_) {
        /* a keep-alive or partial message */
      }
    };
    es.onmessage = handle;
    es.addEventListener('stats', handle);
    es.onopen = () => ($('conn-banner').hidden = true);
    es.onerror = () => {
      $('conn-banner').hidden = false;
    };
  }

  // Seeds the charts when the page is opened mid-run (the server keeps one point a second).
  async function seedHistory() {
    if (S.state === 'ready') return; // nothing to show before the first test
    const r = await getJson('stats/history');
    if (!r.ok || !Array.isArray(r.json) || !r.json.length) return;
    // Only points older than the ones the stream already added.
    const p = S.points;
    const before = p.t.length ? p.t[0] : Infinity;
    const old = r.json.filter((h) => h.time < before).slice(-MAX_POINTS);
    p.t.unshift(...old.map((h) => h.time));
    p.rps.unshift(...old.map((h) => h.current_rps));
    p.fail.unshift(...old.map((h) => h.current_fail_per_sec));
    p.p50.unshift(...old.map((h) => h.response_time_percentile_50 || null));
    p.p95.unshift(...old.map((h) => h.response_time_percentile_95 || null));
    p.users.unshift(...old.map((h) => h.user_count));
    updateCharts();
  }

  // ---------------------------------------------------------------- tabs

  const TABS = ['statistics', 'charts', 'failures', 'exceptions', 'ratio', 'download', 'logs'];

  function showTab(tab) {
    if (!TABS.includes(tab)) tab = 'statistics';
    S.tab = tab;
    for (const t of TABS) {
      $('tab-' + t).hidden = t !== tab;
    }
    for (const a of document.querySelectorAll('.tabs a')) {
      const on = a.dataset.tab === tab;
      a.classList.toggle('active', on);
      a.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    if (tab === 'charts') updateCharts();
    if (tab === 'logs') pollLogs();
    if (tab === 'exceptions') pollExceptions();
    if (tab === 'ratio') pollTasks();
  }

  function onHash() {
    const tab = location.hash.replace(/^#/, '');
    if (TABS.includes(tab)) {
      S.tab = tab;
      if (!isStartView()) showTab(tab);
    }
  }

  // ---------------------------------------------------------------- wiring

  function init() {
    $('start-form').addEventListener('submit', onStart);
    $('start-cancel').addEventListener('click', () => {
      S.showForm = false;
      renderView();
    });
    $('f-host').addEventListener('input', (e) => (e.target.dataset.touched = '1'));
    $('btn-new').addEventListener('click', openStartForm);
    $('btn-stop').addEventListener('click', onStop);
    $('btn-reset').addEventListener('click', onReset);
    $('btn-edit').addEventListener('click', openEdit);
    $('btn-reload').addEventListener('click', onReload);
    $('reload-close').addEventListener('click', () => ($('reload-banner').hidden = true));
    $('edit-form').addEventListener('submit', onEdit);
    $('edit-cancel').addEventListener('click', () => $('edit-dialog').close());
    $('stats-table').tHead.addEventListener('click', onSortClick);
    window.addEventListener('hashchange', onHash);
    document.addEventListener('visibilitychange', () => !document.hidden && pollAll());
    onHash();
    renderView();
    refreshNow().then(seedHistory);
    pollTasks();
    pollLogs();
    connect();
    setInterval(pollAll, POLL_MS);
  }

  init();
})();
