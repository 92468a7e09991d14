import Database from 'better-sqlite3';
import type { TaskEvent } from '@tq/core';
import { isWorkerOnline } from './worker-liveness.js';

/** The latest known state of one task, as the API returns it. Times are epoch milliseconds. */
export interface TaskRow {
  readonly uuid: string;
  readonly name: string | null;
  readonly state: string;
  readonly args: string | null;
  readonly kwargs: string | null;
  readonly result: string | null;
  readonly exception: string | null;
  readonly traceback: string | null;
  readonly worker: string | null;
  readonly queue: string | null;
  readonly sent_at: number | null;
  readonly received_at: number | null;
  readonly started_at: number | null;
  readonly finished_at: number | null;
  readonly runtime: number | null;
  readonly retries: number;
  readonly parent_id: string | null;
  readonly root_id: string | null;
  /** The metadata of the latest custom state (PROGRESS {current, total}), JSON text. */
  readonly progress: string | null;
  readonly first_seen: number;
  readonly updated_at: number;
}

export interface TaskEventRow {
  readonly id: number;
  readonly uuid: string;
  readonly type: string;
  readonly timestamp: number;
  readonly hostname: string | null;
  /** Every field of the event, JSON text. */
  readonly fields: string;
}

export interface WorkerRow {
  readonly hostname: string;
  readonly online: boolean;
  readonly last_heartbeat: number | null;
  readonly freq: number | null;
  readonly active: number | null;
  readonly processed: number | null;
  readonly loadavg: readonly number[] | null;
  readonly sw_ident: string | null;
  readonly sw_ver: string | null;
  readonly sw_sys: string | null;
  readonly pid: number | null;
  readonly offline_at: number | null;
}

export interface TaskQuery {
  /** A uuid or its prefix. */
  readonly id?: string;
  /** Part of the task name. */
  readonly name?: string;
  readonly state?: string;
  /** first_seen bounds, epoch ms. */
  readonly from?: number;
  readonly to?: number;
  readonly limit?: number;
  readonly offset?: number;
}

export interface RetentionOptions {
  /** Tasks kept at most; the least recently updated go first. Default 100 000. */
  readonly maxTasks?: number;
  /** Tasks and workers not updated for this long are deleted. Default 7 days. */
  readonly maxAgeMs?: number;
}

/** Celery's state after each task event (celery.events.state). */
const stateOf: Readonly<Record<string, string>> = {
  'task-sent': 'PENDING',
  'task-received': 'RECEIVED',
  'task-started': 'STARTED',
  'task-succeeded': 'SUCCESS',
  'task-failed': 'FAILURE',
  'task-retried': 'RETRY',
  'task-revoked': 'REVOKED',
  'task-rejected': 'REJECTED',
};

const finalStates = new Set(['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED']);

const schema = `
CREATE TABLE IF NOT EXISTS tasks (
  uuid TEXT PRIMARY KEY,
  name TEXT, state TEXT NOT NULL, args TEXT, kwargs TEXT, result TEXT, exception TEXT, traceback TEXT,
  worker TEXT, queue TEXT, sent_at INTEGER, received_at INTEGER, started_at INTEGER, finished_at INTEGER,
  runtime REAL, retries INTEGER NOT NULL DEFAULT 0, parent_id TEXT, root_id TEXT, progress TEXT,
  first_seen INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_first_seen ON tasks(first_seen);
CREATE INDEX IF NOT EXISTS tasks_updated_at ON tasks(updated_at);
CREATE INDEX IF NOT EXISTS tasks_parent ON tasks(parent_id);
CREATE TABLE IF NOT EXISTS task_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL, type TEXT NOT NULL, timestamp INTEGER NOT NULL, hostname TEXT, fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS task_events_uuid ON task_events(uuid, timestamp);
CREATE TABLE IF NOT EXISTS workers (
  hostname TEXT PRIMARY KEY,
  last_heartbeat INTEGER, freq REAL, active INTEGER, processed INTEGER, loadavg TEXT,
  sw_ident TEXT, sw_ver TEXT, sw_sys TEXT, pid INTEGER, offline_at INTEGER, updated_at INTEGER NOT NULL
);
`;

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * Task and worker history in one SQLite file: every event is appended to task_events (the
 * timeline) and folded into the latest state per task and per worker, so a restarted dashboard
 * shows what happened before it. Synchronous (better-sqlite3): each event is one short
 * transaction, durable once `apply` returns (WAL journal).
 */
export class HistoryStore {
  readonly #db: Database.Database;
  readonly #retention: Required<RetentionOptions>;
  readonly #apply: (event: TaskEvent) => void;
  /** Statements prepared once: an event costs a few bound executions, not a parse of SQL each time. */
  readonly #statements = new Map<string, Database.Statement>();

  constructor(path: string, retention: RetentionOptions = {}) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(schema);
    this.#retention = { maxTasks: retention.maxTasks ?? 100_000, maxAgeMs: retention.maxAgeMs ?? 7 * 24 * 3600_000 };
    this.#apply = this.#db.transaction((event: TaskEvent) => this.#applyOne(event));
  }

  #sql(text: string): Database.Statement {
    let statement = this.#statements.get(text);
    if (!statement) this.#statements.set(text, (statement = this.#db.prepare(text)));
    return statement;
  }

  /** Records one Celery event; returns what it changed: a task uuid, a worker hostname, or nothing. */
  apply(event: TaskEvent): { task?: string; worker?: string } {
    if (event.type.startsWith('worker-')) {
      this.#applyWorker(event);
      return { worker: event.hostname };
    }
    if (!event.type.startsWith('task-') || typeof event['uuid'] !== 'string') return {};
    this.#apply(event);
    return { task: event['uuid'] };
  }

  #applyOne(event: TaskEvent): void {
    const uuid = event['uuid'] as string;
    const at = Math.round(event.timestamp * 1000);
    const { type: _type, ...fields } = event;
    this.#sql('INSERT INTO task_events (uuid, type, timestamp, hostname, fields) VALUES (?, ?, ?, ?, ?)')
      .run(uuid, event.type, at, event.hostname ?? null, JSON.stringify(fields));
    const current = this.task(uuid);
    const incoming = stateOf[event.type];
    // Events may arrive out of order (several workers, batches): a final state stays unless a
    // later event replaces it (a retried task that runs again is received again, later).
    let state = current?.state ?? incoming ?? 'PENDING';
    if (incoming && (!current || !finalStates.has(current.state) || at >= current.updated_at)) state = incoming;
    const row = {
      uuid,
      name: text(event['name']) ?? current?.name ?? null,
      state,
      args: text(event['args']) ?? current?.args ?? null,
      kwargs: text(event['kwargs']) ?? current?.kwargs ?? null,
      result: event.type === 'task-succeeded' ? text(event['result']) : (current?.result ?? null),
      exception: event.type === 'task-failed' || event.type === 'task-retried' ? text(event['exception']) : (current?.exception ?? null),
      traceback: event.type === 'task-failed' || event.type === 'task-retried' ? text(event['traceback']) : (current?.traceback ?? null),
      worker: event.type === 'task-sent' ? (current?.worker ?? null) : (event.hostname ?? current?.worker ?? null),
      queue: text(event['queue']) ?? text(event['routing_key']) ?? current?.queue ?? null,
      sent_at: event.type === 'task-sent' ? at : (current?.sent_at ?? null),
      received_at: event.type === 'task-received' ? at : (current?.received_at ?? null),
      started_at: event.type === 'task-started' ? at : (current?.started_at ?? null),
      finished_at: incoming && finalStates.has(incoming) ? at : (current?.finished_at ?? null),
      runtime: num(event['runtime']) ?? current?.runtime ?? null,
      retries: Math.max(num(event['retries']) ?? 0, current?.retries ?? 0, event.type === 'task-retried' ? (current?.retries ?? 0) + 1 : 0),
      parent_id: text(event['parent_id']) ?? current?.parent_id ?? null,
      root_id: text(event['root_id']) ?? current?.root_id ?? null,
      progress: current?.progress ?? null,
      first_seen: current?.first_seen ?? at,
      updated_at: Math.max(at, current?.updated_at ?? 0),
    };
    this.#sql(
        `INSERT OR REPLACE INTO tasks (uuid, name, state, args, kwargs, result, exception, traceback, worker, queue, sent_at, received_at,
           started_at, finished_at, runtime, retries, parent_id, root_id, progress, first_seen, updated_at)
         VALUES (@uuid, @name, @state, @args, @kwargs, @result, @exception, @traceback, @worker, @queue, @sent_at, @received_at,
           @started_at, @finished_at, @runtime, @retries, @parent_id, @root_id, @progress, @first_seen, @updated_at)`,
      )
      .run(row);
  }

  #applyWorker(event: TaskEvent): void {
    const at = Math.round(event.timestamp * 1000);
    const offline = event.type === 'worker-offline';
    this.#sql(
        `INSERT INTO workers (hostname, last_heartbeat, freq, active, processed, loadavg, sw_ident, sw_ver, sw_sys, pid, offline_at, updated_at)
         VALUES (@hostname, @last_heartbeat, @freq, @active, @processed, @loadavg, @sw_ident, @sw_ver, @sw_sys, @pid, @offline_at, @updated_at)
         ON CONFLICT(hostname) DO UPDATE SET
           last_heartbeat = coalesce(excluded.last_heartbeat, last_heartbeat), freq = coalesce(excluded.freq, freq),
           active = coalesce(excluded.active, active), processed = coalesce(excluded.processed, processed),
           loadavg = coalesce(excluded.loadavg, loadavg), sw_ident = coalesce(excluded.sw_ident, sw_ident),
           sw_ver = coalesce(excluded.sw_ver, sw_ver), sw_sys = coalesce(excluded.sw_sys, sw_sys), pid = coalesce(excluded.pid, pid),
           offline_at = excluded.offline_at, updated_at = excluded.updated_at`,
      )
      .run({
        hostname: event.hostname,
        last_heartbeat: offline ? null : at,
        freq: num(event['freq']),
        active: num(event['active']),
        processed: num(event['processed']),
        loadavg: Array.isArray(event['loadavg']) ? JSON.stringify(event['loadavg']) : null,
        sw_ident: text(event['sw_ident']),
        sw_ver: text(event['sw_ver']),
        sw_sys: text(event['sw_sys']),
        pid: num(event['pid']),
        offline_at: offline ? at : null,
        updated_at: at,
      });
  }

  /** Keeps the metadata of a custom state (PROGRESS) read from the result backend. */
  setProgress(uuid: string, state: string, meta: unknown): void {
    const current = this.task(uuid);
    if (!current || finalStates.has(current.state)) return;
    this.#sql('UPDATE tasks SET state = ?, progress = ? WHERE uuid = ?').run(state, JSON.stringify(meta ?? null), uuid);
  }

  task(uuid: string): TaskRow | undefined {
    return this.#sql('SELECT * FROM tasks WHERE uuid = ?').get(uuid) as TaskRow | undefined;
  }

  tasks(query: TaskQuery = {}): TaskRow[] {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      params.push(value);
    };
    if (query.id) add('uuid LIKE ?', `${query.id}%`);
    if (query.name) add('name LIKE ?', `%${query.name}%`);
    if (query.state) add('state = ?', query.state);
    if (query.from !== undefined) add('first_seen >= ?', query.from);
    if (query.to !== undefined) add('first_seen <= ?', query.to);
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY first_seen DESC, uuid LIMIT ? OFFSET ?`;
    params.push(Math.min(query.limit ?? 100, 1000), query.offset ?? 0);
    return this.#db.prepare(sql).all(...params) as TaskRow[];
  }

  /** The task's timeline, oldest first. */
  events(uuid: string): TaskEventRow[] {
    return this.#sql('SELECT * FROM task_events WHERE uuid = ? ORDER BY timestamp, id').all(uuid) as TaskEventRow[];
  }

  children(uuid: string): TaskRow[] {
    return this.#db.prepare('SELECT * FROM tasks WHERE parent_id = ? ORDER BY first_seen').all(uuid) as TaskRow[];
  }

  workers(now = Date.now()): WorkerRow[] {
    const rows = this.#sql('SELECT * FROM workers ORDER BY hostname').all() as (Omit<WorkerRow, 'online' | 'loadavg'> & { loadavg: string | null })[];
    return rows.map((row) => ({
      ...row,
      loadavg: row.loadavg ? (JSON.parse(row.loadavg) as number[]) : null,
      online: isWorkerOnline(row, now),
    }));
  }

  /** Applies the retention rules; returns how many tasks were deleted. */
  prune(now = Date.now()): number {
    const cutoff = now - this.#retention.maxAgeMs;
    return this.#db.transaction(() => {
      let deleted = this.#db.prepare('DELETE FROM tasks WHERE updated_at < ?').run(cutoff).changes;
      const count = (this.#db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
      if (count > this.#retention.maxTasks) {
        deleted += this.#db
          .prepare('DELETE FROM tasks WHERE uuid IN (SELECT uuid FROM tasks ORDER BY updated_at, uuid LIMIT ?)')
          .run(count - this.#retention.maxTasks).changes;
      }
      // A timeline goes with its task; events of tasks never stored past the cutoff go too.
      this.#db.prepare('DELETE FROM task_events WHERE timestamp < ? OR uuid NOT IN (SELECT uuid FROM tasks)').run(cutoff);
      this.#db.prepare('DELETE FROM workers WHERE updated_at < ?').run(cutoff);
      return deleted;
    })();
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
