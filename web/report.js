// rustlocust HTML report: local times and the three charts (inlined by src/report/html.rs).
(function () {
  'use strict';
  for (const t of document.querySelectorAll('time[data-unix]')) {
    const d = new Date(Number(t.dataset.unix) * 1000);
    t.title = t.textContent;
    t.textContent = d.toLocaleString();
  }
  const el = document.getElementById('report-data');
  if (!el || !window.RLCharts) return;
  let p;
  try {
    p = JSON.parse(el.textContent);
  } catch (_) {
    return;
  }
  if (!p.t || !p.t.length) return;
  const inner = (id) => {
    const box = document.getElementById(id);
    const div = document.createElement('div');
    box.appendChild(div);
    return div;
  };
  window.RLCharts.create(inner('chart-rps'), 'rps', [p.t, p.rps, p.fail]);
  window.RLCharts.create(inner('chart-rt'), 'rt', [p.t, p.p50, p.p95]);
  window.RLCharts.create(inner('chart-users'), 'users', [p.t, p.users]);
})();
