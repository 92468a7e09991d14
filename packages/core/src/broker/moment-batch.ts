interface Waiter<R> {
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

interface Group<T, R> {
  readonly items: T[];
  readonly waiters: Waiter<R>[];
}

/**
 * Coalesces the calls made in one moment (before the event loop's next check phase) into one
 * broker command per key: many concurrent publishes to one queue become one multi-value push,
 * many acks one multi-key delete, many reads one multi-key read (`send` then resolves to one
 * result per item, in order). Each caller's promise settles with its own group's outcome;
 * groups (keys) succeed or fail independently. A group holds at most `maxItems`: the rest start
 * a new group, sent in the same flush, so a command never grows without bound.
 *
 * A lone call waits one setImmediate (microseconds on an idle loop): batching costs nothing
 * measurable in latency and saves a command and a write syscall per extra item under load.
 */
export class MomentBatch<T, R = void> {
  readonly #send: (key: string, items: readonly T[]) => Promise<unknown>;
  readonly #maxItems: number;
  #groups = new Map<string, Group<T, R>[]>();
  #scheduled = false;

  /** `send` resolves to anything when R is void, else to one R per item. */
  constructor(send: (key: string, items: readonly T[]) => Promise<[R] extends [void] ? unknown : readonly R[]>, options: { maxItems?: number } = {}) {
    this.#send = send;
    this.#maxItems = Math.max(1, options.maxItems ?? 1000);
  }

  add(key: string, item: T): Promise<R> {
    let groups = this.#groups.get(key);
    if (!groups) this.#groups.set(key, (groups = []));
    let group = groups[groups.length - 1];
    if (!group || group.items.length >= this.#maxItems) groups.push((group = { items: [], waiters: [] }));
    group.items.push(item);
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
