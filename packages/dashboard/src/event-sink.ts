import type { App } from '@tq/core';
import type { HistoryStore } from './history-store.js';
import type { LiveFeed } from './live-feed.js';
import { ProgressWatcher } from './progress-watcher.js';

const finalEvents = new Set(['task-succeeded', 'task-failed', 'task-revoked', 'task-rejected']);

/**
 * Subscribes to every Celery event on the app's broker and writes it to the history, then tells
 * the live feed. Started tasks are watched for PROGRESS in the result backend.
 */
export class EventSink {
  readonly #app: App;
  readonly #store: HistoryStore;
  readonly #feed: LiveFeed;
  readonly #progress: ProgressWatcher;
  readonly #controller = new AbortController();
  #running: Promise<void> | undefined;

  constructor(app: App, store: HistoryStore, feed: LiveFeed) {
    this.#app = app;
    this.#store = store;
    this.#feed = feed;
    this.#progress = new ProgressWatcher(app, store, (uuid) => this.#publishTask(uuid));
  }

  start(): void {
    // Tasks that were running when the dashboard stopped may still report progress.
    for (const state of ['STARTED', 'PROGRESS']) for (const task of this.#store.tasks({ state, limit: 100 })) this.#progress.watch(task.uuid);
    this.#running = this.#consume();
  }

  async #consume(): Promise<void> {
    try {
      for await (const event of this.#app.events({ signal: this.#controller.signal })) {
        const changed = this.#store.apply(event);
        if (changed.task) {
          if (event.type === 'task-started') this.#progress.watch(changed.task);
          if (finalEvents.has(event.type)) this.#progress.unwatch(changed.task);
          this.#publishTask(changed.task);
        }
        if (changed.worker) {
          const worker = this.#store.workers().find((w) => w.hostname === changed.worker);
          if (worker) this.#feed.publish({ kind: 'worker', worker });
        }
      }
    } catch (error) {
      if (!this.#controller.signal.aborted) this.#app.logger.error(`dashboard: the event stream stopped: ${(error as Error).message}`);
    }
  }

  #publishTask(uuid: string): void {
    const task = this.#store.task(uuid);
    if (task) this.#feed.publish({ kind: 'task', task });
  }

  async close(): Promise<void> {
    this.#controller.abort();
    this.#progress.close();
    await this.#running;
  }
}
