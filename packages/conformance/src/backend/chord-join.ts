import { randomUUID } from 'node:crypto';
import type { ResultBackend } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { needs } from '../support/titles.js';

const encoder = new TextEncoder();
const partBytes = (taskId: string, value: unknown) => encoder.encode(JSON.stringify([1, taskId, 'SUCCESS', value]));

/**
 * capabilities.chordJoin: header parts reported from many clients at once complete the chord
 * exactly once, with every part in group order; a part reported twice counts once; nothing
 * completes before the size is set.
 */
export function describeChordJoin(factory: BackendFactory, options: ConformanceOptions): void {
  describe('chord join', () => {
    const h = new BackendHarness(factory, options);
    const join = (b: ResultBackend) => b as Required<Pick<ResultBackend, 'chordSetSize' | 'chordPartReturn'>>;

    it.skipIf(!h.capabilities.chordJoin)(`12 chords × 8 parts from 8 clients at once: each completes exactly once, parts in group order ${needs.capability('chordJoin')}`, async () => {
      const clients = Array.from({ length: 8 }, () => h.backend());
      for (const c of clients) await c.connect();
      const chords = Array.from({ length: 12 }, () => `conf-${randomUUID()}`);
      for (const groupId of chords) await join(clients[0]!.inner).chordSetSize(groupId, 8, {});
      const completions = new Map<string, (readonly Uint8Array[])[]>();
      await Promise.all(
        chords.flatMap((groupId) =>
          clients.map(async (client, index) => {
            // Reported out of order: the client with the highest index first.
            await new Promise((resolve) => setTimeout(resolve, (8 - index) % 3));
            const parts = await join(client.inner).chordPartReturn(groupId, { encoded: partBytes(`${groupId}-${index}`, index), groupIndex: index }, {});
            if (parts) completions.set(groupId, [...(completions.get(groupId) ?? []), parts]);
          }),
        ),
      );
      for (const groupId of chords) {
        const done = completions.get(groupId) ?? [];
        expect(done, `completions of ${groupId}`).toHaveLength(1);
        const values = done[0]!.map((bytes) => (JSON.parse(new TextDecoder().decode(bytes)) as unknown[])[3]);
        expect(values).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      }
    }, 60_000);

    it.skipIf(!h.capabilities.chordJoin)(`the same part reported twice counts once; no completion before the size is known ${needs.capability('chordJoin')}`, async () => {
      const backend = join(h.backend().inner);
      await (backend as unknown as ResultBackend).connect();
      const groupId = `conf-${randomUUID()}`;
      expect(await backend.chordPartReturn(groupId, { encoded: partBytes('a', 1), groupIndex: 0 }, {})).toBeNull();
      await backend.chordSetSize(groupId, 2, {});
      expect(await backend.chordPartReturn(groupId, { encoded: partBytes('a', 1), groupIndex: 0 }, {})).toBeNull();
      const parts = await backend.chordPartReturn(groupId, { encoded: partBytes('b', 2), groupIndex: 1 }, {});
      expect(parts?.length).toBe(2);
    });
  });
}
