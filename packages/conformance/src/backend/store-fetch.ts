import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { recordBytes } from '../support/records.js';

const states = ['PENDING', 'RECEIVED', 'STARTED', 'PROGRESS', 'RETRY', 'FAILURE', 'SUCCESS', 'REVOKED', 'REJECTED'] as const;

/** The backend keeps the latest record per task id, byte for byte. */
export function describeStoreFetch(factory: BackendFactory, options: ConformanceOptions): void {
  describe('store and fetch', () => {
    const h = new BackendHarness(factory, options);

    it(`stores and reads back every state byte-exact (${states.join(', ')})`, async () => {
      const backend = h.backend();
      const written = new Map<string, Uint8Array>();
      for (const status of states) {
        const id = h.taskId();
        const bytes = recordBytes(id, status);
        await backend.store(id, bytes, await h.to(backend, id));
        written.set(id, bytes);
      }
      for (const [id, bytes] of written) {
        const read = await backend.fetch(id);
        expect(read, `record of ${id}`).not.toBeNull();
        expect(Buffer.from(read!).toString('utf8')).toBe(Buffer.from(bytes).toString('utf8'));
        expect(Buffer.from(read!).equals(Buffer.from(bytes))).toBe(true);
      }
    });

    it('fetch of an unknown task id is null', async () => {
      expect(await h.backend().fetch(h.taskId())).toBeNull();
    });

    it('store replaces the previous record', async () => {
      const backend = h.backend();
      const id = h.taskId();
      await backend.store(id, recordBytes(id, 'STARTED'), await h.to(backend, id));
      const final = recordBytes(id, 'SUCCESS');
      await backend.store(id, final, await h.to(backend, id));
      expect(Buffer.from((await backend.fetch(id))!).equals(Buffer.from(final))).toBe(true);
    });

    it('a record stored by one client is read by another', async () => {
      const id = h.taskId();
      const bytes = recordBytes(id, 'SUCCESS');
      const reader = h.backend();
      await h.backend().store(id, bytes, await h.to(reader, id));
      await h.expectRecord(reader, id, bytes);
    });

    it('large (1 MiB) and unicode records', async () => {
      const backend = h.backend();
      const id = h.taskId();
      const big = recordBytes(id, 'SUCCESS', { blob: 'x'.repeat(1024 * 1024), text: '漢字 עברית e\u0301 🐢 \u0000' });
      await backend.store(id, big, await h.to(backend, id));
      const read = await backend.fetch(id);
      expect(read?.byteLength).toBe(big.byteLength);
      expect(Buffer.from(read!).equals(Buffer.from(big))).toBe(true);
    });

    it('progress updates: every fetch sees the latest', async () => {
      const writer = h.backend();
      const reader = h.backend();
      const id = h.taskId();
      for (let current = 1; current <= 10; current++) {
        const bytes = recordBytes(id, 'PROGRESS', { current, total: 10 });
        await writer.store(id, bytes, await h.to(reader, id));
        await h.expectRecord(reader, id, bytes, `after progress ${current}`);
      }
    });
  });
}
