import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { recordBytes } from '../support/records.js';

/** Many clients writing at once: nothing lost, no torn or mixed records. */
export function describeConcurrentWriters(factory: BackendFactory, options: ConformanceOptions): void {
  describe('concurrent writers', () => {
    const h = new BackendHarness(factory, options);

    it('8 clients × 50 writes: distinct tasks all kept, a shared task ends with one whole record', async () => {
      const clients = Array.from({ length: 8 }, () => h.backend());
      const reader = h.backend();
      const shared = h.taskId();
      const candidates = new Set<string>();
      const own = new Map<string, Uint8Array>();
      await Promise.all(
        clients.map(async (client, c) => {
          for (let i = 0; i < 50; i++) {
            const id = h.taskId();
            const bytes = recordBytes(id, 'SUCCESS', { client: c, i });
            own.set(id, bytes);
            const sharedBytes = recordBytes(shared, 'PROGRESS', { client: c, i, pad: 'p'.repeat(i * 40) });
            candidates.add(Buffer.from(sharedBytes).toString('base64'));
            await Promise.all([client.store(id, bytes, await h.to(reader, id)), client.store(shared, sharedBytes, await h.to(reader, shared))]);
          }
        }),
      );
      const missing: string[] = [];
      for (const [id, bytes] of own) {
        await h.expectRecord(reader, id, bytes).catch((error: Error) => missing.push(error.message));
      }
      expect(missing, 'records lost or altered').toEqual([]);
      const last = await reader.fetch(shared);
      expect(last).not.toBeNull();
      expect(candidates.has(Buffer.from(last!).toString('base64')), 'the shared record is not one of the records written').toBe(true);
    }, 60_000);
  });
}
