import type pg from 'pg';
import {
  ClosedError,
  DeliveryBuffer,
  loggerOf,
  type AdapterOptions,
  type Logger,
  type ResultBackend,
  type ResultBackendCapabilities,
  type StoreOptions,
  type VersionedValue,
  recordOfRow,
  type FetchedTaskRow,
  taskRow,
} from '@tq/core/adapter';
import { createPool, endPool } from './connection.js';
import { toTqError } from './errors.js';
import { Notifier } from './notifier.js';
import type { PostgresOptions } from './options.js';
import { migrate, type Migration } from './schema.js';

/** tq's default result lifetime when core passes none (1 day, as Celery's result_expires). */
const defaultTtlMs = 86_400_000;
/** Expired rows are swept at most this often per backend instance. */
const cleanupEveryMs = 60_000;
/** A record up to this size travels in its NOTIFY; a larger one is read back by its watchers. */
const maxInlineRecord = 5_000;

/** Names of the result table in the backend's schema. */
export class ResultNames {
  readonly schema: string;
  readonly table: string;
  readonly migrations: string;
  /** Small versioned records (getVersioned/compareAndSet): beat's lease, ticks and schedules. */
  readonly coordination: string;
  readonly channel: string;
  readonly indexPrefix: string;

  constructor(options: Pick<PostgresOptions, 'schema' | 'tablePrefix' | 'resultsTable'>) {
    this.schema = `"${options.schema}"`;
    this.table = `"${options.schema}"."${options.resultsTable}"`;
    this.migrations = `"${options.schema}"."${options.tablePrefix}result_migrations"`;
    this.coordination = `"${options.schema}"."${options.tablePrefix}coordination"`;
    this.channel = `${options.schema}.${options.tablePrefix}result`;
    this.indexPrefix = `${options.tablePrefix}${options.resultsTable}`.slice(0, 40);
  }
}

/**
 * django-celery-results' TaskResult columns (so Django's admin reads the table as is), then
 * tq's: queue, retries, date_started, expires_at, record (the exact bytes core stored).
 */
export const resultMigrations = (names: ResultNames): readonly Migration[] => [
  {
    version: 1,
    description: 'task results (django-celery-results layout + tq columns)',
    statements: () => [
      `CREATE TABLE IF NOT EXISTS ${names.table} (
        id serial PRIMARY KEY,
        task_id varchar(255) NOT NULL UNIQUE,
        periodic_task_name varchar(255),
        task_name varchar(255),
        task_args text,
        task_kwargs text,
        status varchar(50) NOT NULL,
        worker varchar(100),
        content_type varchar(128) NOT NULL,
        content_encoding varchar(64) NOT NULL,
        result text,
        date_created timestamptz NOT NULL DEFAULT now(),
        date_done timestamptz NOT NULL DEFAULT now(),
        traceback text,
        meta text
      )`,
      `ALTER TABLE ${names.table} ADD COLUMN IF NOT EXISTS queue varchar(255)`,
      `ALTER TABLE ${names.table} ADD COLUMN IF NOT EXISTS retries integer`,
      `ALTER TABLE ${names.table} ADD COLUMN IF NOT EXISTS date_started timestamptz`,
      `ALTER TABLE ${names.table} ADD COLUMN IF NOT EXISTS expires_at timestamptz`,
      `ALTER TABLE ${names.table} ADD COLUMN IF NOT EXISTS record bytea`,
      `CREATE INDEX IF NOT EXISTS "${names.indexPrefix}_status" ON ${names.table} (status, date_done DESC)`,
      `CREATE INDEX IF NOT EXISTS "${names.indexPrefix}_name" ON ${names.table} (task_name, date_done DESC)`,
      `CREATE INDEX IF NOT EXISTS "${names.indexPrefix}_done" ON ${names.table} (date_done DESC)`,
      `CREATE INDEX IF NOT EXISTS "${names.indexPrefix}_created" ON ${names.table} (date_created)`,
      `CREATE INDEX IF NOT EXISTS "${names.indexPrefix}_worker" ON ${names.table} (worker)`,
      `CREATE INDEX IF NOT EXISTS "${names.indexPrefix}_expires" ON ${names.table} (expires_at)`,
    ],
  },
  {
    version: 2,
    description: 'coordination records (compareAndSet): what tq beat keeps',
    statements: () => [
      `CREATE TABLE IF NOT EXISTS ${names.coordination} (
        key text PRIMARY KEY,
        value bytea NOT NULL,
        version bigint NOT NULL
      )`,
    ],
  },
];

interface Connected {
  readonly pool: pg.Pool;
  readonly notifier: Notifier;
}

/**
 * Result backend on one PostgreSQL table, one row per task (an upsert per state change).
 * Watchers are woken by NOTIFY (the record rides along when small); rows past their TTL are
 * invisible at once and deleted in bounded batches.
 */
export class PostgresResultBackend implements ResultBackend {
  readonly capabilities: ResultBackendCapabilities = { watch: true, expiry: true, compareAndSet: true };
  readonly names: ResultNames;
  readonly #options: PostgresOptions;
  readonly #logger: Logger | undefined;
  readonly #watchers = new Map<string, Set<(record: Uint8Array | null) => void>>();
  #connected: Connected | undefined;
  #closed = false;
  #lastCleanup = 0;
  readonly #sql: ReturnType<typeof statements>;

  constructor(options: PostgresOptions, adapterOptions: AdapterOptions = {}) {
    this.#options = options;
    this.#logger = loggerOf(adapterOptions);
    this.names = new ResultNames(options);
    this.#sql = statements(this.names);
  }

  get pool(): pg.Pool | undefined {
    return this.#connected?.pool;
  }

  #fail(error: unknown, what: string, connecting = false): unknown {
    return toTqError(error, what, { displayUrl: this.#options.redacted, backend: true, connecting });
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new ClosedError('postgres result backend');
    if (this.#connected) return;
    const pool = createPool(this.#options, this.#logger, 'tq-results');
    const notifier = new Notifier(this.#options, [this.names.channel], () => this.#refetchAll(), this.#logger);
    try {
      await migrate(pool, this.names.schema, `tq-results:${this.names.table}`, resultMigrations(this.names), this.names.migrations);
      await notifier.start();
    } catch (error) {
      await notifier.close(1_000);
      await endPool(pool, 1_000);
      throw this.#fail(error, 'preparing the result table', true);
    }
    notifier.on(this.names.channel, (payload) => this.#notified(payload));
    this.#connected = { pool, notifier };
    this.#lastCleanup = Date.now();
  }

  #live(): Connected {
    if (this.#closed) throw new ClosedError('postgres result backend');
    if (!this.#connected) throw new ClosedError('postgres result backend (not connected)');
    return this.#connected;
  }

  async store(taskId: string, record: Uint8Array, options: StoreOptions): Promise<void> {
    const { pool } = this.#live();
    const row = taskRow(taskId, record, options);
    const bytes = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
    const payload = record.byteLength <= maxInlineRecord ? `${taskId}\n${bytes.toString('base64')}` : taskId;
    try {
      await pool.query(this.#sql.store, [
        row.taskId,
        row.taskName,
        row.taskArgs,
        row.taskKwargs,
        row.status,
        row.worker,
        row.result,
        row.dateDone,
        row.traceback,
        row.meta,
        row.queue,
        row.retries,
        row.started,
        options.ttlMs ?? defaultTtlMs,
        bytes,
        this.names.channel,
        payload,
      ]);
    } catch (error) {
      throw this.#fail(error, `storing the result of ${taskId}`);
    }
    this.#maybeCleanup(pool);
  }

  async fetch(taskId: string): Promise<Uint8Array | null> {
    const { pool } = this.#live();
    try {
      const { rows } = await pool.query<FetchedTaskRow>(this.#sql.fetch, [taskId]);
      return rows[0] ? recordOfRow(rows[0]) : null;
    } catch (error) {
      throw this.#fail(error, `fetching the result of ${taskId}`);
    }
  }

  /** A row per record; `version` counts its writes. */
  async getVersioned(key: string): Promise<VersionedValue | null> {
    const { pool } = this.#live();
    try {
      const { rows } = await pool.query<{ value: Buffer; version: string }>(this.#sql.getVersioned, [key]);
      return rows[0] ? { value: new Uint8Array(rows[0].value), version: rows[0].version } : null;
    } catch (error) {
      throw this.#fail(error, `reading the record ${key}`);
    }
  }

  /** One statement: the insert (expected null) or the update fenced on the version; null when another writer got there first. */
  async compareAndSet(key: string, value: Uint8Array, expected: string | null): Promise<string | null> {
    const { pool } = this.#live();
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    try {
      const { rows } = expected === null ? await pool.query<{ version: string }>(this.#sql.createVersioned, [key, bytes]) : await pool.query<{ version: string }>(this.#sql.updateVersioned, [key, bytes, expected]);
      return rows[0]?.version ?? null;
    } catch (error) {
      throw this.#fail(error, `writing the record ${key}`);
    }
  }

  watch(taskId: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    this.#live();
    let set = this.#watchers.get(taskId);
    if (!set) this.#watchers.set(taskId, (set = new Set()));
    const watchers = set;
    const remove = () => {
      watchers.delete(push);
      if (watchers.size === 0 && this.#watchers.get(taskId) === watchers) this.#watchers.delete(taskId);
    };
    const buffer = new DeliveryBuffer<Uint8Array>({ signal, onClose: remove });
    let last: Buffer | undefined;
    // Each record once, in order: a NOTIFY and the first fetch may bring the same record.
    const push = (record: Uint8Array | null) => {
      if (!record) return;
      const bytes = Buffer.from(record);
      if (last && last.equals(bytes)) return;
      last = bytes;
      buffer.push(record);
    };
    watchers.add(push);
    // Subscribed first, then the current record: nothing stored in between is missed.
    void this.fetch(taskId).then(
      (record) => {
        if (record && !last) push(record);
      },
      (error: unknown) => buffer.fail(error),
    );
    if (signal.aborted) remove();
    return buffer;
  }

  #notified(payload: string): void {
    const newline = payload.indexOf('\n');
    const taskId = newline < 0 ? payload : payload.slice(0, newline);
    const watchers = this.#watchers.get(taskId);
    if (!watchers?.size) return;
    if (newline >= 0) {
      const record = new Uint8Array(Buffer.from(payload.slice(newline + 1), 'base64'));
      for (const push of watchers) push(record);
      return;
    }
    void this.fetch(taskId).then(
      (record) => {
        for (const push of watchers) push(record);
      },
      () => undefined,
    );
  }

  /** The LISTEN connection came back: updates may have been missed, read them. */
  #refetchAll(): void {
    for (const taskId of this.#watchers.keys()) this.#notified(taskId);
  }

  async forget(taskId: string): Promise<void> {
    try {
      await this.#live().pool.query(this.#sql.forget, [taskId]);
    } catch (error) {
      throw this.#fail(error, `forgetting the result of ${taskId}`);
    }
  }

  /** Deletes expired rows, one bounded batch at a time, at most once a minute per instance (the first a minute after connect). */
  #maybeCleanup(pool: pg.Pool): void {
    const now = Date.now();
    if (now - this.#lastCleanup < cleanupEveryMs) return;
    this.#lastCleanup = now;
    void this.deleteExpired(pool).catch((error: unknown) => this.#logger?.warn(`postgres: deleting expired results failed: ${(error as Error).message}`));
  }

  /** Deletes up to cleanup_batch expired rows; resolves to how many. */
  async deleteExpired(pool: pg.Pool = this.#live().pool): Promise<number> {
    const { rowCount } = await pool.query(this.#sql.cleanup, [this.#options.cleanupBatch]);
    return rowCount ?? 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchers.clear();
    const connected = this.#connected;
    if (!connected) return;
    await connected.notifier.close(1_000);
    await endPool(connected.pool, Math.min(5_000, this.#options.queryTimeoutMs));
  }
}

function statements(n: ResultNames) {
  return {
    getVersioned: `SELECT value, version::text AS version FROM ${n.coordination} WHERE key = $1`,
    createVersioned: `INSERT INTO ${n.coordination} (key, value, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO NOTHING RETURNING version::text AS version`,
    updateVersioned: `UPDATE ${n.coordination} SET value = $2, version = version + 1 WHERE key = $1 AND version = $3::bigint RETURNING version::text AS version`,
    // One statement: the upsert and its NOTIFY commit together. The first state's time is
    // date_created; date_started is set by STARTED and kept.
    store: `WITH s AS (
        INSERT INTO ${n.table} AS t (task_id, task_name, task_args, task_kwargs, status, worker, content_type, content_encoding,
          result, date_created, date_done, traceback, meta, queue, retries, date_started, expires_at, record)
        VALUES ($1, $2, $3, $4, $5, $6, 'application/json', 'utf-8', $7, now(), COALESCE($8, now()), $9, $10, $11, $12,
          CASE WHEN $13::boolean THEN now() END, now() + $14 * interval '1 millisecond', $15)
        ON CONFLICT (task_id) DO UPDATE SET
          task_name = COALESCE(EXCLUDED.task_name, t.task_name),
          task_args = COALESCE(EXCLUDED.task_args, t.task_args),
          task_kwargs = COALESCE(EXCLUDED.task_kwargs, t.task_kwargs),
          status = EXCLUDED.status,
          worker = COALESCE(EXCLUDED.worker, t.worker),
          result = EXCLUDED.result,
          date_done = EXCLUDED.date_done,
          traceback = EXCLUDED.traceback,
          meta = EXCLUDED.meta,
          queue = COALESCE(EXCLUDED.queue, t.queue),
          retries = COALESCE(EXCLUDED.retries, t.retries),
          date_started = COALESCE(t.date_started, EXCLUDED.date_started),
          expires_at = EXCLUDED.expires_at,
          record = EXCLUDED.record
        RETURNING 1)
      SELECT pg_notify($16, $17) FROM s`,
    fetch: `SELECT task_id, status, result, traceback, meta, date_done, record FROM ${n.table}
      WHERE task_id = $1 AND (expires_at IS NULL OR expires_at > now())`,
    forget: `DELETE FROM ${n.table} WHERE task_id = $1`,
    cleanup: `DELETE FROM ${n.table} WHERE id IN (SELECT id FROM ${n.table} WHERE expires_at < now() ORDER BY expires_at LIMIT $1)`,
  };
}
