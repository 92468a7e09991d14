/**
 * rpc:// results across a cut link. The worker's connection for results, or the producer's
 * (which holds its reply queue), goes through a FaultProxy and is refused for a few seconds
 * while tasks finish: every result must still reach the producer, and no task may run twice.
 */
import { createApp, type App, type Worker } from '@tq/core';
import { FaultProxy, sleep, uniqueName } from '@tq/conformance';
import amqpAdapter from '@tq/amqp';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deleteAmqpQueues } from '../harness/amqp-cleanup.js';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const amqp = await resolveBroker('amqp');
afterAll(() => amqp.stop(), 60_000);

describe('rpc:// results while a link to RabbitMQ is cut', () => {
  if (!amqp.url) {
    if (brokersRequired()) it('broker', () => expect.fail(`required under CI=true: ${amqp.detail}`));
    else it.skip(`amqp missing: ${amqp.detail}`, () => undefined);
    return;
  }
  const amqpUrl = new URL(amqp.url);
  let proxy: FaultProxy | undefined;
  const apps: App[] = [];
  const workers: Worker[] = [];
  const queues: string[] = [];
  afterEach(async () => {
    await Promise.allSettled(workers.splice(0).map((w) => w.stop({ force: true })));
    await Promise.allSettled(apps.splice(0).map((a) => a.close()));
    await proxy?.close();
    await deleteAmqpQueues(amqp.url!, queues.splice(0));
  }, 30_000);

  function rpcUrl(port: number | undefined): URL {
    const url = new URL(amqpUrl.toString().replace(/^amqp:/, 'rpc:'));
    if (port !== undefined) url.host = `127.0.0.1:${port}`;
    // A refused link fails at once whatever this is; a loaded machine needs seconds for a handshake.
    url.searchParams.set('connectTimeout', '5000');
    return url;
  }

  async function setUp(cut: 'worker' | 'producer') {
    proxy = await FaultProxy.start({ host: amqpUrl.hostname, port: Number(amqpUrl.port || 5672) });
    const queue = uniqueName('faults.rpc');
    queues.push(queue);
    const open = (throughProxy: boolean) => {
      const app = createApp({
        broker: amqpAdapter.createBroker!(amqpUrl, {}),
        resultBackend: amqpAdapter.createResultBackend!(rpcUrl(throughProxy ? proxy!.port : undefined), {}),
        defaultQueue: queue,
        logLevel: 'silent',
        publishRetry: { maxRetries: 1, initialDelayMs: 50, maxDelayMs: 50 },
      });
      apps.push(app);
      return app;
    };
    const workerApp = open(cut === 'worker');
    const producer = open(cut === 'producer');
    const runs = new Map<string, number>();
    workerApp.task('faults.count', (id: string) => {
      runs.set(id, (runs.get(id) ?? 0) + 1);
      return id;
    });
    const worker = workerApp.worker({ concurrency: 4, resultRetry: { limitMs: 20_000, initialDelayMs: 100, maxDelayMs: 500 } });
    workers.push(worker);
    await worker.start();
    // Both ends connected (the producer's reply queue declared) before the cut.
    await (await producer.sendTask('faults.count', ['warm-up'])).get({ timeout: 10_000 });
    return { producer, runs, proxy };
  }

  for (const cut of ['worker', 'producer'] as const) {
    it(`the ${cut}'s rpc link refused for 4 s: every result arrives, no task runs twice`, async () => {
      const { producer, runs, proxy } = await setUp(cut);
      proxy.setMode('refuse');
      const results = [];
      for (let i = 0; i < 8; i++) results.push(await producer.sendTask('faults.count', [`t${i}`]));
      await sleep(4000);
      proxy.setMode('forward');
      const values = await Promise.all(results.map((r) => r.get({ timeout: 20_000 })));
      expect(values).toEqual(results.map((_, i) => `t${i}`));
      for (let i = 0; i < 8; i++) expect(runs.get(`t${i}`), `runs of t${i}`).toBe(1);
    });
  }
});
