/**
 * Group commit on the client side: publishes that arrive while an INSERT is in flight wait for
 * it and then go together, as one multi-row INSERT in one transaction. A commit (its WAL flush)
 * is what an enqueue costs on PostgreSQL, so c sends in flight cost about one commit per
 * batch instead of one each. A lone publish goes at once (no timer, no added latency), and
 * each caller's promise settles only when its own rows are committed (or failed).
 */
export class PublishBatch<T> {
  readonly #flush: (items: T[]) => Promise<void>;
  readonly #maxInFlight: number;
  readonly #maxRows: number;
  #waiting: { item: T; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(flush: (items: T[]) => Promise<void>, options: { maxInFlight: number; maxRows: number }) {
    this.#flush = flush;
    this.#maxInFlight = options.maxInFlight;
    this.#maxRows = options.maxRows;
  }

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      // Same-turn sends (a loop of sendTask) join the first one's INSERT.
      if (!this.#scheduled && this.#inFlight < this.#maxInFlight) {
        this.#scheduled = true;
        queueMicrotask(() => this.#send());
      }
    });
  }

  #send(): void {
    this.#scheduled = false;
    while (this.#inFlight < this.#maxInFlight && this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.#maxRows);
      this.#inFlight++;
      this.#flush(batch.map((entry) => entry.item)).then(
        () => {
          for (const entry of batch) entry.resolve();
        },
        (error: unknown) => {
          for (const entry of batch) entry.reject(error);
        },
      ).finally(() => {
        this.#inFlight--;
        if (this.#waiting.length > 0) this.#send();
      });
    }
  }
}
