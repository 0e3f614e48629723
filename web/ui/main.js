// rustlocust control UI, the entry module: wires the views to the store, then keeps the store
// current from the server (the event stream once a second, the rest polled every few seconds).
// Plain ES modules, no build step; web/charts.js and uPlot are classic scripts loaded before.
import { connect, refreshExceptions, refreshLogs, refreshStatus, refreshTasks } from './api.js';
import { store, subscribe } from './state.js';
import * as charts from './views/charts.js';
import * as header from './views/header.js';
import * as panels from './views/panels.js';
import * as start from './views/start.js';
import * as stats from './views/stats.js';
import * as tabs from './views/tabs.js';
import * as workers from './views/workers.js';

const POLL_MS = 5000;

// Tabs first: a chart is drawn only once its panel is visible and has a width.
const views = [tabs, header, start, stats, charts, panels, workers];

// The snapshot and the charts' points come with the stream; the rest is asked for.
function refreshPolled() {
  refreshStatus();
  refreshTasks();
  refreshExceptions();
  refreshLogs();
}

const poll = () => document.hidden || refreshPolled();

const render = (s) => views.forEach((v) => v.render(s));
subscribe(render);
header.bind({ openStartForm: start.openStartForm, openEdit: start.openEdit });
start.bind();
stats.bind();
tabs.bind();
render(store);
document.addEventListener('visibilitychange', poll);
refreshPolled();
connect();
setInterval(poll, POLL_MS);
