import type { App } from '@tq/core';
import type { HistoryStore } from './history-store.js';

/** Watched at once at most: each is a subscription (or a poll) on the result backend. */
const maxWatched = 200;

/**
 * Celery sends no event for update_state(): PROGRESS lives only in the result backend. While a
 * task runs, its record is watched (pushed by backends that can, else polled) and custom states
 * with their metadata are copied into the history.
 */
export class ProgressWatcher {
  readonly #app: App;
  readonly #store: HistoryStore;
  readonly #onChange: (uuid: string) => void;
  readonly #watching = new Map<string, AbortController>();

  constructor(app: App, store: HistoryStore, onChange: (uuid: string) => void) {
    this.#app = app;
    this.#store = store;
    this.#onChange = onChange;
  }

  watch(uuid: string): void {
    if (this.#watching.has(uuid) || this.#watching.size >= maxWatched || this.#app.config.resultBackend === null) return;
    const controller = new AbortController();
    this.#watching.set(uuid, controller);
    void this.#follow(uuid, controller.signal).finally(() => this.#watching.delete(uuid));
  }

  /** The task ended (its final event arrived): stop watching. */
  unwatch(uuid: string): void {
    this.#watching.get(uuid)?.abort();
  }

  async #follow(uuid: string, signal: AbortSignal): Promise<void> {
    try {
      for await (const record of this.#app.asyncResult(uuid).updates({ signal })) {
        if (['PENDING', 'STARTED', 'RECEIVED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED'].includes(record.status)) continue;
        this.#store.setProgress(uuid, record.status, record.result);
        this.#onChange(uuid);
      }
    } catch (error) {
      if (!signal.aborted) this.#app.logger.debug(`dashboard: watching ${uuid} stopped: ${(error as Error).message}`);
    }
  }

  close(): void {
    for (const controller of this.#watching.values()) controller.abort();
  }
}
