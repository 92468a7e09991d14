import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { recordBytes } from '../support/records.js';
import { needs } from '../support/titles.js';

/** retain (TaskOptions.keepResults): only the newest N records of a group survive. */
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
  });
}
