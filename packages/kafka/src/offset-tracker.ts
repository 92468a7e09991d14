/**
 * Progress of one partition for one consumer: which fetched offsets are still being worked on.
 *
 * Kafka keeps one committed offset per partition ("everything below is done"), so with several
 * messages of a partition in flight at once only the highest *contiguous* completed offset + 1
 * may be committed. Completed offsets above it are not lost either: they travel in the commit's
 * metadata string (Kafka stores it beside the offset), and the next owner of the partition
 * restores them and skips those messages. So a crash redelivers exactly the unfinished ones.
 *
 * Offsets are bigint (Kafka's int64) and need not be consecutive (compaction, transaction
 * markers leave gaps): "contiguous" means in fetch order, not integer steps.
 */
export class OffsetTracker {
  /** Offsets handed out and not yet done, with done ones awaiting the ones before them, in fetch order. */
  readonly #pending: { offset: bigint; done: boolean }[] = [];
  readonly #byOffset = new Map<bigint, { offset: bigint; done: boolean }>();
  /** Done in an earlier session (from commit metadata), above the committed offset. */
  readonly #doneEarlier: Set<bigint>;
  /** Next offset to commit: everything below it is done. */
  #committable: bigint | null;
  /** Highest offset ever handed out to a consumer of this group (restored from metadata). */
  #highestDelivered: bigint | null;
  #version = 0;

  constructor(restored?: RestoredProgress) {
    this.#committable = restored?.committed ?? null;
    this.#doneEarlier = new Set(restored?.doneAhead ?? []);
    this.#highestDelivered = restored?.highestDelivered ?? null;
  }

  /** Restores progress from a committed offset and its metadata (as written by `metadata`). */
  static restore(committed: bigint | null, metadata: string | null | undefined): OffsetTracker {
    return new OffsetTracker(decodeMetadata(committed, metadata));
  }

  /** Bumped on every change; the committer compares it to what it last wrote. */
  get version(): number {
    return this.#version;
  }

  /** Offsets handed out and not completed. */
  get inFlight(): number {
    let count = 0;
    for (const entry of this.#pending) if (!entry.done) count++;
    return count;
  }

  /** A message completed in an earlier session: `skip` it so the commit moves past it. */
  wasDoneEarlier(offset: bigint): boolean {
    return this.#doneEarlier.has(offset);
  }

  /** Below what is already committed (a refetch after a seek): nothing to do for it. */
  isBehind(offset: bigint): boolean {
    return this.#committable !== null && offset < this.#committable && !this.#byOffset.has(offset);
  }

  /** Handed out and not yet past the commit (pending, or done waiting for an earlier one). */
  has(offset: bigint): boolean {
    return this.#byOffset.has(offset);
  }

  /** Some consumer of the group was handed this offset before (it is being redelivered). */
  wasDeliveredBefore(offset: bigint): boolean {
    return this.#highestDelivered !== null && offset <= this.#highestDelivered && !this.#byOffset.has(offset);
  }

  /** The offset was handed out to the worker. Offsets must arrive in increasing order. */
  track(offset: bigint): void {
    const last = this.#pending.at(-1);
    if (last && offset <= last.offset) throw new RangeError(`offset ${offset} tracked after ${last.offset}`);
    const entry = { offset, done: false };
    this.#pending.push(entry);
    this.#byOffset.set(offset, entry);
    if (this.#highestDelivered === null || offset > this.#highestDelivered) this.#highestDelivered = offset;
    this.#version++;
  }

  /** A message done in an earlier session came by again: count it done without handing it out. */
  skip(offset: bigint): void {
    this.track(offset);
    this.complete(offset);
    this.#doneEarlier.delete(offset);
  }

  /**
   * The offset is finished (acked, republished or dead-lettered). Returns true when that changed
   * anything; completing an unknown or already completed offset is a no-op.
   */
  complete(offset: bigint): boolean {
    const entry = this.#byOffset.get(offset);
    if (!entry || entry.done) return false;
    entry.done = true;
    while (this.#pending.length > 0 && this.#pending[0]!.done) {
      const head = this.#pending.shift()!;
      this.#byOffset.delete(head.offset);
      this.#committable = head.offset + 1n;
    }
    this.#version++;
    return true;
  }

  /** The offset to commit: the first unfinished one, or one past the last completed. null = nothing to commit yet. */
  get commitOffset(): bigint | null {
    // Done entries are shifted off as soon as they reach the head, so the head is unfinished.
    return this.#pending[0]?.offset ?? this.#committable;
  }

  /** Completed offsets above `commitOffset` (they wait for an earlier one to finish). */
  get doneAhead(): bigint[] {
    const done = this.#pending.filter((entry) => entry.done).map((entry) => entry.offset);
    const base = this.commitOffset;
    for (const offset of this.#doneEarlier) if (base === null || offset >= base) done.push(offset);
    return done.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The commit metadata string that carries `doneAhead` and the highest delivered offset. */
  get metadata(): string {
    return encodeMetadata(this.commitOffset ?? 0n, this.doneAhead, this.#highestDelivered);
  }
}

export interface RestoredProgress {
  readonly committed: bigint | null;
  readonly doneAhead: readonly bigint[];
  readonly highestDelivered: bigint | null;
}

/** Kafka's default offset.metadata.max.bytes is 4096; stay under it. */
export const maxMetadataLength = 4000;

/**
 * "tq1 d=<delivered> a=<done>,<done>…": each number in base 36, as a distance from the
 * committed offset. If too many done offsets would not fit, the highest are left out: those
 * messages are then redelivered (at-least-once still holds).
 */
export function encodeMetadata(committed: bigint, doneAhead: readonly bigint[], highestDelivered: bigint | null): string {
  let text = 'tq1';
  if (highestDelivered !== null && highestDelivered >= committed) text += ` d=${(highestDelivered - committed).toString(36)}`;
  if (doneAhead.length > 0) {
    let list = '';
    for (const offset of doneAhead) {
      const item = (offset - committed).toString(36);
      if (text.length + 3 + list.length + item.length + 1 > maxMetadataLength) break;
      list += list ? `,${item}` : item;
    }
    if (list) text += ` a=${list}`;
  }
  return text;
}

export function decodeMetadata(committed: bigint | null, metadata: string | null | undefined): RestoredProgress {
  const empty = { committed, doneAhead: [], highestDelivered: null };
  if (committed === null || !metadata || !metadata.startsWith('tq1')) return empty;
  let highestDelivered: bigint | null = null;
  const doneAhead: bigint[] = [];
  for (const field of metadata.split(' ').slice(1)) {
    const [key, value] = field.split('=', 2);
    if (!value) continue;
    if (key === 'd') {
      const distance = parseBase36(value);
      if (distance !== null) highestDelivered = committed + distance;
    } else if (key === 'a') {
      for (const item of value.split(',')) {
        const distance = parseBase36(item);
        if (distance !== null && distance > 0n) doneAhead.push(committed + distance);
      }
    }
  }
  return { committed, doneAhead, highestDelivered };
}

function parseBase36(text: string): bigint | null {
  if (!/^[0-9a-z]{1,13}$/.test(text)) return null;
  let value = 0n;
  for (const char of text) value = value * 36n + BigInt(parseInt(char, 36));
  return value;
}
