import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { createApp, Reject, type App, type TaskContext, type Worker } from '@tq/core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../src/index.js';

// What a person sees in a real headless Chromium (Debian's, installed by scripts/setup.sh),
// against a real Redis broker and a tq worker with events on. In CI a missing Chromium fails
// the run instead of skipping it: a skipped browser test would pass unnoticed.
const chromiumPath = '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
const brokerUrl = 'redis://127.0.0.1:6379/12';
// The screenshots in docs/images are refreshed with TQ_UPDATE_DOCS=1; other runs write them to a
// temporary folder, so a test run leaves the work tree as it was.
const imagesDir = process.env['TQ_UPDATE_DOCS']
  ? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'images')
  : join(tmpdir(), 'tq-dashboard-screenshots');
const credentials = { username: 'ops', password: 'dashboard-test' };

if (!haveChromium && process.env['CI'] === 'true') {
  describe('dashboard in a browser', () => {
    it('needs Chromium', () => {
      throw new Error(`no Chromium at ${chromiumPath}: scripts/setup.sh installs Debian's chromium package`);
    });
  });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

describe.skipIf(!haveChromium)('dashboard in a browser', () => {
  const queue = `dashboard-test-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'tq-dashboard-browser-'));
  const db = join(dir, 'history.sqlite');
  let workerApp: App;
  let dashboardApp: App;
  let worker: Worker;
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const ids: Record<string, string> = {};
  // dash.ship dead-letters itself (Reject) until the warehouse opens.
  let warehouseOpen = false;

  beforeAll(async () => {
    mkdirSync(imagesDir, { recursive: true });
    workerApp = createApp({ broker: brokerUrl, resultBackend: brokerUrl, defaultQueue: queue, logLevel: 'warn' });
    workerApp.task('dash.add', (a: number, b: number) => a + b);
    workerApp.task('dash.progress', async function (this: TaskContext, total: number) {
      for (let current = 1; current <= total; current++) {
        await sleep(350);
        await this.updateState('PROGRESS', { current, total });
      }
      return total;
    });
    workerApp.task('dash.fail', () => {
      throw new TypeError('the invoice total is not a number');
    });
    workerApp.task('dash.sleep', async function (this: TaskContext, seconds: number) {
      await sleep(seconds * 1000, this.signal);
      return 'woke up';
    });
    workerApp.task('dash.ship', (order: number) => {
      if (!warehouseOpen) throw new Reject('the warehouse is closed');
      return `shipped ${order}`;
    });
    dashboardApp = createApp({ broker: brokerUrl, resultBackend: brokerUrl, defaultQueue: queue, logLevel: 'warn' });
    // The dashboard first, so it sees the worker come online.
    dashboard = await startDashboard({ app: dashboardApp, port: 0, db, user: credentials.username, password: credentials.password });
    worker = workerApp.worker({ events: true, concurrency: 4 });
    await worker.start();
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ httpCredentials: credentials, viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
  }, 60_000);

  afterAll(async () => {
    // A failed pause test must not leave a pause record behind in the shared Redis.
    await dashboardApp?.queues.resume(queue).catch(() => undefined);
    await browser?.close();
    await worker?.stop({ force: true });
    await dashboard?.close();
    await Promise.allSettled([workerApp?.close(), dashboardApp?.close()]);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const taskRow = (id: string) => page.locator(`tr[data-task="${id}"]`);
  const queueRowOf = (name: string) => page.locator(`[data-testid=queues] tr[data-queue="${name}"]`);
  /** The queue row's cell under the heading `column` (Status, Ready, Dead letters, …). */
  const queueCell = (column: 'Status' | 'Ready' | 'Dead letters') => queueRowOf(queue).locator('td').nth({ Status: 1, Ready: 2, 'Dead letters': 6 }[column]);
  const waitForText = async (read: () => Promise<string>, expected: string, timeoutMs = 10_000) => {
    let text = await read();
    for (const deadline = Date.now() + timeoutMs; text.trim() !== expected && Date.now() < deadline; ) {
      await sleep(100);
      text = await read();
    }
    expect(text.trim()).toBe(expected);
  };

  it('shows the worker online with its pool, from its heartbeats', async () => {
    await page.goto(`${dashboard.url}#/workers`);
    const row = page.locator('[data-testid=workers] tbody tr', { hasText: 'online' });
    await row.first().waitFor({ timeout: 15_000 });
    await row.first().getByText('tq:async × 4').waitFor({ timeout: 10_000 });
    // The queues the worker consumes, with Redis's counts ("–" where Redis cannot tell: unacked,
    // the age of the oldest message, consumers).
    const queueRow = queueRowOf(queue);
    await queueRow.waitFor({ timeout: 10_000 });
    expect(await queueRow.locator('td').allInnerTexts()).toEqual([queue, 'active', '0', expect.any(String), '–', '–', '0', '–', 'Pause']);
    await page.screenshot({ path: join(imagesDir, 'dashboard-workers.png') });
  }, 30_000);

  it('shows a task appear and succeed live, without reloading', async () => {
    await page.goto(`${dashboard.url}#/tasks`);
    await page.getByTestId('live').getByText('live').waitFor();
    const sent = await workerApp.sendTask('dash.add', [2, 3]);
    ids['add'] = sent.id;
    await taskRow(sent.id).getByText('SUCCESS').waitFor({ timeout: 10_000 });
    expect(await taskRow(sent.id).textContent()).toContain('dash.add');
    expect(await taskRow(sent.id).textContent()).toContain('(2, 3)');
    await page.screenshot({ path: join(imagesDir, 'dashboard-tasks.png') });
  }, 30_000);

  it('moves a progress bar for a task that reports PROGRESS', async () => {
    const sent = await workerApp.sendTask('dash.progress', [12]);
    ids['progress'] = sent.id;
    await page.goto(`${dashboard.url}#/tasks/${sent.id}`);
    const bar = page.locator('dl [role=progressbar]');
    await bar.waitFor({ timeout: 10_000 });
    const first = Number(await bar.getAttribute('aria-valuenow'));
    expect(first).toBeLessThan(100);
    // The bar moves live, with no reload.
    let now = first;
    for (const deadline = Date.now() + 10_000; now <= first && Date.now() < deadline; ) {
      await sleep(100);
      now = Number(await bar.getAttribute('aria-valuenow'));
    }
    expect(now).toBeGreaterThan(first);
    await page.screenshot({ path: join(imagesDir, 'dashboard-progress.png') });
    await page.locator('h2').getByText('SUCCESS').waitFor({ timeout: 15_000 });
    expect(await bar.getAttribute('aria-valuenow')).toBe('100');
  }, 40_000);

  it('shows the traceback of a failed task, and retries it', async () => {
    const sent = await workerApp.sendTask('dash.fail', [], { invoice: 7 });
    ids['fail'] = sent.id;
    await page.goto(`${dashboard.url}#/tasks/${sent.id}`);
    const traceback = page.getByTestId('traceback');
    await traceback.waitFor({ timeout: 10_000 });
    expect(await traceback.textContent()).toContain('the invoice total is not a number');
    expect(await page.locator('h2').textContent()).toContain('FAILURE');
    await page.screenshot({ path: join(imagesDir, 'dashboard-failure.png'), fullPage: true });
    await page.getByRole('button', { name: 'Retry' }).click();
    const message = page.getByTestId('action-message');
    await message.getByText('sent again as').waitFor({ timeout: 10_000 });
    const retryId = (await message.locator('a').textContent())!.trim();
    await page.goto(`${dashboard.url}#/tasks/${retryId}`);
    await page.locator('h2').getByText('FAILURE').waitFor({ timeout: 10_000 });
    expect(await page.locator('dl').textContent()).toContain("{'invoice': 7}");
  }, 40_000);

  it('terminates a running task from its page', async () => {
    const sent = await workerApp.sendTask('dash.sleep', [60]);
    ids['sleep'] = sent.id;
    await page.goto(`${dashboard.url}#/tasks/${sent.id}`);
    await page.locator('h2').getByText('STARTED').waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Terminate' }).click();
    await page.locator('h2').getByText('REVOKED').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('timeline').textContent()).toContain('terminated');
  }, 30_000);

  it('keeps the history across a dashboard restart', async () => {
    await dashboard.close();
    dashboard = await startDashboard({ app: dashboardApp, port: 0, db, user: credentials.username, password: credentials.password });
    await page.goto(`${dashboard.url}#/tasks`);
    for (const [kind, state] of [['add', 'SUCCESS'], ['progress', 'SUCCESS'], ['fail', 'FAILURE'], ['sleep', 'REVOKED']] as const) {
      await taskRow(ids[kind]!).getByText(state).waitFor({ timeout: 10_000 });
    }
    await page.screenshot({ path: join(imagesDir, 'dashboard-after-restart.png') });
  }, 30_000);

  it("purges a queue from the workers page, which starts on the app's default queue", async () => {
    await workerApp.sendTask('dash.add', [1, 1], {}, { countdown: 3600, queue: 'dashboard-purge-only' });
    await page.goto(`${dashboard.url}#/workers`);
    const input = page.getByLabel('queue');
    // The form starts on the app's default queue.
    for (const deadline = Date.now() + 5000; (await input.inputValue()) !== queue && Date.now() < deadline; ) await sleep(100);
    expect(await input.inputValue()).toBe(queue);
    await input.fill('dashboard-purge-only');
    await page.getByRole('button', { name: 'Purge' }).click();
    await page.getByText('purged 1 message(s) from dashboard-purge-only').waitFor({ timeout: 10_000 });
  }, 30_000);

  it('pauses a queue cluster-wide from the workers page: its tasks wait, and run after Resume', async () => {
    await page.goto(`${dashboard.url}#/workers`);
    await queueRowOf(queue).getByRole('button', { name: 'Pause' }).click();
    await waitForText(() => queueCell('Status').innerText(), 'paused');
    expect(await dashboardApp.queues.paused(queue)).toMatchObject({ paused: true });
    // Every worker honours it: the broadcast, else its next read of the state (each second).
    for (const deadline = Date.now() + 10_000; worker.queues.includes(queue) && Date.now() < deadline; ) await sleep(100);
    expect(worker.queues).not.toContain(queue);
    const sent = await workerApp.sendTask('dash.add', [40, 2]);
    // Held: it waits in the queue (the table counts it) and does not run.
    await waitForText(() => queueCell('Ready').innerText(), '1');
    await sleep(2000);
    expect(await sent.state()).toBe('PENDING');
    expect((await dashboardApp.queueStats(queue)).ready).toBe(1);
    await page.screenshot({ path: join(imagesDir, 'dashboard-paused.png') });
    // The queue stays listed while no worker consumes it, so it can be resumed here.
    await queueRowOf(queue).getByRole('button', { name: 'Resume' }).click();
    await waitForText(() => queueCell('Status').innerText(), 'active');
    expect(await sent.get({ timeout: 15_000 })).toBe(42);
    expect(await dashboardApp.queues.paused(queue)).toBeNull();
    await waitForText(() => queueCell('Ready').innerText(), '0');
  }, 40_000);

  it('lists the dead letters of a queue, replays one (it runs again, same id) and purges the rest', async () => {
    warehouseOpen = false;
    const first = await workerApp.sendTask('dash.ship', [7]);
    const second = await workerApp.sendTask('dash.ship', [8]);
    await page.goto(`${dashboard.url}#/workers`);
    await waitForText(() => queueCell('Dead letters').innerText(), '2', 15_000);
    await queueCell('Dead letters').locator('a').click();
    const letter = (id: string) => page.locator(`[data-testid=dead-letters] tr[data-letter="${id}"]`);
    await letter(first.id).waitFor({ timeout: 10_000 });
    expect(await letter(first.id).textContent()).toContain('TQ_REJECTED');
    expect(await letter(first.id).textContent()).toContain('the warehouse is closed');
    expect(await letter(first.id).textContent()).toContain('dash.ship');
    await letter(second.id).waitFor();
    await page.screenshot({ path: join(imagesDir, 'dashboard-dead-letters.png') });

    warehouseOpen = true;
    await letter(first.id).getByRole('button', { name: 'Replay' }).click();
    await page.getByTestId('dead-message').getByText(`replayed 1 dead letter(s) to ${queue}`).waitFor({ timeout: 15_000 });
    // Replayed with its original id: the same AsyncResult now succeeds.
    expect(await first.get({ timeout: 15_000 })).toBe('shipped 7');
    await letter(first.id).waitFor({ state: 'detached', timeout: 10_000 });
    await letter(second.id).waitFor();

    await page.getByRole('button', { name: 'Purge all' }).click();
    await page.getByTestId('dead-message').getByText('purged 1 dead letter(s)').waitFor({ timeout: 15_000 });
    await letter(second.id).waitFor({ state: 'detached', timeout: 10_000 });
    expect((await dashboardApp.queueStats(queue)).dead).toBe(0);
    // Not replayed: its one run was the rejected one (the warehouse is open now).
    await sleep(1000);
    expect(await second.state()).not.toBe('SUCCESS');
  }, 60_000);

  it("lists beat's schedules with their next run, pauses, resumes and removes one, and shows a countdown task waiting in the broker", async () => {
    const namespace = `dash-${randomUUID().slice(0, 8)}`;
    const schedulesDashboard = await startDashboard({ app: dashboardApp, port: 0, db: join(dir, 'schedules.sqlite'), user: credentials.username, password: credentials.password, beatNamespace: namespace });
    const beat = dashboardApp.beat({ namespace });
    const later = await workerApp.sendTask('dash.add', [40, 2], {}, { countdown: 3600 });
    try {
      dashboardApp.schedule('dash-tick', { task: 'dash.add', args: [1, 1], every: '30s' });
      await beat.schedules.add('nightly-report', { task: 'dash.add', args: [2, 3], cron: '0 3 * * *', timezone: 'Europe/Paris', options: { queue } });
      await page.goto(`${schedulesDashboard.url}#/schedules`);
      const row = (name: string) => page.locator(`[data-testid=schedules] tr[data-schedule="${name}"]`);
      const cell = (name: string, column: number) => row(name).locator('td').nth(column);
      await row('nightly-report').waitFor({ timeout: 10_000 });
      expect(await cell('nightly-report', 2).innerText()).toBe('cron 0 3 * * * (Europe/Paris)');
      expect(await cell('nightly-report', 4).innerText()).toBe('runtime');
      expect(await cell('nightly-report', 5).innerText()).toBe('active');
      const [listed] = (await beat.schedules.list()).filter((e) => e.name === 'nightly-report');
      expect(await cell('nightly-report', 6).innerText()).toBe(await page.evaluate((ms) => new Date(ms).toLocaleString(), listed!.nextRun!.getTime()));
      expect(await cell('dash-tick', 4).innerText()).toBe('code');
      expect(await row('dash-tick').getByRole('button', { name: 'Remove' }).count()).toBe(0);
      // The countdown task sits in Redis' delay set, listed under the app's default queue.
      await page.locator(`[data-testid=scheduled] tr[data-scheduled="${later.id}"]`).waitFor({ timeout: 10_000 });
      expect(await page.locator(`[data-testid=scheduled] tr[data-scheduled="${later.id}"]`).innerText()).toContain('dash.add');
      await page.screenshot({ path: join(imagesDir, 'dashboard-schedules.png') });

      await row('nightly-report').getByRole('button', { name: 'Pause' }).click();
      await waitForText(() => cell('nightly-report', 5).innerText(), 'paused');
      expect((await beat.schedules.list()).find((e) => e.name === 'nightly-report')?.paused).toBe(true);
      await row('nightly-report').getByRole('button', { name: 'Resume' }).click();
      await waitForText(() => cell('nightly-report', 5).innerText(), 'active');
      await row('nightly-report').getByRole('button', { name: 'Remove' }).click();
      await row('nightly-report').waitFor({ state: 'detached', timeout: 10_000 });
      expect((await beat.schedules.list()).map((e) => e.name)).toEqual(['dash-tick']);
    } finally {
      await beat.schedules.remove('nightly-report').catch(() => undefined);
      await beat.stop();
      await schedulesDashboard.close();
      await dashboardApp.purge(queue); // takes the countdown task out of the delay set too
    }
  }, 60_000);

  it('with a token: the page asks for it once, then shows live data', async () => {
    const tokenDashboard = await startDashboard({ app: dashboardApp, port: 0, db: join(dir, 'token.sqlite'), token: 'open-sesame' });
    const tokenPage = await (await browser.newContext()).newPage();
    try {
      await tokenPage.goto(`${tokenDashboard.url}#/tasks`);
      await tokenPage.getByLabel('token').fill('open-sesame');
      await tokenPage.getByRole('button', { name: 'Sign in' }).click();
      await tokenPage.getByTestId('live').getByText('live').waitFor({ timeout: 10_000 });
      const sent = await workerApp.sendTask('dash.add', [20, 22]);
      await tokenPage.locator(`tr[data-task="${sent.id}"]`).getByText('SUCCESS').waitFor({ timeout: 10_000 });
    } finally {
      await tokenPage.context().close();
      await tokenDashboard.close();
    }
  }, 30_000);

  it('asks for credentials: the API answers 401 without them', async () => {
    const response = await fetch(`${dashboard.url}api/tasks`);
    expect(response.status).toBe(401);
  });
});
