import { createApp, createMemoryAdapter, Reject, type App, type Worker } from '@tq/core';
import type { TqAdapter } from '@tq/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveOptions, type ConformanceOptions } from '../options.js';
import { withTimeout } from '../support/timing.js';
import { needs } from '../support/titles.js';
import { uniqueName } from '../support/unique-name.js';

/**
 * app.deadLetters through core on the adapter's own dead-letter store ("<queue>.dead"): a task
 * that rejects is dead-lettered; list/show read it without removing it; replay re-publishes it
 * with its id and a replay count; purge removes only what matches. Every broker with a broker
 * factory runs it: the dead-letter store is a queue of the broker.
 */
export function describeDeadLetters(adapter: TqAdapter, options: ConformanceOptions): void {
  describe('app: dead letters (list, show, replay, purge)', () => {
    const resolved = resolveOptions(options);
    const { deliveryMs } = resolved.timeouts;
    let running: { app: App; worker: Worker; queue: string } | undefined;

    afterEach(async () => {
      const current = running;
      running = undefined;
      if (!current) return;
      await withTimeout(current.worker.stop(), 15_000, 'worker.stop()').catch(() => current.worker.stop({ force: true }));
      await withTimeout(current.app.close(), 10_000, 'app.close()');
      if (resolved.deleteQueues) await resolved.deleteQueues([current.queue, resolved.deadLetterQueue(current.queue)]);
    }, 60_000);

    const probe = adapter.createBroker?.(resolved.url, resolved.adapterOptions);
    const inPlace = probe?.capabilities.requeueInPlace ?? true;
    void probe?.close().catch(() => undefined);

    it.skipIf(!inPlace)(`a rejected task is listed with its reason, replayed with its id and a replay count, purged by filter ${needs.capability('requeueInPlace')}`, async () => {
      const queue = uniqueName('dead', resolved.queuePrefix);
      const memory = createMemoryAdapter();
      const broker = adapter.createBroker
        ? adapter.createBroker(resolved.url, resolved.adapterOptions)
        : memory.createBroker!(new URL(`memory://${queue}`), {});
      const resultBackend = adapter.createResultBackend
        ? adapter.createResultBackend(resolved.resultBackendUrl, resolved.adapterOptions)
        : memory.createResultBackend!(new URL(`memory://${queue}`), {});
      const app = createApp({ broker, resultBackend, logLevel: 'silent', publishRetry: resolved.retry });
      let healed = false;
      app.task('kit.flaky', (x: number) => {
        if (!healed) throw new Reject(`not yet (${x})`);
        return x * 2;
      });
      app.task('kit.other', () => {
        throw new Reject('never');
      });
      const worker = app.worker({ queues: [queue], concurrency: 2 });
      running = { app, worker, queue };
      await worker.start();

      const a = await app.sendTask<number>('kit.flaky', [1], {}, { queue });
      const b = await app.sendTask<number>('kit.flaky', [2], {}, { queue });
      const c = await app.sendTask('kit.other', [], {}, { queue });
      const ids = async () => (await app.deadLetters.list({ queue })).map((l) => l.id).sort();
      await expect.poll(ids, { timeout: deliveryMs * 2, interval: 200 }).toEqual([a.id, b.id, c.id].sort());

      // Listing left every letter in place, and the filters narrow it.
      expect(await ids()).toEqual([a.id, b.id, c.id].sort());
      expect((await app.deadLetters.list({ queue, task: 'kit.other' })).map((l) => l.id)).toEqual([c.id]);
      expect(await app.deadLetters.list({ queue, since: new Date(Date.now() + 3_600_000) })).toEqual([]);
      const shown = await app.deadLetters.show(queue, b.id);
      expect(shown).toMatchObject({ id: b.id, task: 'kit.flaky', queue, code: 'TQ_REJECTED', reason: 'not yet (2)', replays: 0 });

      // Replayed while still failing: dead again, with one replay counted.
      expect((await app.deadLetters.replay({ queue, task: 'kit.flaky' })).map((l) => l.id).sort()).toEqual([a.id, b.id].sort());
      const replays = async () =>
        (await app.deadLetters.list({ queue }))
          .map((l) => `${l.id}:${l.replays}`)
          .sort();
      await expect.poll(replays, { timeout: deliveryMs * 2, interval: 200 }).toEqual([`${a.id}:1`, `${b.id}:1`, `${c.id}:0`].sort());

      // Healed: a replay runs under the original id and its result arrives.
      healed = true;
      await app.deadLetters.replay({ queue, ids: [a.id] });
      expect(await a.get({ timeout: deliveryMs })).toBe(2);

      expect((await app.deadLetters.purge({ queue, task: 'kit.other' })).map((l) => l.id)).toEqual([c.id]);
      expect(await ids()).toEqual([b.id]);
    });
  });
}
