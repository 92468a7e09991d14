import { describe, expect, it } from 'vitest';
import { OffsetTracker, decodeMetadata, encodeMetadata, maxMetadataLength } from '../src/offset-tracker.js';

describe('OffsetTracker', () => {
  it('commits nothing before anything completes', () => {
    const t = new OffsetTracker();
    t.track(0n);
    t.track(1n);
    expect(t.commitOffset).toBe(0n);
    expect(t.doneAhead).toEqual([]);
  });

  it('commits only the highest contiguous completed offset + 1', () => {
    const t = new OffsetTracker();
    for (const o of [10n, 11n, 12n, 13n]) t.track(o);
    expect(t.complete(12n)).toBe(true);
    expect(t.commitOffset).toBe(10n);
    expect(t.doneAhead).toEqual([12n]);
    t.complete(10n);
    expect(t.commitOffset).toBe(11n);
    t.complete(11n);
    expect(t.commitOffset).toBe(13n);
    expect(t.doneAhead).toEqual([]);
    t.complete(13n);
    expect(t.commitOffset).toBe(14n);
    expect(t.inFlight).toBe(0);
  });

  it('treats gaps in offsets (compaction, transaction markers) as contiguous in fetch order', () => {
    const t = new OffsetTracker();
    t.track(5n);
    t.track(9n);
    t.complete(5n);
    expect(t.commitOffset).toBe(9n);
    t.complete(9n);
    expect(t.commitOffset).toBe(10n);
  });

  it('ignores completing an unknown or already completed offset', () => {
    const t = new OffsetTracker();
    t.track(1n);
    expect(t.complete(1n)).toBe(true);
    const version = t.version;
    expect(t.complete(1n)).toBe(false);
    expect(t.complete(7n)).toBe(false);
    expect(t.version).toBe(version);
  });

  it('refuses offsets out of fetch order', () => {
    const t = new OffsetTracker();
    t.track(3n);
    expect(() => t.track(3n)).toThrow(RangeError);
    expect(() => t.track(2n)).toThrow(RangeError);
  });

  it('restores completed-ahead offsets and the delivered mark from its metadata', () => {
    const t = new OffsetTracker();
    for (let o = 100n; o < 110n; o++) t.track(o);
    for (const o of [100n, 101n, 103n, 104n, 107n]) t.complete(o);
    expect(t.commitOffset).toBe(102n);
    const restored = OffsetTracker.restore(t.commitOffset, t.metadata);
    // What the next owner skips: exactly the completed ones above the commit.
    const redelivered = [];
    for (let o = 102n; o < 110n; o++) {
      if (restored.wasDoneEarlier(o)) restored.skip(o);
      else redelivered.push(o);
      expect(restored.wasDeliveredBefore(o) || !redelivered.includes(o)).toBe(true);
    }
    expect(redelivered).toEqual([102n, 105n, 106n, 108n, 109n]);
    expect(restored.wasDeliveredBefore(110n)).toBe(false);
    for (const o of redelivered) restored.track(o);
    for (const o of redelivered) restored.complete(o);
    expect(restored.commitOffset).toBe(110n);
    expect(restored.doneAhead).toEqual([]);
  });

  it('knows offsets below the committed one', () => {
    const t = OffsetTracker.restore(50n, null);
    expect(t.isBehind(49n)).toBe(true);
    expect(t.isBehind(50n)).toBe(false);
    expect(new OffsetTracker().isBehind(0n)).toBe(false);
  });
});

describe('commit metadata', () => {
  it('round-trips', () => {
    const text = encodeMetadata(1000n, [1002n, 1040n, 99999n], 100500n);
    expect(text).toBe('tq1 d=24rw a=2,14,24dz');
    expect(decodeMetadata(1000n, text)).toEqual({ committed: 1000n, doneAhead: [1002n, 1040n, 99999n], highestDelivered: 100500n });
  });

  it('stays under Kafka offset.metadata.max.bytes, dropping the highest offsets (they are redelivered)', () => {
    const done = Array.from({ length: 5000 }, (_, i) => BigInt(2 * i + 1));
    const text = encodeMetadata(0n, done, 20000n);
    expect(text.length).toBeLessThanOrEqual(maxMetadataLength);
    const back = decodeMetadata(0n, text).doneAhead;
    expect(back.length).toBeGreaterThan(100);
    expect(back).toEqual(done.slice(0, back.length));
  });

  it('ignores metadata it did not write', () => {
    expect(decodeMetadata(5n, 'something else')).toEqual({ committed: 5n, doneAhead: [], highestDelivered: null });
    expect(decodeMetadata(5n, 'tq1 a=zz!,3 d=')).toEqual({ committed: 5n, doneAhead: [8n], highestDelivered: null });
    expect(decodeMetadata(null, 'tq1 a=1')).toEqual({ committed: null, doneAhead: [], highestDelivered: null });
  });
});
