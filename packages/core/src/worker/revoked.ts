/**
 * Ids of revoked tasks this worker has heard of, kept for `ttlMs` and bounded in size
 * (Celery keeps 50,000 for 3 hours): a revoked task is skipped when it arrives.
 */
export class RevokedSet {
  readonly #ids = new Map<string, number>();
  readonly #max: number;
  readonly #ttlMs: number;

  constructor(options: { max?: number; ttlMs?: number } = {}) {
    this.#max = options.max ?? 50_000;
    this.#ttlMs = options.ttlMs ?? 3 * 3_600_000;
  }

  add(id: string, now = Date.now()): void {
    this.#ids.delete(id);
    this.#ids.set(id, now + this.#ttlMs);
    while (this.#ids.size > this.#max) this.#ids.delete(this.#ids.keys().next().value!);
  }

  has(id: string, now = Date.now()): boolean {
    const until = this.#ids.get(id);
    if (until === undefined) return false;
    if (until < now) {
      this.#ids.delete(id);
      return false;
    }
    return true;
  }

  /** The ids still remembered, oldest first. */
  ids(now = Date.now()): string[] {
    return [...this.#ids].filter(([, until]) => until >= now).map(([id]) => id);
  }

  get size(): number {
    return this.#ids.size;
  }
}
