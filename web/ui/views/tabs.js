// Which view is shown (the start form, or the run view and its tabs) and which tab; the tab
// follows the URL's #hash, so it survives a reload and the back button.
import { refreshExceptions, refreshLogs, refreshTasks } from '../api.js';
import { $ } from '../dom.js';
import { isStartView, setUi } from '../state.js';

export const TABS = ['statistics', 'charts', 'failures', 'exceptions', 'ratio', 'download', 'logs', 'workers'];

// The polled tabs are fetched at once when opened instead of at the next poll.
const ON_OPEN = { exceptions: refreshExceptions, ratio: refreshTasks, logs: refreshLogs };

export function render(s) {
  const start = isStartView(s);
  $('start-view').hidden = start !== true;
  $('run-view').hidden = start !== false;
  $('start-cancel').hidden = !s.ui.showForm;
  for (const t of TABS) $('tab-' + t).hidden = t !== s.ui.tab;
  for (const a of document.querySelectorAll('.tabs a')) {
    const on = a.dataset.tab === s.ui.tab;
    a.classList.toggle('active', on);
    a.setAttribute('aria-selected', on ? 'true' : 'false');
  }
}

function onHash() {
  const tab = location.hash.replace(/^#/, '');
  if (!TABS.includes(tab)) return;
  setUi({ tab });
  if (ON_OPEN[tab]) ON_OPEN[tab]();
}

// Back to the statistics tab, and a URL without a stale #tab, e.g. when a new test starts.
export function resetTab() {
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  setUi({ tab: 'statistics' });
}

export function bind() {
  window.addEventListener('hashchange', onHash);
  onHash();
}
