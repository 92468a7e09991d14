import pg from 'pg';
import type { Logger } from '@tq/core/adapter';
import { endClient } from './connection.js';
import type { PostgresOptions } from './options.js';

type Handler = (payload: string) => void;

/**
 * One LISTEN connection per broker or backend, shared by all its consumers and subscribers.
 * It is pinged every pingIntervalMs (a silent server is noticed within ping + query timeout)
 * and reopened after any failure with backoff; `onReconnect` then runs, because notifications
 * sent while it was away are lost (consumers re-check their queues).
 */
export class Notifier {
  readonly #options: PostgresOptions;
  readonly #channels: readonly string[];
  readonly #handlers = new Map<string, Set<Handler>>();
  readonly #onReconnect: () => void;
  readonly #logger: Logger | undefined;
  #client: pg.Client | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #failures = 0;

  constructor(options: PostgresOptions, channels: readonly string[], onReconnect: () => void, logger?: Logger) {
    this.#options = options;
    this.#channels = channels;
    this.#onReconnect = onReconnect;
    this.#logger = logger;
  }

  /** Opens the connection; rejects when the first attempt fails (later ones retry by themselves). */
  async start(): Promise<void> {
    await this.#open();
  }

  on(channel: string, handler: Handler): () => void {
    let set = this.#handlers.get(channel);
    if (!set) this.#handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  async #open(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#options.connectionString,
      connectionTimeoutMillis: this.#options.connectTimeoutMs,
      query_timeout: this.#options.queryTimeoutMs,
      keepAlive: true,
      application_name: 'tq-listen',
    });
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (message) => {
      const handlers = this.#handlers.get(message.channel);
      if (handlers) for (const handler of handlers) handler(message.payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of this.#channels) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (error) {
      await endClient(client, 1_000);
      throw error;
    }
    if (this.#closed) {
      await endClient(client, 1_000);
      return;
    }
    this.#client = client;
    this.#failures = 0;
    this.#schedulePing(client);
  }

  #schedulePing(client: pg.Client): void {
    this.#pingTimer = setTimeout(() => {
      client.query('SELECT 1').then(
        () => {
          if (this.#client === client) this.#schedulePing(client);
        },
        () => this.#lost(client),
      );
    }, this.#options.pingIntervalMs);
    this.#pingTimer.unref();
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    clearTimeout(this.#pingTimer);
    void endClient(client, 1_000);
    if (!this.#closed) this.#reopenLater();
  }

  #reopenLater(): void {
    const delay = Math.min(5_000, 100 * 2 ** this.#failures++);
    this.#retryTimer = setTimeout(() => {
      this.#open().then(
        () => {
          if (!this.#closed) this.#onReconnect();
        },
        (error: unknown) => {
          if (this.#closed) return;
          this.#logger?.warn(`postgres: the LISTEN connection to ${this.#options.redacted} is down: ${(error as Error).message}`);
          this.#reopenLater();
        },
      );
    }, delay);
    this.#retryTimer.unref();
  }

  async close(boundMs: number): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#retryTimer);
    this.#handlers.clear();
    const client = this.#client;
    this.#client = undefined;
    if (client) await endClient(client, boundMs);
  }
}
