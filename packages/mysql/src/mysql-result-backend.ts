import mysql from 'mysql2/promise';
import {
  ClosedError,
  DeliveryBuffer,
  loggerOf,
  recordOfRow,
  type FetchedTaskRow,
  sleepUnlessAborted as sleep,
  taskRow,
  type AdapterOptions,
  type Logger,
  type ResultBackend,
  type ResultBackendCapabilities,
  type StoreOptions,
} from '@tq/core/adapter';
import { toTqError } from './errors.js';
import type { MysqlOptions } from './options.js';
import { migrate, type Migration } from './schema.js';

const defaultTtlMs = 86_400_000;
const cleanupEveryMs = 60_000;

/** The results table's versions (see schema.ts); version 1 adopts a table made before versioning. */
export function resultMigrations(table: string): readonly Migration[] {
  return [{ version: 1, description: "django-celery-results' TaskResult layout plus tq's columns", statements: [createTableStatement(table)] }];
}

/**
 * django-celery-results' TaskResult table as its MySQL migration creates it (datetime(6) in
 * UTC, longtext results), plus tq's columns: queue, retries, date_started, expires_at, record.
 */
export function createTableStatement(table: string): string {
  return `CREATE TABLE IF NOT EXISTS \`${table}\` (
    id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
    task_id varchar(255) NOT NULL UNIQUE,
    periodic_task_name varchar(255) NULL,
    task_name varchar(255) NULL,
    task_args longtext NULL,
    task_kwargs longtext NULL,
    status varchar(50) NOT NULL,
    worker varchar(100) NULL,
    content_type varchar(128) NOT NULL,
    content_encoding varchar(64) NOT NULL,
    result longtext NULL,
    date_created datetime(6) NOT NULL,
    date_done datetime(6) NOT NULL,
    traceback longtext NULL,
    meta longtext NULL,
    queue varchar(255) NULL,
    retries int NULL,
    date_started datetime(6) NULL,
    expires_at datetime(6) NULL,
    record longblob NULL,
    KEY ${table.slice(0, 40)}_status (status, date_done),
    KEY ${table.slice(0, 40)}_name (task_name, date_done),
    KEY ${table.slice(0, 40)}_done (date_done),
    KEY ${table.slice(0, 40)}_created (date_created),
    KEY ${table.slice(0, 40)}_worker (worker),
    KEY ${table.slice(0, 40)}_expires (expires_at)
  ) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`;
}

/**
 * Result backend on MySQL 8 / MariaDB 10.5+: one row per task (an upsert per state change).
 * MySQL has no LISTEN/NOTIFY, so watch() polls the row, from min_poll_ms doubling up to
 * max_poll_ms while it does not change. Rows past their TTL are invisible at once and deleted
 * in bounded batches.
 */
export class MysqlResultBackend implements ResultBackend {
  readonly capabilities: ResultBackendCapabilities = { watch: true, expiry: true };
  readonly #options: MysqlOptions;
  readonly #logger: Logger | undefined;
  readonly #table: string;
  #pool: mysql.Pool | undefined;
  #closed = false;
  #lastCleanup = 0;

  constructor(options: MysqlOptions, adapterOptions: AdapterOptions = {}) {
    this.#options = options;
    this.#logger = loggerOf(adapterOptions);
    this.#table = `\`${options.resultsTable}\``;
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new ClosedError('mysql result backend');
    if (this.#pool) return;
    const { host, port, user, password, database, poolSize, connectTimeoutMs } = this.#options;
    const pool = mysql.createPool({ host, port, user, password, database, connectionLimit: poolSize, connectTimeout: connectTimeoutMs, timezone: 'Z', charset: 'utf8mb4', enableKeepAlive: true });
    // Idle connections that die are dropped by the pool; a listener keeps Node from throwing.
    pool.on('connection', (connection) => connection.on('error', () => undefined));
    try {
      await pool.query({ sql: "SET time_zone = '+00:00'", timeout: this.#options.queryTimeoutMs });
      await migrate(pool, this.#options.resultsTable, resultMigrations(this.#options.resultsTable), Math.ceil(this.#options.connectTimeoutMs / 1000) + 30);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw toTqError(error, 'preparing the result table', this.#options.redacted, true);
    }
    this.#pool = pool;
    this.#lastCleanup = Date.now();
  }

  #live(): mysql.Pool {
    if (this.#closed) throw new ClosedError('mysql result backend');
    if (!this.#pool) throw new ClosedError('mysql result backend (not connected)');
    return this.#pool;
  }

  async #query<T>(what: string, sql: string, values: unknown[]): Promise<T> {
    try {
      const [rows] = await this.#live().query({ sql, values, timeout: this.#options.queryTimeoutMs });
      return rows as T;
    } catch (error) {
      throw toTqError(error, what, this.#options.redacted);
    }
  }

  async store(taskId: string, record: Uint8Array, options: StoreOptions): Promise<void> {
    const row = taskRow(taskId, record, options);
    const ttlMs = options.ttlMs ?? defaultTtlMs;
    await this.#query(
      `storing the result of ${taskId}`,
      `INSERT INTO ${this.#table} (task_id, task_name, task_args, task_kwargs, status, worker, content_type, content_encoding, result,
         date_created, date_done, traceback, meta, queue, retries, date_started, expires_at, record)
       VALUES (?, ?, ?, ?, ?, ?, 'application/json', 'utf-8', ?, UTC_TIMESTAMP(6), COALESCE(?, UTC_TIMESTAMP(6)), ?, ?, ?, ?,
         IF(?, UTC_TIMESTAMP(6), NULL), UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND, ?)
       ON DUPLICATE KEY UPDATE
         task_name = COALESCE(VALUES(task_name), task_name),
         task_args = COALESCE(VALUES(task_args), task_args),
         task_kwargs = COALESCE(VALUES(task_kwargs), task_kwargs),
         status = VALUES(status),
         worker = COALESCE(VALUES(worker), worker),
         result = VALUES(result),
         date_done = VALUES(date_done),
         traceback = VALUES(traceback),
         meta = VALUES(meta),
         queue = COALESCE(VALUES(queue), queue),
         retries = COALESCE(VALUES(retries), retries),
         date_started = COALESCE(date_started, VALUES(date_started)),
         expires_at = VALUES(expires_at),
         record = VALUES(record)`,
      [
        row.taskId, row.taskName, row.taskArgs, row.taskKwargs, row.status, row.worker, row.result, row.dateDone,
        row.traceback, row.meta, row.queue, row.retries, row.started, ttlMs * 1000,
        Buffer.from(record.buffer, record.byteOffset, record.byteLength),
      ],
    );
    this.#maybeCleanup();
  }

  async fetch(taskId: string): Promise<Uint8Array | null> {
    const rows = await this.#query<FetchedTaskRow[]>(
      `fetching the result of ${taskId}`,
      `SELECT task_id, status, result, traceback, meta, date_done, record FROM ${this.#table}
       WHERE task_id = ? AND (expires_at IS NULL OR expires_at > UTC_TIMESTAMP(6))`,
      [taskId],
    );
    const row = rows[0];
    if (!row) return null;
    return recordOfRow(row);
  }

  watch(taskId: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    this.#live();
    const buffer = new DeliveryBuffer<Uint8Array>({ signal });
    const { minPollMs, maxPollMs } = this.#options;
    void (async () => {
      let last: Buffer | undefined;
      let interval = minPollMs;
      let failures = 0;
      while (!signal.aborted && !buffer.ended) {
        try {
          const record = await this.fetch(taskId);
          failures = 0;
          if (record && !(last && last.equals(record))) {
            last = Buffer.from(record);
            buffer.push(record);
            interval = minPollMs;
          } else {
            interval = Math.min(maxPollMs, interval * 2);
          }
        } catch (error) {
          if (this.#closed) break;
          if (++failures === 3) this.#logger?.warn(`mysql: watching ${taskId} keeps failing: ${(error as Error).message}`);
          interval = maxPollMs;
        }
        await sleep(interval, signal);
      }
      buffer.end();
    })();
    return buffer;
  }

  async forget(taskId: string): Promise<void> {
    await this.#query(`forgetting the result of ${taskId}`, `DELETE FROM ${this.#table} WHERE task_id = ?`, [taskId]);
  }

  #maybeCleanup(): void {
    const now = Date.now();
    if (now - this.#lastCleanup < cleanupEveryMs) return;
    this.#lastCleanup = now;
    void this.deleteExpired().catch((error: unknown) => this.#logger?.warn(`mysql: deleting expired results failed: ${(error as Error).message}`));
  }

  /** Deletes up to cleanup_batch expired rows (oldest first); resolves to how many. */
  async deleteExpired(): Promise<number> {
    const result = await this.#query<{ affectedRows: number }>(
      'deleting expired results',
      `DELETE FROM ${this.#table} WHERE expires_at < UTC_TIMESTAMP(6) ORDER BY expires_at LIMIT ?`,
      [this.#options.cleanupBatch],
    );
    return result.affectedRows;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    if (!pool) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pool.end().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
  }
}
