import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createApp, isTqError } from '@tq/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HistoryStore } from '../src/history-store.js';
import { LiveFeed } from '../src/live-feed.js';
import { createServer } from '../src/server.js';
import { startDashboard } from '../src/index.js';
import { addScheduleRoutes } from '../src/schedule-routes.js';
import { Hono } from 'hono';

describe('dashboard HTTP API', () => {
  let dir: string;
  let store: HistoryStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tq-dash-server-'));
    store = new HistoryStore(join(dir, 'h.sqlite'));
    store.apply({ type: 'task-received', hostname: 'w@h', timestamp: 1_800_000_000, uuid: 'id-1', name: 'mail.send', args: "('a@b',)", kwargs: '{}' });
    store.apply({ type: 'task-failed', hostname: 'w@h', timestamp: 1_800_000_001, uuid: 'id-1', exception: "ValueError('x')", traceback: 'Traceback (most recent call last)…' });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('with a token: the page is public, the API needs "Authorization: Bearer"', async () => {
    const server = createServer({ app: createApp({ broker: 'memory://', logLevel: 'error' }), store, feed: new LiveFeed(), auth: { token: 's3cret' } });
    expect((await server.request('/')).status).toBe(200);
    expect((await server.request('/vendor/htm.js')).status).toBe(200);
    expect((await server.request('/api/tasks')).status).toBe(401);
    expect((await server.request('/api/tasks', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await server.request('/api/tasks?state=failure&name=mail', { headers: { authorization: 'Bearer s3cret' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { uuid: string }[]).map((t) => t.uuid)).toEqual(['id-1']);
    const detail = (await (await server.request('/api/tasks/id-1', { headers: { authorization: 'Bearer s3cret' } })).json()) as { task: { traceback: string }; events: unknown[] };
    expect(detail.task.traceback).toContain('Traceback');
    expect(detail.events).toHaveLength(2);
  });

  it('with basic auth: everything, the page too, needs the credentials', async () => {
    const server = createServer({ app: createApp({ broker: 'memory://', logLevel: 'error' }), store, feed: new LiveFeed(), auth: { basic: { username: 'u', password: 'p' } } });
    const denied = await server.request('/');
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await server.request('/api/workers', { headers: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } })).status).toBe(200);
  });
});

describe('dashboard queues API', () => {
  it("lists the default queue and every queue a live worker consumes, with the broker's counts", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tq-dash-queues-'));
    const history = new HistoryStore(join(dir, 'h.sqlite'));
    const app = createApp({ broker: `memory://dash-queues-${Date.now()}`, logLevel: 'error' });
    app.task('q.add', (a: number, b: number) => a + b);
    const worker = app.worker({ queues: ['celery', 'extra'], concurrency: 1 });
    await worker.start();
    try {
      worker.cancelQueue('extra');
      for (let i = 0; i < 3; i++) await app.sendTask('q.add', [i, i], {}, { queue: 'extra' });
      worker.addQueue('other'); // a live worker's queues come from its active_queues answer
      const server = createServer({ app, store: history, feed: new LiveFeed(), auth: {} });
      const body = (await (await server.request('/api/queues')).json()) as { queues: { name: string; ready: number; consumers: number | null }[] };
      expect(body.queues.map((q) => q.name)).toEqual(['celery', 'other']);
      expect(body.queues.find((q) => q.name === 'celery')).toMatchObject({ ready: 0, consumers: 1 });
      worker.addQueue('extra');
      await expect.poll(async () => (await app.queueStats('extra')).ready).toBe(0);
    } finally {
      await worker.stop();
      await app.close();
      history.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboard scheduled API', () => {
  it('lists the countdown tasks waiting in the broker for a queue, soonest first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tq-dash-scheduled-'));
    const history = new HistoryStore(join(dir, 'h.sqlite'));
    const app = createApp({ broker: `memory://dash-scheduled-${Date.now()}`, logLevel: 'error' });
    try {
      const later = await app.sendTask('q.add', [1, 2], {}, { queue: 'sched', countdown: 120 });
      const sooner = await app.sendTask('q.add', [3, 4], {}, { queue: 'sched', countdown: 60 });
      const server = createServer({ app, store: history, feed: new LiveFeed(), auth: {} });
      const body = (await (await server.request('/api/queues/sched/scheduled')).json()) as { scheduled: { id: string; task: string; argsrepr: string }[] };
      expect(body.scheduled.map((t) => t.id)).toEqual([sooner.id, later.id]);
      expect(body.scheduled[0]).toMatchObject({ task: 'q.add', argsrepr: '(3, 4)' });
      expect((await server.request('/api/queues/sched/scheduled?limit=0')).status).toBe(400);
    } finally {
      await app.close();
      history.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboard queue actions API', () => {
  it('pauses and resumes a queue, shows the age of its oldest message, and guards the actions with the same auth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tq-dash-pause-'));
    const history = new HistoryStore(join(dir, 'h.sqlite'));
    const name = `dash-pause-${Date.now()}`;
    const app = createApp({ broker: `memory://${name}`, resultBackend: `memory://${name}`, logLevel: 'error' });
    const server = createServer({ app, store: history, feed: new LiveFeed(), auth: { token: 's3cret' } });
    const authorized = { authorization: 'Bearer s3cret' };
    type Queues = { queues: { name: string; ready: number; paused: boolean | null; oldestAgeMs?: number | null }[] };
    try {
      for (const path of ['/api/queues/celery/pause', '/api/queues/celery/resume', '/api/queues/celery/dead/replay', '/api/queues/celery/dead/purge']) {
        expect((await server.request(path, { method: 'POST' })).status, path).toBe(401);
      }
      expect((await server.request('/api/queues/celery/dead')).status).toBe(401);

      await app.sendTask('q.add', [1, 2]);
      await new Promise((resolve) => setTimeout(resolve, 30));
      const before = (await (await server.request('/api/queues', { headers: authorized })).json()) as Queues;
      expect(before.queues).toEqual([expect.objectContaining({ name: 'celery', ready: 1, paused: false })]);
      expect(before.queues[0]!.oldestAgeMs).toBeGreaterThanOrEqual(30);

      expect((await server.request('/api/queues/celery/pause', { method: 'POST', headers: authorized })).status).toBe(200);
      expect(await app.queues.paused('celery')).toMatchObject({ paused: true });
      const paused = (await (await server.request('/api/queues', { headers: authorized })).json()) as Queues;
      expect(paused.queues[0]).toMatchObject({ name: 'celery', paused: true });
      expect((await server.request('/api/queues/celery/resume', { method: 'POST', headers: authorized })).status).toBe(200);
      expect(await app.queues.paused('celery')).toBeNull();

      const dead = (await (await server.request('/api/queues/celery/dead', { headers: authorized })).json()) as { store: string; letters: unknown[] };
      expect(dead).toEqual({ queue: 'celery', store: 'celery.dead', letters: [] });
      const bad = await server.request('/api/queues/celery/dead/replay', { method: 'POST', headers: authorized, body: JSON.stringify({ ids: 'one' }) });
      expect(bad.status).toBe(400);
    } finally {
      await app.close();
      history.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tq dashboard (CLI)', () => {
  it('refuses a non-loopback address without auth, and says what to do', () => {
    const bin = fileURLToPath(new URL('../../core/bin/tq.js', import.meta.url));
    const run = spawnSync(process.execPath, [bin, 'dashboard', '--host', '0.0.0.0', '--broker', 'memory://'], { encoding: 'utf8', env: { ...process.env, TQ_DASHBOARD_TOKEN: '', TQ_DASHBOARD_USER: '', TQ_DASHBOARD_PASSWORD: '' } });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('refusing to serve the dashboard on 0.0.0.0 without authentication');
    expect(run.stderr).toContain('--token TOKEN');
  });
});

describe('dashboard schedules API', () => {
  it('lists the schedules of a namespace; pause and resume any, remove runtime ones only; 501 without a result backend', async () => {
    const name = `dash-sched-${Date.now()}`;
    const app = createApp({ broker: `memory://${name}`, resultBackend: `memory://${name}`, logLevel: 'error' });
    const server = new Hono();
    const routes = addScheduleRoutes(server, app, 'ops');
    try {
      app.schedule('in-code', { task: 't.code', every: '1m' });
      await app.beat({ namespace: 'ops' }).schedules.add('added', { task: 't.added', cron: '*/5 * * * *' });
      const listing = async () => ((await (await server.request('/api/schedules')).json()) as { schedules: { name: string; source: string; paused: boolean; timing: string; nextRun: number | null }[] }).schedules;
      const before = await listing();
      expect(before.map((e) => [e.name, e.source, e.timing, e.paused])).toEqual([
        ['in-code', 'code', 'every 1m', false],
        ['added', 'runtime', 'cron */5 * * * *', false],
      ]);
      expect(before.every((e) => typeof e.nextRun === 'number' && e.nextRun > Date.now() - 1000)).toBe(true);
      expect((await server.request('/api/schedules/in-code/pause', { method: 'POST' })).status).toBe(200);
      expect((await listing()).find((e) => e.name === 'in-code')?.paused).toBe(true);
      expect((await server.request('/api/schedules/in-code/resume', { method: 'POST' })).status).toBe(200);
      expect((await listing()).find((e) => e.name === 'in-code')?.paused).toBe(false);
      const refused = await server.request('/api/schedules/in-code', { method: 'DELETE' });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { error: string }).error).toMatch(/defined in code: pause it instead/);
      expect((await server.request('/api/schedules/nope/pause', { method: 'POST' })).status).toBe(409);
      expect((await server.request('/api/schedules/added', { method: 'DELETE' })).status).toBe(200);
      expect((await listing()).map((e) => e.name)).toEqual(['in-code']);
    } finally {
      await routes.close();
      await app.close();
    }
    const bare = createApp({ broker: 'memory://', resultBackend: null, logLevel: 'error' });
    const bareServer = new Hono();
    addScheduleRoutes(bareServer, bare, 'default');
    expect((await bareServer.request('/api/schedules')).status).toBe(501);
    await bare.close();
  });
});

describe('startDashboard', () => {
  it('a port already in use is a ConfigError that says to pick another with --port', async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'tq-dash-port-'));
    const app = createApp({ broker: `memory://dash-port-${Date.now()}`, logLevel: 'error' });
    try {
      const error = await startDashboard({ app, port, db: join(dir, 'h.sqlite') }).catch((e: unknown) => e);
      expect(isTqError(error, 'TQ_CONFIG_INVALID')).toBe(true);
      expect((error as Error).message).toContain(`port ${port}`);
      expect((error as Error).message).toContain('--port');
    } finally {
      blocker.close();
      await app.close();
    }
  });
});
