import { describe, expect, it } from 'vitest';
import { encodeMetadata } from '../src/offset-tracker.js';
import { countPartitions } from '../src/queue-stats.js';

const partition = (low: number, high: number, committed: number | null, metadata: string | null = null) => ({
  low: BigInt(low),
  high: BigInt(high),
  committed: committed === null ? null : BigInt(committed),
  metadata,
});
const tq = (committed: number, done: number[], delivered: number | null) =>
  encodeMetadata(BigInt(committed), done.map(BigInt), delivered === null ? null : BigInt(delivered));

describe('Kafka queue counts from group offsets (countPartitions)', () => {
  it('a group that committed nothing: every record in the log is ready', () => {
    expect(countPartitions([partition(0, 4, null), partition(2, 5, null)])).toEqual({ ready: 7, unacked: 0 });
  });

  it("splits the lag at the highest offset handed out (tq's commit metadata): below it unacked, above it ready", () => {
    // Committed 10; 10..13 handed out, 12 done out of order; the log ends at 20.
    expect(countPartitions([partition(0, 20, 10, tq(10, [12], 13))])).toEqual({ ready: 6, unacked: 3 });
    // Everything handed out is done and committed.
    expect(countPartitions([partition(0, 20, 20, tq(20, [], null))])).toEqual({ ready: 0, unacked: 0 });
  });

  it("another client's group: the whole lag is ready and unacked is unknown", () => {
    expect(countPartitions([partition(0, 9, 4, 'not ours'), partition(0, 3, 3, 'not ours')])).toEqual({ ready: 5, unacked: null });
  });

  it('a commit without metadata (tq purge writes none; Kafka may answer "") counts the lag as ready', () => {
    expect(countPartitions([partition(0, 9, 4, ''), partition(0, 3, 1, null)])).toEqual({ ready: 7, unacked: 0 });
  });

  it('a commit below the log start (records removed by retention) counts from the log start', () => {
    expect(countPartitions([partition(50, 60, 10, tq(10, [], 30))])).toEqual({ ready: 10, unacked: 0 });
  });

  it('a stale "handed out" mark past the end of the log counts no more than the log', () => {
    expect(countPartitions([partition(0, 5, 2, tq(2, [], 9))])).toEqual({ ready: 0, unacked: 3 });
  });
});
