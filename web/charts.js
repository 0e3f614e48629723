// The three charts of the control UI and of the HTML report, drawn with the vendored uPlot, and
// the number formats both share. A classic script, not a module: the report inlines it.
// Data is uPlot's column layout: [times (server unix s), series1, series2, ...]; null is a gap.
(function (global) {
  'use strict';

  function cssVar(name, fallback) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  // Latency with 3 significant digits below 100 ms (loopback latencies are sub-millisecond).
  function fmtMs(v) {
    if (v == null || !isFinite(v)) return '–';
    if (v >= 99.95) return String(Math.round(v));
    if (v <= 0) return '0';
    return String(parseFloat(v.toPrecision(3)));
  }
  function fmtRate(v) {
    if (v == null || !isFinite(v)) return '–';
    return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
  }
  function fmtInt(v) {
    return v == null || !isFinite(v) ? '–' : String(Math.round(v));
  }

  const SPECS = {
    rps: {
      title: 'Total Requests per Second',
      series: [
        { label: 'RPS', color: ['--chart-rps', '#16a34a'], fmt: fmtRate, fill: true },
        { label: 'Failures/s', color: ['--chart-fail', '#dc2626'], fmt: fmtRate },
      ],
    },
    rt: {
      title: 'Response Times (ms)',
      series: [
        { label: '50th percentile', color: ['--chart-p50', '#7c3aed'], fmt: fmtMs },
        { label: '95th percentile', color: ['--chart-p95', '#ea580c'], fmt: fmtMs },
      ],
    },
    users: {
      title: 'Number of Users',
      series: [{ label: 'Users', color: ['--chart-users', '#2563eb'], fmt: fmtInt, fill: true, stepped: true }],
    },
  };

  const HEIGHT = 250;
  const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

  function create(el, kind, data) {
    const spec = SPECS[kind];
    const axis = cssVar('--chart-axis', '#64748b');
    const grid = cssVar('--chart-grid', 'rgba(100,116,139,0.15)');
    const series = [{ value: (u, v) => (v == null ? '–' : new Date(v * 1000).toLocaleTimeString()) }];
    for (const s of spec.series) {
      const color = cssVar(s.color[0], s.color[1]);
      series.push({
        label: s.label,
        stroke: color,
        width: 2,
        fill: s.fill ? color + '22' : undefined,
        points: { show: false },
        paths: s.stepped && uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: (u, v) => s.fmt(v),
      });
    }
    const opts = {
      title: spec.title,
      width: Math.max(280, el.clientWidth || 600),
      height: HEIGHT,
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => uPlot.rangeNum(0, max > 0 ? max : 1, 0.1, true) },
      },
      axes: [
        // Whole seconds at least: samples are a second apart.
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, space: 70, incrs: TIME_INCRS },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 56,
          values: (u, vals) => vals.map((v) => (kind === 'rt' ? fmtMs(v) : v >= 1000 ? (v / 1000) + 'k' : String(v))) },
      ],
      series,
      legend: { live: true },
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
    };
    const chart = new uPlot(opts, data, el);
    if (typeof ResizeObserver !== 'undefined') {
      let last = 0;
      new ResizeObserver(() => {
        const w = el.clientWidth;
        if (w > 0 && w !== last) {
          last = w;
          chart.setSize({ width: w, height: HEIGHT });
        }
      }).observe(el);
    }
    return chart;
  }

  global.RLCharts = { create, SPECS, fmtMs, fmtRate, fmtInt };
})(window);
