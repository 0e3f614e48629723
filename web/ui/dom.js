// Small DOM and formatting helpers shared by the views. The number formats are web/charts.js's
// (a classic script loaded before the modules, shared with the HTML report), so tables, charts
// and the report agree.
export const { fmtMs, fmtRate, fmtInt } = window.RLCharts;

export const $ = (id) => document.getElementById(id);

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ENTITIES[c]);

export const fmtTime = (unix) => (unix ? new Date(unix * 1000).toLocaleString() : '');

// Script locations become highlighted spans: `file.rhai:12:5`, `file.rhai:12` and tracebacks'
// `File "file.rhai", line 12, column 5`.
export function highlightLocations(text) {
  return esc(text)
    .replace(/([\w./\\-]+\.rhai:\d+(?::\d+)?)/g, '<span class="loc">$1</span>')
    .replace(/(File &quot;[^&]+&quot;, line \d+(?:, column \d+)?)/g, '<span class="loc">$1</span>');
}

export function setBadge(id, n) {
  const b = $(id);
  b.textContent = String(n);
  b.hidden = !n;
}

export function showFormError(el, msg) {
  el.textContent = msg || '';
  el.hidden = !msg;
}

// Views render on every store change; this lets one skip its DOM work when its inputs are the very
// objects of last time (the store replaces what changes, never edits it in place).
export function memo() {
  let last = null;
  return (...deps) => {
    const same = last != null && deps.length === last.length && deps.every((d, i) => d === last[i]);
    last = deps;
    return !same;
  };
}
