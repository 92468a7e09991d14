import pg from 'pg';
import { ConfigError, sleepUnlessAborted as sleep, type BrokerMessage, type Logger, type MessageHeaders, type MessageProperties } from '@tq/core/adapter';
import { createPool, endClient, endPool } from './connection.js';
import { parsePostgresOptions, type PostgresOptions } from './options.js';
import { migrate, type Migration } from './schema.js';

/** What a transaction handle must offer: node-postgres' Client and PoolClient do. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

export function asQueryable(transaction: unknown): Queryable {
  if (transaction && typeof (transaction as Queryable).query === 'function') return transaction as Queryable;
  throw new ConfigError([{ path: 'sendTask.transaction', message: 'must be a node-postgres client (pg.Client or a pool client) inside BEGIN … COMMIT' }]);
}

/** Rows fetched per round of the relay. */
const batch = 100;
/** A relay that does not hold the lock tries again this often (how soon it takes over from a dead one). */
const standbyRetryMs = 1_000;

interface OutboxRow {
  id: string;
  queue: string;
  not_before: string | null;
  headers: MessageHeaders;
  properties: MessageProperties;
  body: Buffer;
}

/**
 * The transactional outbox for brokers outside PostgreSQL (Redis, RabbitMQ, NATS, Kafka):
 * `write` inserts the message in the caller's transaction; `relay` (run by every worker of
 * the app, see TqConfig.outbox) publishes committed rows in id order and deletes each after its
 * publish resolved. One relay at a time holds a session advisory lock; when its process dies,
 * PostgreSQL drops the session and the lock, and a standby relay takes over within a second.
 *
 * Guarantee: at-least-once, with the task id unchanged. A relay killed between a publish and
 * the delete publishes that row again (the worker sees the same task id twice). Order: per
 * queue, the order of the rows' ids, i.e. of the INSERTs (transactions committing out of
 * order can make a later-id row wait behind none: it is relayed when seen).
 */
export class PostgresOutbox {
  readonly table: string;
  readonly #options: PostgresOptions;
  readonly #channel: string;
  readonly #lockKey: string;
  readonly #migrationsTable: string;
  #pool: pg.Pool | undefined;
  #ready: Promise<void> | undefined;

  constructor(url: string | URL, adapterOptions: Readonly<Record<string, unknown>> = {}) {
    this.#options = parsePostgresOptions(new URL(url), adapterOptions);
    const { schema, tablePrefix } = this.#options;
    this.table = `"${schema}"."${tablePrefix}outbox"`;
    this.#migrationsTable = `"${schema}"."${tablePrefix}outbox_migrations"`;
    this.#channel = `${schema}.${tablePrefix}outbox`;
    this.#lockKey = `tq-outbox:${schema}:${tablePrefix}`;
  }

  #migrations(): readonly Migration[] {
    return [
      {
        version: 1,
        description: 'outbox',
        statements: () => [
          `CREATE TABLE ${this.table} (
            id bigserial PRIMARY KEY,
            queue text NOT NULL,
            not_before bigint,
            task_id text,
            headers json NOT NULL,
            properties json NOT NULL,
            body bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
          )`,
        ],
      },
    ];
  }

  /** Creates the outbox table when missing (once per instance; safe with concurrent starters). */
  ready(): Promise<void> {
    this.#ready ??= (async () => {
      this.#pool ??= createPool(this.#options, undefined, 'tq-outbox');
      await migrate(this.#pool, `"${this.#options.schema}"`, this.#lockKey, this.#migrations(), this.#migrationsTable);
    })().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async write(transaction: unknown, queue: string, message: BrokerMessage): Promise<void> {
    const client = asQueryable(transaction);
    await this.ready();
    const taskId = message.headers['id'];
    await client.query(
      `WITH o AS (INSERT INTO ${this.table} (queue, not_before, task_id, headers, properties, body) VALUES ($1, $2, $3, $4::json, $5::json, $6) RETURNING 1)
       SELECT pg_notify($7, '') FROM o`,
      [
        queue,
        message.notBefore ?? null,
        typeof taskId === 'string' ? taskId : null,
        JSON.stringify(message.headers),
        JSON.stringify(message.properties),
        Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
        this.#channel,
      ],
    );
  }

  /** Rows waiting to be relayed. */
  async pending(): Promise<number> {
    await this.ready();
    const { rows } = await this.#pool!.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table}`);
    return Number(rows[0]!.n);
  }

  async relay(publish: (queue: string, message: BrokerMessage) => Promise<void>, signal: AbortSignal, logger?: Logger): Promise<void> {
    while (!signal.aborted) {
      let client: pg.Client | undefined;
      try {
        await this.ready();
        client = new pg.Client({
          connectionString: this.#options.connectionString,
          connectionTimeoutMillis: this.#options.connectTimeoutMs,
          query_timeout: this.#options.queryTimeoutMs,
          keepAlive: true,
          application_name: 'tq-outbox-relay',
        });
        client.on('error', () => undefined);
        await client.connect();
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [this.#lockKey]);
        if (rows[0]?.locked) await this.#relayHolding(client, publish, signal);
      } catch (error) {
        if (!signal.aborted) logger?.warn(`outbox relay: ${(error as Error).message}; retrying`);
      } finally {
        // Ending the session releases the advisory lock for the next relay.
        if (client) await endClient(client, 1_000);
      }
      await sleep(standbyRetryMs, signal);
    }
  }

  async #relayHolding(client: pg.Client, publish: (queue: string, message: BrokerMessage) => Promise<void>, signal: AbortSignal): Promise<void> {
    let wake: (() => void) | undefined;
    client.on('notification', () => wake?.());
    await client.query(`LISTEN ${pg.escapeIdentifier(this.#channel)}`);
    while (!signal.aborted) {
      const { rows } = await client.query<OutboxRow>(`SELECT id, queue, not_before, headers, properties, body FROM ${this.table} ORDER BY id LIMIT ${batch}`);
      for (const row of rows) {
        if (signal.aborted) return;
        const body = new Uint8Array(row.body.buffer, row.body.byteOffset, row.body.byteLength);
        const message: BrokerMessage = {
          body,
          headers: row.headers,
          properties: row.properties,
          ...(row.not_before !== null ? { notBefore: Number(row.not_before) } : {}),
        };
        // A failed publish throws out of here: the row stays, and is retried in order.
        await publish(row.queue, message);
        await client.query(`DELETE FROM ${this.table} WHERE id = $1`, [row.id]);
      }
      if (rows.length === batch) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.pollIntervalMs);
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#ready = undefined;
    if (pool) await endPool(pool, 5_000);
  }
}
