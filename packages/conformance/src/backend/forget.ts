import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { recordBytes } from '../support/records.js';

export function describeForget(factory: BackendFactory, options: ConformanceOptions): void {
  describe('forget', () => {
    const h = new BackendHarness(factory, options);

    it('forget removes the record, and only that one', async () => {
      const backend = h.backend();
      const gone = h.taskId();
      const kept = h.taskId();
      await backend.store(gone, recordBytes(gone, 'SUCCESS'), await h.to(backend, gone));
      await backend.store(kept, recordBytes(kept, 'SUCCESS'), await h.to(backend, kept));
      await backend.forget(gone);
      expect(await backend.fetch(gone)).toBeNull();
      expect(await h.backend().fetch(gone), 'another client still sees the forgotten record').toBeNull();
      expect(await backend.fetch(kept)).not.toBeNull();
    });

    it('forgetting an unknown task id succeeds', async () => {
      await expect(h.backend().forget(h.taskId())).resolves.toBeUndefined();
    });
  });
}
