// Browser end-to-end test of the control UI: the real binary in web mode against the built-in demo
// target, driven in headless Chromium (Debian's /usr/bin/chromium via playwright-core).
//
//   node --test tests/e2e/            (RUSTLOCUST_BIN defaults to target/debug/rustlocust)
//
// Screenshots of every state go to target/e2e-screenshots/. Every process started here is stopped
// by its PID, and every wait is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.RUSTLOCUST_BIN || path.join(ROOT, 'target', 'debug', 'rustlocust');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'target', 'e2e-screenshots');
const STEP_TIMEOUT = 30_000;

let playwright = null;
try {
  playwright = await import('playwright-core');
} catch (_) {
  /* reported by the skip below */
}
const missing = [
  !playwright && 'node_modules/playwright-core (run `npm ci`)',
  !fs.existsSync(CHROMIUM) && `${CHROMIUM} (apt-get install chromium)`,
  !fs.existsSync(BIN) && `${BIN} (cargo build)`,
].filter(Boolean);

// ------------------------------------------------------------------ helpers

const children = [];
function killChildren() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try { process.kill(c.pid, 'SIGKILL'); } catch (_) { /* already gone */ }
    }
  }
}
process.on('exit', killChildren);
// Killed from outside (the Rust wrapper's timeout, Ctrl-C): stop what we started, then exit.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    killChildren();
    process.exit(130);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function start(name, args, dir) {
  const log = fs.openSync(path.join(dir, `${name}.log`), 'w');
  const child = spawn(BIN, args, { cwd: dir, stdio: ['ignore', log, log], env: { ...process.env, RUST_LOG: 'info' } });
  fs.closeSync(log);
  child.logName = name;
  children.push(child);
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try { process.kill(child.pid, 'SIGTERM'); } catch (_) { return; }
  const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch (_) { /* gone */ } }, 5000);
  await exited;
  clearTimeout(t);
}

async function waitFor(what, fn, timeout = STEP_TIMEOUT, every = 100) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// Headless Chromium with a fresh profile in `dir`.
async function launchBrowser(dir) {
  const context = await playwright.chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    acceptDownloads: true,
  });
  context.setDefaultTimeout(STEP_TIMEOUT);
  return context;
}

// The tail of each child's log, for a failed test's diagnostics.
function logTails(t, dir, procs) {
  for (const c of procs) {
    const log = path.join(dir, `${c.logName}.log`);
    if (fs.existsSync(log)) t.diagnostic(`--- ${c.logName}.log (tail)\n` + fs.readFileSync(log, 'utf8').split('\n').slice(-30).join('\n'));
  }
}

async function httpOk(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.status < 500;
}

const scenarioV1 = (host) => `// e2e scenario, version 1
user("WebUser", #{
    host: "${host}",
    wait_time: constant(0.05),
    tasks: [
        task("index", 4),
        task("flaky", 2),
        task("oops", 1),
    ],
});

fn index() { this.client.get("/fast"); }

fn flaky() { this.client.get("/flaky"); }

fn oops() {
    if random_int(1, 4) == 1 { throw "deliberate script error"; }
    this.client.get("/resources/7", #{ name: "/resources/[id]" });
}
`;

// Version 2 adds a user class; the broken version has a syntax error on line 3.
const scenarioV2 = (host) => scenarioV1(host).replace('// e2e scenario, version 1', '// e2e scenario, version 2') + `
user("AdminUser", #{ host: "${host}", weight: 2, wait_time: constant(0.2), tasks: ["admin"] });

fn admin() { this.client.get("/fast", #{ name: "/admin" }); }
`;
const scenarioBroken = (host) => `// e2e scenario, broken
user("WebUser", #{ host: "${host}", tasks: ["index"] });
fn index( { this.client.get("/fast"); }
`;

// ------------------------------------------------------------------ the test

test('control UI end to end in headless Chromium', { skip: missing.length ? `missing ${missing.join(', ')}` : false, timeout: 240_000 }, async (t) => {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const f of fs.readdirSync(SHOTS)) if (f.endsWith('.png')) fs.rmSync(path.join(SHOTS, f));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rustlocust-e2e-'));
  const targetPort = await freePort();
  const webPort = await freePort();
  const targetUrl = `http://127.0.0.1:${targetPort}`;
  const base = `http://127.0.0.1:${webPort}`;
  const scenario = path.join(dir, 'scenario.rhai');
  fs.writeFileSync(scenario, scenarioV1(targetUrl));

  const target = start('demo-target', ['demo-target', '--port', String(targetPort)], dir);
  const web = start('rustlocust', ['scenario.rhai', '--web-host', '127.0.0.1', '--web-port', String(webPort)], dir);
  let context = null;
  const shot = async (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  try {
    await waitFor('the demo target', () => httpOk(targetUrl + '/fast'));
    await waitFor('the web UI', () => httpOk(base + '/'));

    context = await launchBrowser(dir);
    const requests = [];
    const pageErrors = [];
    context.on('request', (r) => requests.push(r.url()));
    const page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    const text = (sel) => page.locator(sel).innerText();

    // ---- the start form shows the scenario's class and host
    await page.goto(base + '/');
    await page.locator('#start-form').waitFor({ state: 'visible' });
    await waitFor('the user class in the form', async () => (await page.locator('#f-classes input[value="WebUser"]').count()) === 1);
    assert.equal(await text('#m-state'), 'READY');
    await waitFor('the host from the scenario', async () => (await page.inputValue('#f-host')) === targetUrl);
    await shot(page, '01-start-form');

    // ---- a bad value is reported in the form, nothing starts
    await page.fill('#f-users', '5');
    await page.fill('#f-rate', '0');
    await page.click('#start-submit');
    await page.locator('#start-error').waitFor({ state: 'visible' });
    assert.match(await text('#start-error'), /greater than 0/);
    await page.fill('#f-rate', '5');
    await page.click('summary');
    await page.fill('#f-runtime', 'soon');
    await page.click('#start-submit');
    await waitFor('the server to refuse the run time', async () => /run.?time|soon/i.test(await text('#start-error')));
    await shot(page, '02-start-form-error');
    await page.fill('#f-runtime', '');

    // ---- start: the header's RPS becomes positive
    await page.click('#start-submit');
    await page.locator('#run-view').waitFor({ state: 'visible' });
    await waitFor('state RUNNING', async () => (await text('#m-state')) === 'RUNNING');
    await waitFor('RPS > 0 in the header', async () => parseFloat(await text('#m-rps')) > 0);
    await waitFor('rows in the statistics table', async () => (await page.locator('#stats-table tbody tr').count()) >= 3);
    assert.equal(await page.locator('#tab-link-workers').isVisible(), false, 'no Workers tab without a master');
    assert.match(await text('#stats-table tbody'), /\/fast/);
    assert.match(await text('#stats-table tbody tr.total'), /Aggregated/);
    await shot(page, '03-running-statistics');

    // ---- the charts grow with every snapshot
    await page.click('.tabs a[data-tab="charts"]');
    await page.locator('#chart-rps canvas').waitFor({ state: 'visible' });
    const points = async () => Number(await page.getAttribute('#tab-charts', 'data-points'));
    const before = await waitFor('chart points', async () => (await points()) >= 2 && (await points()));
    await waitFor('the chart to grow', async () => (await points()) >= before + 2, 15_000);
    assert.equal(await page.locator('#tab-charts canvas').count(), 3);
    // The x values are the server's history times (its clock), not the browser's; a page opened
    // mid-run draws the same points from the start of the run.
    const chartsMatchHistory = async (least) => {
      const drawn = await page.evaluate(async () => {
        const main = document.querySelector('script[type="module"]').src;
        return (await import(new URL('views/charts.js', main).href)).drawnTimes();
      });
      const history = await (await fetch(base + '/stats/history', { signal: AbortSignal.timeout(5000) })).json();
      const serverTimes = history.map((h) => h.time);
      assert.ok(drawn.rps.length >= least, `${drawn.rps.length} points drawn, ${least} expected`);
      for (const [chart, times] of Object.entries(drawn)) {
        assert.deepEqual(times, serverTimes.slice(0, times.length), `${chart} chart x values`);
      }
      return drawn.rps.length;
    };
    const drawnBefore = await chartsMatchHistory(2);
    await page.reload();
    await page.locator('#chart-rps canvas').waitFor({ state: 'visible' });
    await chartsMatchHistory(drawnBefore);
    await shot(page, '04-charts');

    // ---- edit the running test: 5 -> 8 users
    await page.click('#btn-edit');
    await page.locator('#edit-dialog').waitFor({ state: 'visible' });
    assert.equal(await page.inputValue('#e-users'), '5');
    await page.fill('#e-users', '8');
    await shot(page, '05-edit-dialog');
    await page.click('#edit-submit');
    await page.locator('#edit-dialog').waitFor({ state: 'hidden' });
    await waitFor('8 users in the header', async () => (await text('#m-users')) === '8');

    // ---- failures, exceptions (with the script line), ratio, logs
    await page.click('.tabs a[data-tab="failures"]');
    await waitFor('a failure row for /flaky', async () => /\/flaky/.test(await text('#failures-table tbody')));
    await shot(page, '06-failures');
    await page.click('.tabs a[data-tab="exceptions"]');
    await waitFor('the script error', async () => /deliberate script error/.test(await text('#exceptions-table tbody')), 20_000);
    await shot(page, '07-exceptions');
    await page.click('.tabs a[data-tab="ratio"]');
    await waitFor('the task ratio tree', async () => /index/.test(await text('#ratio-total')));
    assert.match(await text('#ratio-per-class'), /WebUser/);
    await shot(page, '08-ratio');
    await page.click('.tabs a[data-tab="logs"]');
    await waitFor('log lines', async () => (await page.locator('#logs .log-line').count()) > 0, 15_000);
    await shot(page, '09-logs');
    await page.click('.tabs a[data-tab="statistics"]');
    await shot(page, '10-running-8-users');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, '10b-running-dark-mode');
    await page.emulateMedia({ colorScheme: 'light' });

    // ---- the state shown is the server's: a stop the server never got changes nothing
    const serverState = async () => (await (await fetch(base + '/stats/requests', { signal: AbortSignal.timeout(5000) })).json()).state;
    await page.route('**/stop', (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ success: true, message: 'Test stopped' }) }));
    await page.evaluate(() => {
      const label = document.getElementById('m-state');
      window.stateLabels = [];
      new MutationObserver(() => window.stateLabels.push(label.textContent)).observe(label, { childList: true, characterData: true, subtree: true });
    });
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/stats/requests'));
    await page.click('#btn-stop');
    await refreshed; // the UI asked the server again after the command's answer
    await page.waitForTimeout(2500); // two more snapshots from the stream
    const labels = await page.evaluate(() => window.stateLabels);
    assert.ok(labels.length > 0 && labels.every((l) => l === 'RUNNING'), `state labels since the click: ${labels}`);
    assert.equal(await serverState(), 'running');
    assert.equal(await page.locator('#btn-stop').isVisible(), true);
    await page.unroute('**/stop');

    // ---- stop: STOPPED shows once the server says so
    await page.click('#btn-stop');
    await waitFor('state STOPPED', async () => (await text('#m-state')) === 'STOPPED');
    assert.equal(await serverState(), 'stopped');
    assert.equal(await page.locator('#btn-new').isVisible(), true);
    assert.equal(await page.locator('#btn-stop').isVisible(), false);
    await shot(page, '11-stopped');

    // ---- download the statistics CSV from the Download data tab
    await page.click('.tabs a[data-tab="download"]');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dl-requests')]);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    assert.match(csv.split('\n')[0], /^"?Type"?,"?Name"?,"?Request Count"?,"?Failure Count"?,"?Median Response Time"?/);
    assert.match(csv, /\/fast/);
    assert.match(download.suggestedFilename(), /\.csv$/);
    await shot(page, '12-download');

    // ---- the HTML report, when the server offers it: self-contained, no other requests
    const report = await fetch(base + '/stats/report', { signal: AbortSignal.timeout(10_000) });
    if (report.status === 200) {
      const html = await report.text();
      t.diagnostic(`HTML report: ${html.length} bytes`);
      assert.ok(html.length < 400_000, `report size ${html.length}`);
      assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'the report links nothing external');
      const reportPage = await context.newPage();
      const reportRequests = [];
      reportPage.on('request', (r) => reportRequests.push(r.url()));
      await reportPage.goto(base + '/stats/report');
      await reportPage.locator('#chart-rps canvas').waitFor({ state: 'visible' });
      assert.match(await reportPage.locator('main').innerText(), /Request statistics[\s\S]*\/fast[\s\S]*Aggregated/);
      await reportPage.screenshot({ path: path.join(SHOTS, '13-report.png'), fullPage: true });
      assert.deepEqual(reportRequests, [base + '/stats/report'], 'the report loads nothing else');
      await reportPage.close();
    } else {
      t.diagnostic(`GET /stats/report answered ${report.status}: report check skipped`);
    }

    // ---- reload a changed scenario: the new class shows up in the start form
    fs.writeFileSync(scenario, scenarioV2(targetUrl));
    await page.click('#btn-reload');
    await page.locator('#reload-banner.banner-ok').waitFor({ state: 'visible' });
    assert.match(await text('#reload-title'), /reloaded/i);
    await page.click('#btn-new');
    await page.locator('#start-form').waitFor({ state: 'visible' });
    await waitFor('the new class in the form', async () => (await page.locator('#f-classes input[value="AdminUser"]').count()) === 1);
    await shot(page, '14-reloaded-new-test-form');

    // ---- break the scenario: the compile error (file:line:col) is shown, the server keeps going
    fs.writeFileSync(scenario, scenarioBroken(targetUrl));
    await page.click('#btn-reload');
    await page.locator('#reload-banner.banner-error').waitFor({ state: 'visible' });
    const message = await text('#reload-message');
    assert.match(message, /scenario\.rhai:3:\d+/, message);
    assert.ok(await page.locator('#reload-message .loc').count() >= 1, 'the location is highlighted');
    await waitFor('the error in the start form', () => page.locator('#start-reload-error').isVisible());
    await shot(page, '15-reload-compile-error');
    const alive = await fetch(base + '/stats/requests', { signal: AbortSignal.timeout(5000) });
    assert.equal(alive.status, 200);
    assert.equal((await alive.json()).state, 'stopped');
    assert.equal(web.exitCode, null, 'rustlocust is still running');

    // ---- the previous (version 2) scenario still runs
    await page.fill('#f-users', '2');
    await page.fill('#f-rate', '10');
    await page.click('#start-submit');
    await waitFor('state RUNNING again', async () => (await text('#m-state')) === 'RUNNING');
    await waitFor('/admin rows from the version-2 class', async () => /\/admin/.test(await text('#stats-table tbody')));
    await page.click('#btn-stop');
    await waitFor('state STOPPED again', async () => (await text('#m-state')) === 'STOPPED');
    await shot(page, '16-second-run-stopped');

    // ---- nothing but the server that served the page was contacted
    const origin = new URL(base).origin;
    const foreign = requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin);
    assert.deepEqual(foreign, [], 'requests to other hosts');
    assert.ok(requests.some((u) => /\/assets\/[0-9a-f]{16}\/vendor\/uPlot\.iife\.min\.js$/.test(u)), 'uPlot came from the server');
    assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
    t.diagnostic(`${requests.length} requests, all to ${origin}; screenshots in ${SHOTS}`);
  } catch (e) {
    logTails(t, dir, [target, web]);
    if (context) {
      const page = context.pages()[0];
      if (page) await page.screenshot({ path: path.join(SHOTS, 'failure.png'), fullPage: true }).catch(() => {});
    }
    throw e;
  } finally {
    if (context) await Promise.race([context.close(), new Promise((r) => setTimeout(r, 10_000))]);
    await stop(web);
    await stop(target);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// A master with the UI and two workers, all the real binary: the Workers tab lists both, with
// their state and users, while a test runs and after it stops.
test('the Workers tab of a master with two workers', { skip: missing.length ? `missing ${missing.join(', ')}` : false, timeout: 120_000 }, async (t) => {
  fs.mkdirSync(SHOTS, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rustlocust-e2e-workers-'));
  const [targetPort, webPort, masterPort] = [await freePort(), await freePort(), await freePort()];
  const targetUrl = `http://127.0.0.1:${targetPort}`;
  const base = `http://127.0.0.1:${webPort}`;
  fs.writeFileSync(path.join(dir, 'scenario.rhai'),
    `user("FleetUser", #{ host: "${targetUrl}", wait_time: constant(0.5), tasks: ["t"] });\nfn t() { this.client.get("/fast"); }\n`);
  const target = start('demo-target', ['demo-target', '--port', String(targetPort)], dir);
  const master = start('master', ['scenario.rhai', '--master', '--master-bind-host', '127.0.0.1', '--master-bind-port', String(masterPort),
    '--web-host', '127.0.0.1', '--web-port', String(webPort)], dir);
  const workers = [1, 2].map((i) => start(`worker-${i}`, ['scenario.rhai', '--worker', '--master-port', String(masterPort), '--threads', '1'], dir));
  let context = null;
  const workerCount = async () => (await (await fetch(base + '/worker-count', { signal: AbortSignal.timeout(2000) })).json()).worker_count;
  try {
    await waitFor('the demo target', () => httpOk(targetUrl + '/fast'));
    await waitFor('the web UI', () => httpOk(base + '/'));
    await waitFor('two workers on /worker-count', async () => (await workerCount()) === 2);
    context = await launchBrowser(dir);
    const page = context.pages()[0] || (await context.newPage());
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    const rows = async () => {
      const cells = await page.locator('#workers-table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.innerText)));
      return cells.map(([id, state, users, cpu, memory, heartbeat]) => ({ id, state, users, cpu, memory, heartbeat }));
    };

    await page.goto(base + '/');
    await page.locator('#start-form').waitFor({ state: 'visible' });
    await page.fill('#f-users', '4');
    await page.fill('#f-rate', '4');
    await page.click('#start-submit');
    await page.locator('#run-view').waitFor({ state: 'visible' });
    await page.click('#tab-link-workers');
    await page.locator('#tab-workers').waitFor({ state: 'visible' });
    // CPU, memory and the heartbeat's age show once a heartbeat has come after the spawn
    // (every second): until then the cells say "–".
    await waitFor('two running workers with 2 users each and a heartbeat', async () => {
      const r = await rows();
      return r.length === 2 && r.every((w) => w.state === 'running' && w.users === '2' && /MiB$/.test(w.memory) && /s ago$/.test(w.heartbeat));
    });
    const running = await rows();
    assert.notEqual(running[0].id, running[1].id);
    for (const w of running) {
      assert.match(w.id, /\S/);
      assert.match(w.cpu, /^\d+\.\d %$/, JSON.stringify(w));
      assert.match(w.memory, /^\d+\.\d MiB$/, JSON.stringify(w));
      assert.match(w.heartbeat, /^\d+\.\d s ago$/, JSON.stringify(w));
    }
    assert.equal(await page.locator('#workers-count').innerText(), '2');
    await page.screenshot({ path: path.join(SHOTS, '20-workers-running.png'), fullPage: true });

    // Stopped: the workers are ready for the next test, without users.
    await page.click('#btn-stop');
    await waitFor('both workers ready with 0 users', async () => {
      const r = await rows();
      return r.length === 2 && r.every((w) => w.state === 'ready' && w.users === '0');
    });
    await page.screenshot({ path: path.join(SHOTS, '21-workers-stopped.png'), fullPage: true });
    assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  } catch (e) {
    logTails(t, dir, [target, master, ...workers]);
    throw e;
  } finally {
    if (context) await Promise.race([context.close(), new Promise((r) => setTimeout(r, 10_000))]);
    await stop(master);
    for (const w of workers) await stop(w);
    await stop(target);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the vendored chart library is the locked npm package', { skip: fs.existsSync(path.join(ROOT, 'node_modules', 'uplot')) ? false : 'node_modules/uplot missing (run `npm ci`)' }, () => {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const version = lock.packages['node_modules/uplot'].version;
  for (const f of ['uPlot.iife.min.js', 'uPlot.min.css']) {
    const vendored = fs.readFileSync(path.join(ROOT, 'web', 'vendor', f));
    const npm = fs.readFileSync(path.join(ROOT, 'node_modules', 'uplot', 'dist', f));
    assert.ok(vendored.equals(npm), `web/vendor/${f} differs from uplot ${version} (run \`npm run vendor\`)`);
  }
  assert.match(fs.readFileSync(path.join(ROOT, 'web', 'vendor', 'uPlot.iife.min.js'), 'utf8'), new RegExp(`v${version.replace(/\./g, '\\.')}`));
});
