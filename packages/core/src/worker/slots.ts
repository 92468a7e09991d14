/** A counting semaphore: the worker's executor slots. acquire() waits for a free one. */
export class Slots {
  readonly size: number;
  #free: number;
  readonly #waiters: { readonly resolve: (granted: boolean) => void; readonly signal: AbortSignal | undefined }[] = [];
  readonly #watched = new WeakSet<AbortSignal>();

  constructor(size: number) {
    this.size = size;
    this.#free = size;
  }

  get active(): number {
    return this.size - this.#free;
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
    const next = this.#waiters.shift();
    if (next) next.resolve(true);
    else this.#free = Math.min(this.size, this.#free + 1);
  }
}
