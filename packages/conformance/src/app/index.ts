import { createApp, createMemoryAdapter, TaskError, type App, type TaskContext, type Worker } from '@tq/core';
import type { TqAdapter } from '@tq/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { proxyTarget, resolveOptions, type ConformanceOptions } from '../options.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { sleep, withTimeout } from '../support/timing.js';
import { needs } from '../support/titles.js';
import { uniqueName } from '../support/unique-name.js';

/**
 * End to end through core: sendTask → the adapter's broker → a worker → the result backend →
 * AsyncResult.get. Uses the adapter's result backend when it has one, else memory://.
 * When the adapter has no broker, memory:// carries the messages and the adapter's backend
 * stores the results.
 */
export function describeApp(adapter: TqAdapter, options: ConformanceOptions): void {
  describe('app: task round trip through core', () => {
    const resolved = resolveOptions(options);
    const { deliveryMs } = resolved.timeouts;
    const memory = createMemoryAdapter();
    let running: { app: App; worker: Worker; queue: string } | undefined;

    afterEach(async () => {
      const current = running;
      running = undefined;
      if (!current) return;
      await withTimeout(current.worker.stop(), 15_000, 'worker.stop()').catch(() => current.worker.stop({ force: true }));
      await withTimeout(current.app.close(), 10_000, 'app.close()');
      if (resolved.deleteQueues) await resolved.deleteQueues([current.queue, resolved.deadLetterQueue(current.queue)]);
    }, 60_000);

    /** An app on fresh broker/backend instances, a registered task set, and a started worker. */
    async function start(register: (app: App) => void): Promise<{ app: App; queue: string }> {
      const queue = uniqueName('app', resolved.queuePrefix);
      const broker = adapter.createBroker
        ? adapter.createBroker(resolved.url, resolved.adapterOptions)
        : memory.createBroker!(new URL(`memory://${queue}`), {});
      const resultBackend = adapter.createResultBackend
        ? adapter.createResultBackend(resolved.resultBackendUrl, resolved.adapterOptions)
        : memory.createResultBackend!(new URL(`memory://${queue}`), {});
      const app = createApp({ broker, resultBackend, logLevel: 'silent', publishRetry: resolved.retry });
      register(app);
      const worker = app.worker({ queues: [queue], concurrency: 2 });
      running = { app, worker, queue };
      await worker.start();
      return { app, queue };
    }

    it('sendTask reaches a worker and the result comes back (args and kwargs)', async () => {
      const { app, queue } = await start((a) => {
        a.task('tq.add', (x: number, y: number) => x + y);
        a.task('tq.greet', (name: string, kwargs: { greeting: string }) => `${kwargs.greeting}, ${name}`);
      });
      const sum = await app.sendTask<number>('tq.add', [2, 3], {}, { queue });
      const greeting = await app.sendTask<string>('tq.greet', ['żółw 🐢'], { greeting: 'cześć' }, { queue });
      expect(await sum.get({ timeout: deliveryMs })).toBe(5);
      expect(await greeting.get({ timeout: deliveryMs })).toBe('cześć, żółw 🐢');
      expect(await sum.state()).toBe('SUCCESS');
    });

    it('sendMany: 1500 calls (two chunks) all run, results in call order, one bad option publishes nothing', async () => {
      const { app, queue } = await start((a) => {
        a.task('tq.double', (x: number) => x * 2);
      });
      await expect(app.sendMany([{ name: 'tq.double', args: [1], options: { queue } }, { name: 'tq.double', args: [2], options: { queue, priority: 42 } }])).rejects.toThrow(/\[1\]\.priority/);
      const calls = Array.from({ length: 1500 }, (_, i) => ({ name: 'tq.double', args: [i], options: { queue } }));
      const results = await app.sendMany(calls);
      expect(new Set(results.map((r) => r.id)).size).toBe(1500);
      const values = await Promise.all(results.map((r) => r.get({ timeout: deliveryMs * 4 })));
      expect(values).toEqual(calls.map((_, i) => i * 2));
    }, 120_000);

    it('a failing task rethrows TaskError with type, message and traceback', async () => {
      const { app, queue } = await start((a) => {
        a.task('tq.fail', () => {
          throw new TypeError('boom from the task');
        });
      });
      const result = await app.sendTask('tq.fail', [], {}, { queue });
      const error = await result.get({ timeout: deliveryMs }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TaskError);
      const failure = error as TaskError;
      expect(failure.code).toBe('TQ_TASK_FAILED');
      expect(failure.excType).toBe('TypeError');
      expect(failure.excMessage).toBe('boom from the task');
      expect(failure.traceback ?? '').toContain('boom from the task');
      expect(await result.state()).toBe('FAILURE');
    });

    it('a task that retries runs again and then succeeds', async () => {
      let attempts = 0;
      const { app, queue } = await start((a) => {
        a.task('tq.flaky', function (this: TaskContext) {
          attempts++;
          if (this.retries < 2) this.retry({ countdown: 0.2, error: new Error(`attempt ${this.retries} failed`) });
          return `ok after ${this.retries} retries`;
        });
      });
      const result = await app.sendTask<string>('tq.flaky', [], {}, { queue });
      expect(await result.get({ timeout: deliveryMs * 2 })).toBe('ok after 2 retries');
      expect(attempts).toBe(3);
    });

    const liveness = resolved.liveness;
    const canSilence = adapter.createBroker !== undefined && liveness !== undefined && resolved.proxyUrl !== undefined && proxyTarget(resolved.url) !== undefined;
    const budget = (liveness?.detectionMs ?? 30_000) + 3_000;
    it.skipIf(!canSilence)(
      `worker.stop() and app.close() finish within the liveness bound while the broker is silent, with a task running and one held for its ETA ${needs.liveness}`,
      async () => {
        const proxy = await FaultProxy.start(proxyTarget(resolved.url)!);
        const queue = uniqueName('app-silent', resolved.queuePrefix);
        const url = resolved.proxyUrl!(resolved.url, proxy.port);
        for (const [key, value] of Object.entries(liveness!.query)) url.searchParams.set(key, value);
        const app = createApp({
          broker: adapter.createBroker!(url, resolved.adapterOptions),
          resultBackend: memory.createResultBackend!(new URL(`memory://${queue}`), {}),
          logLevel: 'silent',
          publishRetry: { maxRetries: 0, initialDelayMs: 100, maxDelayMs: 100 },
        });
        let started = 0;
        app.task('tq.slow', async () => {
          started++;
          await sleep(500);
          return 'done';
        });
        const worker = app.worker({ queues: [queue], concurrency: 2 });
        try {
          await worker.start();
          await app.sendTask('tq.slow', [], {}, { queue, countdown: 600 });
          await app.sendTask('tq.slow', [], {}, { queue });
          const deadline = Date.now() + deliveryMs;
          while (started === 0 && Date.now() < deadline) await sleep(20);
          expect(started, 'the task never started').toBe(1);
          proxy.silence();
          proxy.setMode('drop');
          const stopping = Date.now();
          await withTimeout(worker.stop(), budget, `worker.stop() while the broker is silent, within ${budget - 3_000} ms (it hung)`);
          await withTimeout(app.close(), budget, `app.close() while the broker is silent, within ${budget - 3_000} ms (it hung)`);
          console.info(`[conformance] worker.stop() + app.close() with a silent broker took ${Date.now() - stopping} ms`);
        } finally {
          await worker.stop({ force: true }).catch(() => undefined);
          await app.close().catch(() => undefined);
          await proxy.close();
          if (resolved.deleteQueues) await resolved.deleteQueues([queue, resolved.deadLetterQueue(queue)]);
        }
      },
      3 * budget + deliveryMs + 30_000,
    );

    it('countdown: the task does not run before its ETA', async () => {
      let ranAt = 0;
      const { app, queue } = await start((a) => {
        a.task('tq.when', () => {
          ranAt = Date.now();
          return 'ran';
        });
      });
      const sentAt = Date.now();
      const result = await app.sendTask<string>('tq.when', [], {}, { queue, countdown: 1 });
      expect(await result.get({ timeout: deliveryMs + 1_000 })).toBe('ran');
      // 50 ms of tolerance for timer granularity.
      expect(ranAt - sentAt, 'ran before its countdown').toBeGreaterThanOrEqual(950);
      expect(ranAt - sentAt, 'ran far later than its countdown').toBeLessThan(1_000 + deliveryMs);
    });
  });
}
