import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App, type Worker } from '../src/index.js';
import { createMemoryAdapter } from '../src/memory/index.js';
import { sleep } from './helpers.js';

const apps: App[] = [];
const workers: Worker[] = [];

afterEach(async () => {
  await Promise.allSettled(workers.splice(0).map((w) => w.stop({ force: true })));
  await Promise.allSettled(apps.splice(0).map((a) => a.close()));
});

/** Several apps on one memory:// namespace: as many processes sharing a broker and a backend. */
function cluster(): () => App {
  const name = `p${randomUUID().slice(0, 8)}`;
  const adapter = createMemoryAdapter();
  return () => {
    const app = createApp({ broker: `memory://${name}`, resultBackend: `memory://${name}`, adapters: [adapter], logLevel: 'silent' });
    apps.push(app);
    return app;
  };
}

function startWorker(app: App, ran: string[], options: { pauseCheckMs?: number; control?: boolean } = {}): Promise<Worker> {
  app.task('t.note', (label: string) => {
    ran.push(label);
    return label;
  });
  // By default the state is read once a minute only: the broadcast must do the work.
  const worker = app.worker({ queues: ['jobs'], concurrency: 1, pauseCheckMs: 60_000, ...options });
  workers.push(worker);
  return worker.start().then(() => worker);
}

describe('app.queues.pause / resume', () => {
  it('every worker stops taking a paused queue within a second and takes it again on resume', async () => {
    const make = cluster();
    const admin = make();
    const ran: string[] = [];
    await startWorker(make(), ran);
    await startWorker(make(), ran);
    await startWorker(make(), ran);

    await admin.queues.pause('jobs');
    expect(await admin.queues.paused('jobs')).toMatchObject({ paused: true, by: 'api' });
    await sleep(1_000);
    for (let i = 0; i < 6; i++) await admin.sendTask('t.note', [`while-paused-${i}`], {}, { queue: 'jobs' });
    await sleep(600);
    expect(ran).toEqual([]);
    expect((await admin.queueStats('jobs')).ready).toBe(6);

    await admin.queues.resume('jobs');
    expect(await admin.queues.paused('jobs')).toBeNull();
    await expect.poll(() => ran.length, { timeout: 1_500 }).toBe(6);
  });

  it('a worker started while the queue is paused does not consume it until resumed', async () => {
    const make = cluster();
    const admin = make();
    await admin.queues.pause('jobs');
    await admin.sendTask('t.note', ['early'], {}, { queue: 'jobs' });
    const ran: string[] = [];
    const worker = await startWorker(make(), ran);
    expect(worker.queues).toEqual([]);
    await sleep(700);
    expect(ran).toEqual([]);
    await admin.queues.resume('jobs');
    await expect.poll(() => ran, { timeout: 1_500 }).toEqual(['early']);
    expect(worker.queues).toEqual(['jobs']);
  });

  it('without remote control, the periodic read of the state pauses and resumes', async () => {
    const make = cluster();
    const admin = make();
    const ran: string[] = [];
    const worker = await startWorker(make(), ran, { control: false, pauseCheckMs: 250 });
    await admin.queues.pause('jobs');
    await expect.poll(() => worker.queues, { timeout: 1_000 }).toEqual([]);
    await admin.sendTask('t.note', ['held'], {}, { queue: 'jobs' });
    await sleep(500);
    expect(ran).toEqual([]);
    await admin.queues.resume('jobs');
    await expect.poll(() => ran, { timeout: 1_000 }).toEqual(['held']);
  });

  it('pausing needs a result backend', async () => {
    const app = createApp({ broker: 'memory://nobackend', resultBackend: null, adapters: [createMemoryAdapter()], logLevel: 'silent' });
    apps.push(app);
    await expect(app.queues.pause('jobs')).rejects.toMatchObject({ code: 'TQ_UNSUPPORTED' });
  });
});

describe("rateLimitScope: 'cluster'", () => {
  it('a worker refuses to start when its backend keeps no rate-limit buckets (memory://)', async () => {
    const make = cluster();
    const app = make();
    app.task('t.limited', () => 1, { rateLimit: '5/s', rateLimitScope: 'cluster' });
    const worker = app.worker({ queues: ['jobs'] });
    workers.push(worker);
    await expect(worker.start()).rejects.toMatchObject({ code: 'TQ_CONFIG_INVALID', issues: [{ path: 'tasks.t.limited.rateLimitScope' }] });
  });
});
