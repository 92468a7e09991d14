/**
 * A Redis result backend behind a FaultProxy goes dark while a worker on a Redis broker runs
 * tasks: no result may be lost, and no task may run twice because the outage outlasted the
 * broker's visibility timeout (the worker keeps the lease while it retries the record).
 * Runs are counted in this process, outside tq.
 */
import { createApp, TaskState, type App, type Worker } from '@tq/core';
import { decodeRecord } from '@tq/core/adapter';
import { FaultProxy, sleep, uniqueName } from '@tq/conformance';
import redisAdapter from '@tq/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const redis = await resolveBroker('redis');
afterAll(() => redis.stop(), 60_000);

describe('results while the Redis result backend is down', () => {
  if (!redis.url) {
    if (brokersRequired()) it('broker', () => expect.fail(`required under CI=true: ${redis.detail}`));
    else it.skip(`redis missing: ${redis.detail}`, () => undefined);
    return;
  }
  const redisUrl = new URL(redis.url);
  let proxy: FaultProxy | undefined;
  const apps: App[] = [];
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.allSettled(workers.splice(0).map((w) => w.stop({ force: true })));
    await Promise.allSettled(apps.splice(0).map((a) => a.close()));
    await proxy?.close();
  }, 30_000);

  /** A worker app: broker direct, backend through the proxy. */
  async function setUp(limitMs: number, visibilityTimeoutMs: number) {
    proxy = await FaultProxy.start({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    const backendUrl = new URL(redisUrl);
    backendUrl.host = `127.0.0.1:${proxy.port}`;
    const queue = uniqueName('faults.results');
    const app = createApp({
      broker: redisAdapter.createBroker!(redisUrl, { visibilityTimeoutMs }),
      resultBackend: redisAdapter.createResultBackend!(backendUrl, { connectTimeoutMs: 500 }),
      defaultQueue: queue,
      logLevel: 'silent',
      // One short guard retry per call: the worker's own result retry is under test.
      publishRetry: { maxRetries: 1, initialDelayMs: 50, maxDelayMs: 50 },
    });
    apps.push(app);
    // A producer that reads results straight from Redis, not through the proxy.
    const reader = createApp({ broker: redisAdapter.createBroker!(redisUrl, {}), resultBackend: redisAdapter.createResultBackend!(redisUrl, {}), defaultQueue: queue, logLevel: 'silent' });
    apps.push(reader);
    const runs = new Map<string, number>();
    app.task('faults.count', (id: string) => {
      runs.set(id, (runs.get(id) ?? 0) + 1);
      return id;
    });
    const worker = app.worker({ concurrency: 4, resultRetry: { limitMs, initialDelayMs: 100, maxDelayMs: 500 } });
    workers.push(worker);
    await worker.start();
    return { app, reader, runs, worker, proxy };
  }

  async function outage(proxy: FaultProxy, mode: 'drop' | 'refuse', ms: number): Promise<void> {
    proxy.setMode(mode);
    await sleep(ms);
    // A black hole ends as a real partition does: the connections it swallowed are reset.
    proxy.cut();
    proxy.setMode('forward');
  }

  for (const mode of ['drop', 'refuse'] as const) {
    it(`a ${mode} outage of 4 visibility timeouts: 0 lost results, no task run twice`, async () => {
      const { app, reader, runs, proxy } = await setUp(20_000, 1000);
      proxy.setMode(mode);
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push((await app.sendTask('faults.count', [`t${i}`])).id);
      await outage(proxy, mode, 4000);
      const values = await Promise.all(ids.map((id) => reader.asyncResult(id).get({ timeout: 15_000 })));
      expect(values).toEqual(ids.map((_, i) => `t${i}`));
      // Time for a copy redelivered after an expired lease to be restored and run.
      await sleep(2000);
      for (let i = 0; i < 10; i++) expect(runs.get(`t${i}`), `runs of t${i}`).toBe(1);
    });
  }

  // A 30 s visibility timeout: no expired lease redelivers the task and masks a lost record.
  it('an outage past the retry limit: the message is given back, the task runs again, 0 lost results', async () => {
    const { app, reader, runs, proxy } = await setUp(1000, 30_000);
    proxy.setMode('refuse');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await app.sendTask('faults.count', [`late${i}`])).id);
    await outage(proxy, 'refuse', 3500);
    const values = await Promise.all(ids.map((id) => reader.asyncResult(id).get({ timeout: 15_000 })));
    expect(values).toEqual(ids.map((_, i) => `late${i}`));
    for (let i = 0; i < 4; i++) expect(runs.get(`late${i}`), `runs of late${i}`).toBeGreaterThanOrEqual(2);
    for (const id of ids) {
      const bytes = await (await reader.backend())!.fetch(id);
      expect(decodeRecord(bytes!).status).toBe(TaskState.SUCCESS);
    }
  });
});
