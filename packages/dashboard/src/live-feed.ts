import type { TaskRow, WorkerRow } from './history-store.js';

/** What the browser is told when history changes: the changed task or worker, whole. */
export type Change = { readonly kind: 'task'; readonly task: TaskRow } | { readonly kind: 'worker'; readonly worker: WorkerRow };

/** Fans store changes out to the open live streams (Server-Sent Events). */
export class LiveFeed {
  readonly #listeners = new Set<(change: Change) => void>();

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(change: Change): void {
    for (const listener of this.#listeners) listener(change);
  }
}
