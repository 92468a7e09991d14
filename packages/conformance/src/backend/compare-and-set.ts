import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { needs } from '../support/titles.js';

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const text = (value: Uint8Array | undefined) => (value ? Buffer.from(value).toString('utf8') : undefined);

/**
 * Versioned records with compare-and-set (capabilities.compareAndSet): what tq beat's leader
 * lease and tick claims stand on. Of two writers that read the same version, exactly one wins.
 */
export function describeCompareAndSet(factory: BackendFactory, options: ConformanceOptions): void {
  describe('compare-and-set', () => {
    const h = new BackendHarness(factory, options);
    const claimed = h.capabilities.compareAndSet ?? false;
    // Keys are the test's own; the kit cannot delete them (the contract has no delete), so they are tiny.
    const key = () => `tqc-cas.${randomUUID()}`;

    it.skipIf(!claimed)(`create only when absent, then update only from the current version ${needs.capability('compareAndSet')}`, async () => {
      const backend = h.backend();
      const k = key();
      expect(await backend.getVersioned(k)).toBeNull();
      const v1 = await backend.compareAndSet(k, bytes('one'), null);
      expect(v1, 'creating an absent record').not.toBeNull();
      expect(await backend.compareAndSet(k, bytes('again'), null), 'creating a record that exists').toBeNull();
      const read = await h.backend().getVersioned(k);
      expect({ value: text(read?.value), version: read?.version }).toEqual({ value: 'one', version: v1 });
      const v2 = await backend.compareAndSet(k, bytes('two'), v1);
      expect(v2).not.toBeNull();
      expect(v2).not.toBe(v1);
      expect(await backend.compareAndSet(k, bytes('stale'), v1), 'a write from a stale version').toBeNull();
      expect(text((await h.backend().getVersioned(k))?.value)).toBe('two');
    });

    it.skipIf(!claimed)(`of writers racing from one version, exactly one wins ${needs.capability('compareAndSet')}`, async () => {
      const k = key();
      const start = await h.backend().compareAndSet(k, bytes('0'), null);
      const writers = Array.from({ length: 8 }, () => h.backend());
      const results = await Promise.all(writers.map((w, i) => w.compareAndSet(k, bytes(`writer ${i}`), start)));
      const winners = results.flatMap((r, i) => (r === null ? [] : [i]));
      expect(winners).toHaveLength(1);
      expect(text((await h.backend().getVersioned(k))?.value)).toBe(`writer ${winners[0]}`);
    });

    it.skipIf(!claimed)(`a counter incremented by racing read-modify-write loops loses no increment ${needs.capability('compareAndSet')}`, async () => {
      const k = key();
      const increment = async (backend: ReturnType<typeof h.backend>) => {
        for (let i = 0; i < 10; i++) {
          for (;;) {
            const read = await backend.getVersioned(k);
            const next = Number(text(read?.value) ?? '0') + 1;
            if ((await backend.compareAndSet(k, bytes(String(next)), read?.version ?? null)) !== null) break;
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, () => increment(h.backend())));
      expect(text((await h.backend().getVersioned(k))?.value)).toBe('40');
    });
  });
}
