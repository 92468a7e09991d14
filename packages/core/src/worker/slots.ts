/** A counting semaphore: the worker's executor slots. acquire() waits for a free one. */
export class Slots {
  readonly size: number;
  #free: number;
  readonly #waiters: (() => void)[] = [];

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
    return new Promise((resolve) => {
      const onAbort = () => {
        const index = this.#waiters.indexOf(grant);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve(false);
      };
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      };
      this.#waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free = Math.min(this.size, this.#free + 1);
  }
}
