// The start form (users, ramp up, host, user classes, run time) and the edit dialog of a running
// test. A submit sends /swarm and shows the command as pending; the view changes once the server,
// asked again, reports the new test.
import { command, failureText, refreshRun, succeeded } from '../api.js';
import { $, esc, highlightLocations, memo, showFormError } from '../dom.js';
import { setUi, statusField, userClasses, userCount } from '../state.js';
import { resetTab } from './tabs.js';

const fresh = memo();

export function render(s) {
  const submit = $('start-submit');
  submit.disabled = s.ui.pending === 'start';
  submit.textContent = s.ui.pending === 'start' ? 'Starting…' : 'Start';
  $('edit-submit').disabled = s.ui.pending === 'edit';
  if (!fresh(s.server.status, s.server.tasks)) return;
  const scenario = statusField('scenario_file', s);
  $('start-scenario').textContent = scenario ? 'Scenario: ' + scenario : '';
  const host = $('f-host');
  const serverHost = statusField('host', s);
  if (!host.dataset.touched && serverHost) host.value = serverHost;
  renderClasses(userClasses(s));
  const msg = statusField('reload_error', s);
  const el = $('start-reload-error');
  el.innerHTML = msg ? '<strong>The scenario does not compile:</strong><pre>' + highlightLocations(msg) + '</pre>' : '';
  el.hidden = !msg;
}

// The boxes the user unticked stay unticked across a refresh; a class new since then comes ticked.
let classesKey = '';
let knownClasses = new Set();

function renderClasses(classes) {
  const key = JSON.stringify(classes);
  if (key === classesKey) return;
  classesKey = key;
  const box = $('f-classes');
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  const hadAny = box.querySelector('input') != null;
  $('f-classes-box').hidden = classes.length === 0;
  box.innerHTML = classes
    .map((c) => {
      const on = !hadAny || checked.has(c.name) || !knownClasses.has(c.name);
      const info = [];
      if (c.fixed_count) info.push(`fixed_count ${c.fixed_count}`);
      else if (c.weight != null) info.push(`weight ${c.weight}`);
      else if (c.ratio != null) info.push(`${(c.ratio * 100).toFixed(0)}%`);
      if (c.host) info.push(c.host);
      return (
        `<label class="class-option"><input type="checkbox" name="user_classes" value="${esc(c.name)}"${on ? ' checked' : ''}>` +
        `<span class="class-name">${esc(c.name)}</span><span class="muted">${esc(info.join(' · '))}</span></label>`
      );
    })
    .join('');
  knownClasses = new Set(classes.map((c) => c.name));
}

// ---------------------------------------------------------------- users and ramp up

const parseUsers = (v) => (/^\s*\d+\s*$/.test(v) ? parseInt(v, 10) : NaN);

// {user_count, spawn_rate} of a form's two fields, or the message saying what is wrong.
function readLoad(usersInput, rateInput) {
  const users = parseUsers(usersInput.value);
  const rate = parseFloat(rateInput.value);
  if (!(users >= 0)) return { error: 'Number of users must be a whole number ≥ 0.' };
  if (!(rate > 0) || !isFinite(rate)) return { error: 'Ramp up must be a number greater than 0.' };
  return { params: new URLSearchParams({ user_count: String(users), spawn_rate: String(rate) }) };
}

// Sends /swarm with the command shown pending; true once the server took it and was asked again.
async function swarm(pending, params, err, what) {
  showFormError(err, '');
  setUi({ pending });
  const r = await command.swarm(params);
  if (succeeded(r)) await refreshRun();
  else showFormError(err, failureText(r, what));
  setUi({ pending: null });
  return succeeded(r);
}

// ---------------------------------------------------------------- start

async function onStart(ev) {
  ev.preventDefault();
  const err = $('start-error');
  const { params, error } = readLoad($('f-users'), $('f-rate'));
  if (error) return showFormError(err, error);
  const host = $('f-host').value.trim();
  if (host) params.append('host', host);
  const runTime = $('f-runtime').value.trim();
  if (runTime) params.append('run_time', runTime);
  const boxes = [...$('f-classes').querySelectorAll('input[name=user_classes]')];
  const picked = boxes.filter((b) => b.checked).map((b) => b.value);
  if (boxes.length && picked.length === 0) return showFormError(err, 'Pick at least one user class.');
  if (picked.length < boxes.length) picked.forEach((c) => params.append('user_classes', c));
  if (!(await swarm('start', params, err, 'Start'))) return;
  setUi({ showForm: false });
  resetTab();
}

export function openStartForm() {
  showFormError($('start-error'), '');
  setUi({ showForm: true });
  $('f-users').focus();
}

// ---------------------------------------------------------------- edit

export function openEdit() {
  const target = statusField('target_users');
  $('e-users').value = String(target != null ? target : userCount() || 0);
  $('e-rate').value = String(statusField('spawn_rate') || 1);
  showFormError($('edit-error'), '');
  $('edit-dialog').showModal();
  $('e-users').select();
}

async function onEdit(ev) {
  ev.preventDefault();
  const err = $('edit-error');
  const { params, error } = readLoad($('e-users'), $('e-rate'));
  if (error) return showFormError(err, error);
  if (await swarm('edit', params, err, 'Update')) $('edit-dialog').close();
}

export function bind() {
  $('start-form').addEventListener('submit', onStart);
  $('start-cancel').addEventListener('click', () => setUi({ showForm: false }));
  $('f-host').addEventListener('input', (e) => (e.target.dataset.touched = '1'));
  $('edit-form').addEventListener('submit', onEdit);
  $('edit-cancel').addEventListener('click', () => $('edit-dialog').close());
}
