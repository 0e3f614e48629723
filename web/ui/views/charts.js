// The Charts tab: RPS and failures, response times, users, drawn by web/charts.js from the
// server's history points (the stream's `history` and `points` events). The x values are the
// points' own server `time`, never the browser's clock, so every tab and a reload agree.
import { $, memo } from '../dom.js';
import { isStartView } from '../state.js';

// Beyond this many points a long run is drawn from every n-th one, so the whole run stays visible.
const MAX_POINTS = 20000;

const num = (v) => (v == null || !isFinite(v) ? null : Number(v));
// 0 means no request in the server's window: a gap, not a 0 ms latency.
const ms = (v) => num(v) || null;

// uPlot's column layout, from the newest point back, so the latest is always drawn.
function columns(history) {
  const step = Math.ceil(history.length / MAX_POINTS) || 1;
  const last = history.length - 1;
  const points = step === 1 ? history : history.filter((_, i) => (last - i) % step === 0);
  const col = (f) => points.map(f);
  const t = col((p) => p.time);
  return {
    rps: [t, col((p) => num(p.current_rps) || 0), col((p) => num(p.current_fail_per_sec) || 0)],
    rt: [t, col((p) => ms(p.response_time_percentile_50)), col((p) => ms(p.response_time_percentile_95))],
    users: [t, col((p) => num(p.user_count) || 0)],
  };
}

let charts = null;
const fresh = memo();

export function render(s) {
  const history = s.server.history;
  $('tab-charts').dataset.points = String(history.length);
  // Drawn only while visible: uPlot takes its width from the element.
  const visible = s.ui.tab === 'charts' && isStartView(s) === false;
  if (!visible || !fresh(history)) return;
  const data = columns(history);
  if (!charts) {
    const { create } = window.RLCharts;
    charts = { rps: create($('chart-rps'), 'rps', data.rps), rt: create($('chart-rt'), 'rt', data.rt), users: create($('chart-users'), 'users', data.users) };
  } else {
    for (const k of Object.keys(charts)) charts[k].setData(data[k]);
  }
}

// The x values each chart draws now (for the browser tests: they must be the server's times).
export const drawnTimes = () => (charts ? Object.fromEntries(Object.entries(charts).map(([k, c]) => [k, c.data[0]])) : null);
