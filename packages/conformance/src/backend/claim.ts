import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { sleep } from '../support/timing.js';
import { needs } from '../support/titles.js';

/** claim / releaseClaim (deduplication of sends): one winner per key across clients, expiry, release by the holder only. */
export function describeClaim(factory: BackendFactory, options: ConformanceOptions): void {
  describe('claim', () => {
    const h = new BackendHarness(factory, options);
    const supported = h.capabilities.claim === true;
    const key = () => `kit-${randomUUID()}`;

    it.skipIf(!supported)(`20 clients claiming one key at once: exactly one wins, the rest see its value ${needs.capability('claim')}`, async () => {
      const clients = Array.from({ length: 20 }, () => h.backend());
      await Promise.all(clients.map((c) => c.connect()));
      const k = key();
      const answers = await Promise.all(clients.map((c, i) => c.claim!(k, `holder-${i}`, 30_000)));
      const winners = answers.flatMap((a, i) => (a === null ? [i] : []));
      expect(winners, 'claims that returned null (won)').toHaveLength(1);
      expect(new Set(answers.filter((a) => a !== null)), 'every loser sees the winner').toEqual(new Set([`holder-${winners[0]}`]));
      expect(await h.backend().claim!(k, 'late', 30_000)).toBe(`holder-${winners[0]}`);
    });

    it.skipIf(!supported)(`a claim ends after its ttl, keys are independent ${needs.capability('claim')}`, async () => {
      const backend = h.backend();
      const k = key();
      expect(await backend.claim!(k, 'first', 300)).toBeNull();
      expect(await backend.claim!(key(), 'other', 300), 'another key').toBeNull();
      expect(await backend.claim!(k, 'second', 300)).toBe('first');
      await sleep(700);
      expect(await backend.claim!(k, 'third', 30_000), 'claimable again after the ttl').toBeNull();
    });

    it.skipIf(!supported)(`releaseClaim frees the key only for the value that holds it ${needs.capability('claim')}`, async () => {
      const backend = h.backend();
      const k = key();
      expect(await backend.claim!(k, 'mine', 30_000)).toBeNull();
      await backend.releaseClaim!(k, 'not-mine');
      expect(await backend.claim!(k, 'again', 30_000), 'released by a non-holder').toBe('mine');
      await backend.releaseClaim!(k, 'mine');
      expect(await h.backend().claim!(k, 'next', 30_000)).toBeNull();
    });

    it.skipIf(!supported)(`claims live apart from task records ${needs.capability('claim')}`, async () => {
      const backend = h.backend();
      const id = h.taskId();
      expect(await backend.claim!(id, 'holder', 30_000)).toBeNull();
      expect(await backend.fetch(id), 'a claim must not read as a task record').toBeNull();
    });
  });
}
