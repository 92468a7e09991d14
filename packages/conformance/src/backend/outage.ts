import { isTqError } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { recordBytes } from '../support/records.js';
import { sleep, withTimeout } from '../support/timing.js';
import { needs } from '../support/titles.js';

/**
 * The backend's server going away for a moment. Core acks a task's message once the store of
 * its outcome resolves, and retries a store that rejects while it holds the message: so a store
 * must resolve only when the record is kept, and otherwise reject clearly
 * (BrokerConnectionError, TQ_BACKEND_UNAVAILABLE) — never resolve and drop it.
 */
export function describeBackendOutage(factory: BackendFactory, options: ConformanceOptions): void {
  describe('result backend outage', () => {
    const h = new BackendHarness(factory, options);
    const { outageMs } = h.options.timeouts;
    const retry = { maxRetries: 6, initialDelayMs: 200, maxDelayMs: 1_000 };

    it.skipIf(!h.canProxy)(
      `a store during a short outage keeps the record once it resolves, or rejects clearly ${needs.proxy}`,
      async () => {
        const { proxy, url } = await h.proxy();
        const writer = h.backend(url, retry);
        const reader = h.backend();
        const before = h.taskId();
        await writer.store(before, recordBytes(before, 'SUCCESS'), await h.to(reader, before));
        proxy.setMode('refuse');
        const id = h.taskId();
        const bytes = recordBytes(id, 'SUCCESS');
        const storing = writer.store(id, bytes, await h.to(reader, id)).then(
          () => ({ ok: true as const }),
          (error: unknown) => ({ ok: false as const, error }),
        );
        await sleep(1_000);
        proxy.setMode('forward');
        const outcome = await withTimeout(storing, outageMs, 'store to settle after the backend came back');
        if (outcome.ok) await h.expectRecord(reader, id, bytes, 'store resolved during the outage, so its record');
        else expect(isTqError(outcome.error, 'TQ_BACKEND_UNAVAILABLE'), `rejected with ${String(outcome.error)}`).toBe(true);
        console.info(`[conformance] store during a 1 s backend outage: ${outcome.ok ? 'retried and kept' : 'rejected'}`);
      },
      outageMs + 30_000,
    );

    it.skipIf(!h.canProxy)(
      `a record stored while its reader is disconnected reaches the reader once it is back ${needs.proxy}`,
      async () => {
        const { proxy, url } = await h.proxy();
        const reader = h.backend(url, retry);
        const writer = h.backend();
        const id = h.taskId();
        // The reader is connected (a reply-queue backend has declared its queue) before the cut.
        const storeOptions = await h.to(reader, id);
        expect(await reader.fetch(id)).toBeNull();
        proxy.setMode('refuse');
        await sleep(500);
        const bytes = recordBytes(id, 'SUCCESS');
        await writer.store(id, bytes, storeOptions);
        await sleep(500);
        proxy.setMode('forward');
        await withTimeout(
          (async () => {
            for (;;) {
              const read = await reader.fetch(id).catch(() => null);
              if (read && Buffer.from(read).equals(Buffer.from(bytes))) return;
              await sleep(200);
            }
          })(),
          outageMs,
          'the record stored while the reader was away to reach it',
        );
      },
      outageMs + 30_000,
    );
  });
}
