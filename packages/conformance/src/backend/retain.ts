import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { recordBytes } from '../support/records.js';
import { needs } from '../support/titles.js';

/** retain (TaskOptions.keepResults): only the newest N records of a group, or those that fit a byte budget, survive. */
export function describeRetain(factory: BackendFactory, options: ConformanceOptions): void {
  describe('retain', () => {
    const h = new BackendHarness(factory, options);

    it.skipIf(h.capabilities.retain !== true)(`retain keeps the newest N of a group and forgets the older ones, other records untouched ${needs.capability('retain')}`, async () => {
      const backend = h.backend();
      const group = `kit-${randomUUID()}`;
      const outsider = h.taskId();
      await backend.store(outsider, recordBytes(outsider, 'SUCCESS'), {});
      const ids = Array.from({ length: 6 }, () => h.taskId());
      for (const id of ids) {
        await backend.store(id, recordBytes(id, 'SUCCESS'), {});
        await backend.retain!(group, id, 3);
      }
      const reader = h.backend();
      const present = await Promise.all(ids.map(async (id) => (await reader.fetch(id)) !== null));
      expect(present, 'records kept, oldest first').toEqual([false, false, false, true, true, true]);
      expect(await reader.fetch(outsider), 'a record outside the group').not.toBeNull();
    });

    it.skipIf(h.capabilities.retainBytes !== true)(`retain with a byte budget keeps the newest records that fit it, the newest always, counts too ${needs.capability('retainBytes')}`, async () => {
      const backend = h.backend();
      const group = `kit-${randomUUID()}`;
      const record = (id: string, size: number) => recordBytes(id, 'SUCCESS', 'x'.repeat(size));
      const ids = Array.from({ length: 6 }, () => h.taskId());
      const sizes: number[] = [];
      for (const id of ids) {
        const bytes = record(id, 1000);
        sizes.push(bytes.byteLength);
        await backend.store(id, bytes, {});
        // Room for three and a half records of the six: the newest three stay.
        await backend.retain!(group, id, null, Math.floor(sizes[0]! * 3.5));
      }
      const reader = h.backend();
      const present = async (list: string[]) => Promise.all(list.map(async (id) => (await reader.fetch(id)) !== null));
      expect(await present(ids), 'records kept by the byte budget, oldest first').toEqual([false, false, false, true, true, true]);

      // A record larger than the whole budget is kept (the newest always is); the others go.
      const big = h.taskId();
      await backend.store(big, record(big, 10_000), {});
      await backend.retain!(group, big, null, Math.floor(sizes[0]! * 3.5));
      expect(await present([...ids.slice(3), big]), 'after a record over the budget').toEqual([false, false, false, true]);

      // Count and budget together: whichever keeps fewer wins.
      const more = Array.from({ length: 3 }, () => h.taskId());
      for (const id of more) {
        await backend.store(id, record(id, 1000), {});
        await backend.retain!(group, id, 2, 1_000_000);
      }
      expect(await present([big, ...more]), 'the count limit under a large budget').toEqual([false, false, true, true]);
    });
  });
}
