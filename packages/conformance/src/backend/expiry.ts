import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { recordBytes } from '../support/records.js';
import { eventually, sleep } from '../support/timing.js';
import { needs } from '../support/titles.js';

export function describeExpiry(factory: BackendFactory, options: ConformanceOptions): void {
  describe('expiry', () => {
    const h = new BackendHarness(factory, options);

    it.skipIf(!h.capabilities.expiry)(`records expire after ttlMs ${needs.capability('expiry')}`, async () => {
      const backend = h.backend();
      const shortLived = h.taskId();
      const longLived = h.taskId();
      const ttlMs = 1_500;
      const stored = Date.now();
      await backend.store(shortLived, recordBytes(shortLived, 'SUCCESS'), await h.to(backend, shortLived, { ttlMs }));
      await backend.store(longLived, recordBytes(longLived, 'SUCCESS'), await h.to(backend, longLived, { ttlMs: 60_000 }));
      expect(await backend.fetch(shortLived), 'expired at once').not.toBeNull();
      await sleep(ttlMs / 2);
      expect(await backend.fetch(shortLived), 'expired before half its ttl').not.toBeNull();
      await eventually(async () => expect(await backend.fetch(shortLived)).toBeNull(), { timeoutMs: ttlMs + 5_000, intervalMs: 100 });
      expect(Date.now() - stored, 'expired too early').toBeGreaterThanOrEqual(ttlMs - 50);
      expect(await backend.fetch(longLived), 'a record with a long ttl expired').not.toBeNull();
    });
  });
}
