import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { recordBytes } from '../support/records.js';
import { eventually, withTimeout } from '../support/timing.js';
import { needs } from '../support/titles.js';

const decoder = new TextDecoder();

function statusOf(bytes: Uint8Array): string {
  return (JSON.parse(decoder.decode(bytes)) as { status: string }).status;
}

/** Waiting for a result: pushed by watch() where the backend can, else seen by polling fetch(). */
export function describeWatch(factory: BackendFactory, options: ConformanceOptions): void {
  describe('waiting for a result', () => {
    const h = new BackendHarness(factory, options);
    const { deliveryMs } = h.options.timeouts;

    it('a client polling fetch sees a result stored later by another client', async () => {
      const id = h.taskId();
      const reader = h.backend();
      expect(await reader.fetch(id)).toBeNull();
      const bytes = recordBytes(id, 'SUCCESS');
      const options = await h.to(reader, id);
      setTimeout(() => void h.backend().store(id, bytes, options), 200).unref();
      await eventually(async () => expect(await reader.fetch(id)).not.toBeNull(), { timeoutMs: deliveryMs });
    });

    it.skipIf(!h.capabilities.watch)(`watch yields the current record, then each update in order ${needs.capability('watch')}`, async () => {
      const id = h.taskId();
      const writer = h.backend();
      const watcher = h.backend();
      const options = await h.to(watcher, id);
      await writer.store(id, recordBytes(id, 'STARTED'), options);
      const controller = new AbortController();
      const iterator = watcher.watch!(id, controller.signal)[Symbol.asyncIterator]();
      const seen: string[] = [];
      const next = async () => {
        const result = await withTimeout(iterator.next(), deliveryMs, `watch update after ${seen.join(' → ') || 'nothing'}`);
        expect(result.done, 'watch ended early').toBe(false);
        const status = statusOf(result.value!);
        // A subscribe-then-read implementation may yield one record twice; that is harmless.
        if (seen.at(-1) !== status) seen.push(status);
        return status;
      };
      try {
        expect(await next(), 'the current record first').toBe('STARTED');
        await writer.store(id, recordBytes(id, 'PROGRESS'), options);
        while ((await next()) !== 'PROGRESS');
        await writer.store(id, recordBytes(id, 'SUCCESS'), options);
        while ((await next()) !== 'SUCCESS');
        expect(seen).toEqual(['STARTED', 'PROGRESS', 'SUCCESS']);
      } finally {
        controller.abort();
        await iterator.return?.();
      }
    });

    it.skipIf(!h.capabilities.watch)(`watch yields a record stored after it started ${needs.capability('watch')}`, async () => {
      const id = h.taskId();
      const controller = new AbortController();
      const watcher = h.backend();
      const options = await h.to(watcher, id);
      const iterator = watcher.watch!(id, controller.signal)[Symbol.asyncIterator]();
      const pending = iterator.next();
      const bytes = recordBytes(id, 'SUCCESS');
      // No "subscribed" signal exists, so keep storing until the watcher sees the record.
      const writer = h.backend();
      let stores = 0;
      const timer = setInterval(() => {
        stores++;
        void writer.store(id, bytes, options);
      }, 100);
      try {
        const result = await withTimeout(pending, deliveryMs, 'watch to yield a record stored after it started');
        expect(result.done).toBe(false);
        expect(Buffer.from(result.value!).equals(Buffer.from(bytes))).toBe(true);
        expect(stores).toBeGreaterThan(0);
      } finally {
        clearInterval(timer);
        controller.abort();
        await iterator.return?.();
      }
    });

    it.skipIf(!h.capabilities.watch)(`watch ends when its signal aborts ${needs.capability('watch')}`, async () => {
      const controller = new AbortController();
      const iterator = h.backend().watch!(h.taskId(), controller.signal)[Symbol.asyncIterator]();
      const pending = iterator.next();
      setTimeout(() => controller.abort(), 200).unref();
      const result = await withTimeout(pending, 5_000, 'watch to end after abort');
      expect(result.done).toBe(true);
    });
  });
}
