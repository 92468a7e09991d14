interface Waiter<R> {
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

interface Group<T, R> {
  readonly items: T[];
  readonly waiters: Waiter<R>[];
  /** The items' total size by `sizeOf` (0 without it). */
  bytes: number;
}

export interface MomentBatchOptions<T> {
  /** At most this many items a command (default 1000). */
  readonly maxItems?: number;
  /**
   * At most about this many bytes a command, by `sizeOf` (an item larger than that goes alone).
   * Why an adapter wants it: V8 puts a string over 128 KB (a command's text, flattened for the
   * socket write) on pages of its own, mapped for it and unmapped at the next collection, and
   * the page faults of that cost more than the commands it saves (Redis enqueue: 26 → 17 µs of
   * CPU a task with commands kept under 64 KB, docs/benchmarks.md).
   */
  readonly maxBytes?: number;
  readonly sizeOf?: (item: T) => number;
}

/**
 * Coalesces the calls made in one moment (before the event loop's next check phase) into one
 * broker command per key: many concurrent publishes to one queue become one multi-value push,
 * many acks one multi-key delete, many reads one multi-key read (`send` then resolves to one
 * result per item, in order). Each caller's promise settles with its own group's outcome;
 * groups (keys) succeed or fail independently. A group holds at most `maxItems` (and, with
 * `sizeOf`, about `maxBytes`): the rest start a new group, sent in the same flush and in order,
 * so a command never grows without bound.
 *
 * A lone call waits one setImmediate (microseconds on an idle loop): batching costs nothing
 * measurable in latency and saves a command and a write syscall per extra item under load.
 */
export class MomentBatch<T, R = void> {
  readonly #send: (key: string, items: readonly T[]) => Promise<unknown>;
  readonly #maxItems: number;
  readonly #maxBytes: number;
  readonly #sizeOf: ((item: T) => number) | undefined;
  #groups = new Map<string, Group<T, R>[]>();
  #scheduled = false;

  /** `send` resolves to anything when R is void, else to one R per item. */
  constructor(send: (key: string, items: readonly T[]) => Promise<[R] extends [void] ? unknown : readonly R[]>, options: MomentBatchOptions<T> = {}) {
    this.#send = send;
    this.#maxItems = Math.max(1, options.maxItems ?? 1000);
    this.#maxBytes = options.maxBytes ?? Infinity;
    this.#sizeOf = options.sizeOf;
  }

  add(key: string, item: T): Promise<R> {
    let groups = this.#groups.get(key);
    if (!groups) this.#groups.set(key, (groups = []));
    let group = groups[groups.length - 1];
    const size = this.#sizeOf ? this.#sizeOf(item) : 0;
    if (!group || group.items.length >= this.#maxItems || (group.items.length > 0 && group.bytes + size > this.#maxBytes)) {
      groups.push((group = { items: [], waiters: [], bytes: 0 }));
    }
    group.items.push(item);
    group.bytes += size;
    const promise = new Promise<R>((resolve, reject) => group.waiters.push({ resolve, reject }));
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    return promise;
  }

  #flush(): void {
    const due = this.#groups;
    this.#groups = new Map();
    this.#scheduled = false;
    for (const [key, groups] of due) {
      for (const { items, waiters } of groups) {
        let sent: Promise<unknown>;
        try {
          sent = this.#send(key, items);
        } catch (error) {
          sent = Promise.reject(error);
        }
        sent.then(
          (results) => waiters.forEach((w, i) => w.resolve((Array.isArray(results) ? results[i] : undefined) as R)),
          (error: unknown) => waiters.forEach((w) => w.reject(error)),
        );
      }
    }
  }
}
