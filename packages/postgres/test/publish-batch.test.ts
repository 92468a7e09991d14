import { describe, expect, it } from 'vitest';
import { PublishBatch } from '../src/publish-batch.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('PublishBatch', () => {
  it('sends a lone publish at once, and the ones that arrive meanwhile together, in order', async () => {
    const flushes: { items: number[]; done: ReturnType<typeof deferred> }[] = [];
    const batch = new PublishBatch<number>(
      (items) => {
        const done = deferred();
        flushes.push({ items, done });
        return done.promise;
      },
      { maxInFlight: 1, maxRows: 3 },
    );
    const settled: number[] = [];
    const first = batch.add(0).then(() => settled.push(0));
    await Promise.resolve();
    expect(flushes.map((f) => f.items)).toEqual([[0]]);
    const later = [1, 2, 3, 4].map((i) => batch.add(i).then(() => settled.push(i)));
    await Promise.resolve();
    expect(flushes).toHaveLength(1); // one in flight at most
    flushes[0]!.done.resolve();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushes.map((f) => f.items)).toEqual([[0], [1, 2, 3]]);
    expect(settled).toEqual([0]); // 1..3 settle only when their own INSERT commits
    flushes[1]!.done.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushes.map((f) => f.items)).toEqual([[0], [1, 2, 3], [4]]);
    flushes[2]!.done.resolve();
    await Promise.all(later);
    expect(settled).toEqual([0, 1, 2, 3, 4]);
  });

  it('rejects every publish of a failed INSERT and goes on with the next ones', async () => {
    let calls = 0;
    const batch = new PublishBatch<string>(
      async (items) => {
        calls++;
        if (items.includes('bad')) throw new Error('insert failed');
      },
      { maxInFlight: 1, maxRows: 10 },
    );
    const outcomes = await Promise.allSettled([batch.add('a'), batch.add('bad'), batch.add('c')]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await expect(batch.add('d')).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });
});
