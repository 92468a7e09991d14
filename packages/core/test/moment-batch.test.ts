import { describe, expect, it } from 'vitest';
import { MomentBatch } from '../src/broker/moment-batch.js';

describe('MomentBatch', () => {
  it('sends the calls of one moment as one batch per key, in call order', async () => {
    const sent: Array<[string, readonly number[]]> = [];
    const batch = new MomentBatch<number>(async (key, items) => void sent.push([key, items]));
    await Promise.all([batch.add('a', 1), batch.add('b', 2), batch.add('a', 3)]);
    expect(sent).toEqual([
      ['a', [1, 3]],
      ['b', [2]],
    ]);
    await batch.add('a', 4); // a later moment: a batch of its own
    expect(sent.at(-1)).toEqual(['a', [4]]);
  });

  it('splits a group at maxItems', async () => {
    const sizes: number[] = [];
    const batch = new MomentBatch<number>(async (_, items) => void sizes.push(items.length), { maxItems: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((n) => batch.add('k', n)));
    expect(sizes).toEqual([2, 2, 1]);
  });

  it('splits a group at about maxBytes by sizeOf, in order; an item larger than that goes alone', async () => {
    const sent: string[][] = [];
    const batch = new MomentBatch<string>(async (_, items) => void sent.push([...items]), { maxBytes: 10, sizeOf: (item) => item.length });
    await Promise.all(['aaaa', 'bbbb', 'cc', 'dddddddddddd', 'e', 'ffff', 'ggggggg'].map((item) => batch.add('k', item)));
    expect(sent).toEqual([['aaaa', 'bbbb', 'cc'], ['dddddddddddd'], ['e', 'ffff'], ['ggggggg']]);
  });

  it('settles each caller with its own group’s outcome', async () => {
    const batch = new MomentBatch<string>((key) => (key === 'bad' ? Promise.reject(new Error(`${key} failed`)) : Promise.resolve()));
    const syncThrow = new MomentBatch<string>(() => {
      throw new Error('thrown');
    });
    const results = await Promise.allSettled([batch.add('good', 'x'), batch.add('bad', 'y'), batch.add('bad', 'z'), syncThrow.add('k', 'w')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('bad failed');
    expect((results[3] as PromiseRejectedResult).reason.message).toBe('thrown');
  });

  it('hands each caller its own result when the batch returns one per item', async () => {
    const calls: number[] = [];
    const batch = new MomentBatch<number, string>(async (_, items) => {
      calls.push(items.length);
      return items.map((n) => `#${n}`);
    });
    expect(await Promise.all([1, 2, 3].map((n) => batch.add('k', n)))).toEqual(['#1', '#2', '#3']);
    expect(calls).toEqual([3]);
  });
});
