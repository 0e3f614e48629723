// The top bar (run state, users, RPS, failures, host and the command buttons) and the banners
// under it. The state label is the server's word only; a click shows the command as pending until
// the server has answered and been asked again.
import { command, failureText, refreshRun, refreshExceptions, refreshStatus, refreshTasks, succeeded } from '../api.js';
import { $, fmtInt, fmtRate, highlightLocations } from '../dom.js';
import { isRunning, isStartView, runState, setUi, statusField, store, userCount } from '../state.js';

const BANNER_OK_MS = 6000;

export function render(s) {
  const d = s.server.snapshot;
  const state = runState(s);
  const label = $('m-state');
  label.textContent = state ? state.toUpperCase() : '…';
  label.className = 'state state-' + (state || 'unknown');
  $('m-users').textContent = fmtInt(userCount(s));
  $('m-rps').textContent = d ? fmtRate(d.current_rps || 0) : '0';
  const ratio = d ? d.fail_ratio || 0 : 0;
  const pct = ratio * 100;
  const fail = $('m-fail');
  fail.textContent = (pct === 0 ? '0' : pct < 1 ? pct.toFixed(1) : String(Math.round(pct))) + '%';
  fail.classList.toggle('bad', ratio > 0);
  const host = statusField('host', s) || '–';
  $('m-host').textContent = host;
  $('m-host').title = host;
  $('scenario-name').textContent = statusField('scenario_file', s) || '';

  const running = isRunning(s);
  const startShown = isStartView(s);
  const pending = s.ui.pending;
  $('btn-new').hidden = state == null || running || startShown || state === 'stopping';
  $('btn-edit').hidden = !running;
  $('btn-stop').hidden = !running;
  $('btn-stop').disabled = pending === 'stop';
  $('btn-stop').textContent = pending === 'stop' ? 'Stopping…' : 'Stop';
  $('btn-reset').hidden = state == null || (startShown && state === 'ready');
  $('btn-reload').disabled = pending === 'reload';
  $('btn-reload').classList.toggle('busy', pending === 'reload');

  $('conn-banner').hidden = s.server.connected;
  renderBanner(s.ui.banner);
}

let bannerShown = null;
let bannerTimer = null;

function renderBanner(banner) {
  if (banner === bannerShown) return;
  bannerShown = banner;
  const b = $('reload-banner');
  clearTimeout(bannerTimer);
  b.hidden = !banner;
  if (!banner) return;
  b.className = 'banner banner-' + banner.kind;
  $('reload-title').textContent = banner.title;
  $('reload-message').innerHTML = highlightLocations(banner.message || '');
  $('reload-message').hidden = !banner.message;
  if (banner.kind === 'ok') bannerTimer = setTimeout(() => store.ui.banner === banner && setUi({ banner: null }), BANNER_OK_MS);
}

const showBanner = (kind, title, message) => setUi({ banner: { kind, title, message } });

// ---------------------------------------------------------------- commands

async function onStop() {
  setUi({ pending: 'stop' });
  const r = await command.stop();
  if (!r.ok) showBanner('error', 'Stop failed', failureText(r, 'Stop'));
  await refreshRun();
  setUi({ pending: null });
}

async function onReset() {
  const r = await command.resetStats();
  if (!r.ok) return showBanner('error', 'Reset failed', failureText(r, 'Reset'));
  await Promise.all([refreshRun(), refreshExceptions()]);
}

async function onReload() {
  setUi({ pending: 'reload' });
  const r = await command.reload();
  if (succeeded(r)) showBanner('ok', 'Scenario reloaded', r.json.message || '');
  else if (r.json && r.json.success === false) {
    showBanner('error', 'Scenario reload failed — the previous version stays loaded', r.json.message || 'unknown error');
  } else showBanner('error', 'Scenario reload failed', failureText(r, 'Reload'));
  await Promise.all([refreshStatus(), refreshTasks()]);
  setUi({ pending: null });
}

export function bind({ openStartForm, openEdit }) {
  $('btn-new').addEventListener('click', openStartForm);
  $('btn-edit').addEventListener('click', openEdit);
  $('btn-stop').addEventListener('click', onStop);
  $('btn-reset').addEventListener('click', onReset);
  $('btn-reload').addEventListener('click', onReload);
  $('reload-close').addEventListener('click', () => setUi({ banner: null }));
}
