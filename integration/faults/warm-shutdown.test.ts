/**
 * A worker's warm shutdown on each broker: while its running task finishes, the tasks it had
 * prefetched but not started must reach another worker at once (not after AckWait or a
 * visibility timeout), and every task must run exactly once. Runs are counted in this process.
 */
import { createApp, type App, type TqAdapter, type Worker } from '@tq/core';
import { uniqueName } from '@tq/conformance';
import amqpAdapter from '@tq/amqp';
import natsAdapter from '@tq/nats';
import redisAdapter from '@tq/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deleteAmqpQueues } from '../harness/amqp-cleanup.js';
import { brokersRequired, resolveBroker, type BrokerName } from '../harness/brokers.js';

const adapters: Partial<Record<BrokerName, TqAdapter>> = { redis: redisAdapter, amqp: amqpAdapter, nats: natsAdapter };
/** Well under JetStream's AckWait (30 s) and Redis' visibility timeout (30 s); above NATS' pull expiry (5 s). */
const handBackMs = 10_000;

for (const name of ['redis', 'amqp', 'nats'] as const) {
  const endpoint = await resolveBroker(name);
  afterAll(() => endpoint.stop(), 60_000);

  describe(`warm shutdown on ${name}`, () => {
    if (!endpoint.url) {
      if (brokersRequired()) it('broker', () => expect.fail(`required under CI=true: ${endpoint.detail}`));
      else it.skip(`${name} missing: ${endpoint.detail}`, () => undefined);
      return;
    }
    const apps: App[] = [];
    const workers: Worker[] = [];
    const queues: string[] = [];
    afterEach(async () => {
      await Promise.allSettled(workers.splice(0).map((w) => w.stop({ force: true })));
      await Promise.allSettled(apps.splice(0).map((a) => a.close()));
      if (name === 'amqp') await deleteAmqpQueues(endpoint.url!, queues.splice(0));
    }, 30_000);

    it('prefetched tasks go to another worker at once while the running one finishes; each runs once', async () => {
      const queue = uniqueName('faults.stop');
      queues.push(queue);
      const runs = new Map<string, number>();
      const done = new Map<string, () => void>();
      const finished = (id: string) => new Promise<void>((resolve) => done.set(id, resolve));
      let release: () => void = () => undefined;
      const blocker = new Promise<void>((resolve) => (release = resolve));
      let blockerStarted: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (blockerStarted = resolve));
      const open = () => {
        const app = createApp({ broker: adapters[name]!.createBroker!(new URL(endpoint.url!), endpoint.adapterOptions), resultBackend: null, defaultQueue: queue, logLevel: 'silent' });
        apps.push(app);
        app.task('faults.block', async () => {
          blockerStarted();
          await blocker;
          done.get('block')?.();
        });
        app.task('faults.quick', (id: string) => {
          runs.set(id, (runs.get(id) ?? 0) + 1);
          done.get(id)?.();
        });
        return app;
      };
      const app = open();
      const first = app.worker({ concurrency: 1, prefetchMultiplier: 4 });
      workers.push(first);
      await first.start();
      const blockDone = finished('block');
      await app.sendTask('faults.block');
      await started;
      // Fewer than the prefetch window (4): a pull-based consumer still has a pull open at the stop.
      const ids = ['q0', 'q1'];
      const quickDone = ids.map(finished);
      for (const id of ids) await app.sendTask('faults.quick', [id]);
      // Let the first worker prefetch them (it cannot run them: its one slot is busy).
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(runs.size, 'a quick task ran before the stop').toBe(0);
      const stopping = first.stop();
      const second = open().worker({ concurrency: 1 });
      workers.push(second);
      await second.start();
      const at = Date.now();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(quickDone),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`prefetched tasks not back within ${handBackMs} ms: ran ${JSON.stringify([...runs])}`)), handBackMs))),
      ]).finally(() => clearTimeout(timer));
      expect(Date.now() - at).toBeLessThan(handBackMs);
      release();
      await blockDone;
      await stopping;
      // Time for a copy lost in the shutdown to come back and run twice.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      for (const id of ids) expect(runs.get(id), `runs of ${id}`).toBe(1);
    }, 40_000);
  });
}
