/** A counting semaphore: the worker's executor slots. acquire() waits for a free one. */
export class Slots {
  #size: number;
  #free: number;
  readonly #waiters: { readonly resolve: (granted: boolean) => void; readonly signal: AbortSignal | undefined }[] = [];
  readonly #watched = new WeakSet<AbortSignal>();

  constructor(size: number) {
    this.#size = size;
    this.#free = size;
  }

  get size(): number {
    return this.#size;
  }

  get active(): number {
    return this.#size - this.#free;
  }

  /**
   * Grows or shrinks the pool (remote control's pool_grow/pool_shrink). Growing wakes waiters at
   * once; shrinking takes effect as running work releases its slots.
   */
  resize(size: number): void {
    this.#free += size - this.#size;
    this.#size = size;
    while (this.#free > 0 && this.#waiters.length > 0) {
      this.#free--;
      this.#waiters.shift()!.resolve(true);
    }
  }

  /** Resolves true once a slot is taken, or false if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(true);
    }
    // One abort listener per signal, not one per wait: at concurrency 1 every task waits here.
    if (signal && !this.#watched.has(signal)) {
      this.#watched.add(signal);
      signal.addEventListener('abort', () => this.#abandon(signal), { once: true });
    }
    return new Promise((resolve) => this.#waiters.push({ resolve, signal }));
  }

  #abandon(signal: AbortSignal): void {
    const waiting = this.#waiters.splice(0);
    for (const waiter of waiting) {
      if (waiter.signal === signal) waiter.resolve(false);
      else this.#waiters.push(waiter);
    }
  }

  release(): void {
    // After a shrink, a released slot pays the debt first.
    if (this.#free < 0) {
      this.#free++;
      return;
    }
    const next = this.#waiters.shift();
    if (next) next.resolve(true);
    else this.#free = Math.min(this.#size, this.#free + 1);
  }
}
