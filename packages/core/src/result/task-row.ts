import type { StoreOptions } from '../backend/result-backend.js';
import { safeJsonParse } from '../serializer/json.js';

/**
 * The columns of one task's row, in django-celery-results' TaskResult layout (so a Django admin
 * with that app lists tq's tasks) plus tq's own: queue, retries, date_started, expires_at and
 * the record's exact bytes. For SQL result backends (@tq/postgres, @tq/mysql).
 */
export interface TaskRow {
  readonly taskId: string;
  readonly status: string;
  readonly taskName: string | null;
  readonly taskArgs: string | null;
  readonly taskKwargs: string | null;
  readonly worker: string | null;
  readonly result: string | null;
  readonly traceback: string | null;
  readonly meta: string;
  /** The record's date_done (naive UTC in Celery's records), or null: the database's now. */
  readonly dateDone: Date | null;
  readonly queue: string | null;
  readonly retries: number | null;
  readonly started: boolean;
}

interface RecordShape {
  status?: unknown;
  result?: unknown;
  traceback?: unknown;
  children?: unknown;
  date_done?: unknown;
  name?: unknown;
  args?: unknown;
  kwargs?: unknown;
  worker?: unknown;
  queue?: unknown;
  retries?: unknown;
}

const decoder = new TextDecoder();
const maxName = 255;

/** Reads what the columns need from the record core serialized (Celery's result meta, JSON). */
export function taskRow(taskId: string, record: Uint8Array, options: StoreOptions): TaskRow {
  let parsed: RecordShape = {};
  try {
    const value = safeJsonParse(decoder.decode(record)) as unknown;
    if (value && typeof value === 'object') parsed = value as RecordShape;
  } catch {
    // Not JSON (another serializer): the row keeps the bytes and says so in its status.
  }
  const task = options.task;
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
  const json = (value: unknown): string | null => (value === undefined || value === null ? null : JSON.stringify(value));
  const status = text(parsed.status) ?? 'UNKNOWN';
  const doneText = text(parsed.date_done);
  const done = doneText ? new Date(/[Z+]|-\d\d:?\d\d$/.test(doneText.slice(10)) ? doneText : `${doneText.replace(/(\.\d{3})\d+$/, '$1')}Z`) : null;
  return {
    taskId,
    status: status.slice(0, 50),
    taskName: (task?.name ?? text(parsed.name))?.slice(0, maxName) ?? null,
    taskArgs: json(task?.args ?? parsed.args),
    taskKwargs: json(task?.kwargs ?? parsed.kwargs),
    worker: (task?.worker ?? text(parsed.worker))?.slice(0, 100) ?? null,
    result: json(parsed.result === undefined ? null : parsed.result) ?? 'null',
    traceback: text(parsed.traceback),
    meta: JSON.stringify({ children: Array.isArray(parsed.children) ? parsed.children : [] }),
    dateDone: done && !Number.isNaN(done.getTime()) ? done : null,
    queue: text(parsed.queue)?.slice(0, maxName) ?? null,
    retries: task?.retries ?? (typeof parsed.retries === 'number' ? parsed.retries : null),
    started: status === 'STARTED',
  };
}

/** The columns a SQL result backend reads back for one task (its stored record, if tq wrote it). */
export interface FetchedTaskRow {
  task_id: string;
  status: string;
  result: string | null;
  traceback: string | null;
  meta: string | null;
  date_done: Date | null;
  record: Uint8Array | null;
}

/** The record of a fetched row: the bytes tq stored, else one rebuilt from Celery's columns. */
export function recordOfRow(row: FetchedTaskRow): Uint8Array {
  if (row.record) return new Uint8Array(row.record.buffer, row.record.byteOffset, row.record.byteLength);
  return recordFromColumns(row);
}

/**
 * A record for a row that has no tq bytes (written by Python Celery through
 * django-celery-results): rebuilt from its columns, in Celery's field order.
 */
export function recordFromColumns(row: { task_id: string; status: string; result: string | null; traceback: string | null; meta: string | null; date_done: Date | null }): Uint8Array {
  let children: unknown = [];
  try {
    children = (JSON.parse(row.meta ?? '{}') as { children?: unknown }).children ?? [];
  } catch {
    children = [];
  }
  let result: unknown = null;
  try {
    result = row.result === null ? null : JSON.parse(row.result);
  } catch {
    result = row.result;
  }
  const ready = ['SUCCESS', 'FAILURE', 'REVOKED'].includes(row.status);
  const record = {
    status: row.status,
    result,
    traceback: row.traceback,
    children,
    date_done: ready && row.date_done ? row.date_done.toISOString().replace('Z', '000') : null,
    task_id: row.task_id,
  };
  return new TextEncoder().encode(JSON.stringify(record));
}
