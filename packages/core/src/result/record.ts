import { MessageDecodeError } from '../errors.js';
import { jsonSerializer, pythonJsonString, pythonJsonStringify } from '../serializer/json.js';
import { exceptionStates, type TaskStateName } from './states.js';

/**
 * A result record as Celery's key-value backends store it (celery-task-meta-<id>):
 * {"status", "result", "traceback", "children", "date_done", "task_id"}, JSON.
 * For exception states `result` is {"exc_type", "exc_message": [...], "exc_module"}.
 */
export interface ResultRecord {
  readonly status: TaskStateName;
  readonly result: unknown;
  readonly traceback: string | null;
  readonly children: readonly unknown[];
  readonly date_done: string | null;
  /** The group this task belongs to (group and chord members), written before task_id as Celery does. */
  readonly group_id?: string;
  /** The task that applied this one (chain steps, callbacks, chord bodies). */
  readonly parent_id?: string;
  readonly task_id: string;
  /** Celery's result_extended fields, written when known. */
  readonly name?: string | null;
  readonly args?: readonly unknown[] | null;
  readonly kwargs?: Readonly<Record<string, unknown>> | null;
  readonly worker?: string | null;
  readonly retries?: number | null;
  readonly queue?: string | null;
  /**
   * tq's count of starts of this task id, on the records a worker writes while the task runs
   * (STARTED, PROGRESS and other custom states), so poison detection survives a PROGRESS
   * overwriting STARTED. Celery ignores keys it does not know.
   */
  readonly tq_attempt?: number;
}

export interface ExceptionInfo {
  readonly exc_type: string;
  readonly exc_message: readonly unknown[];
  readonly exc_module: string;
}

let lastDoneMs = Number.NaN;
let lastDoneText = '';

/** Celery writes date_done as naive-UTC isoformat with microseconds. */
export function celeryDate(date?: Date): string {
  if (date) return date.toISOString().replace('Z', '000');
  // Now: a busy worker finishes many tasks per millisecond; they share the text.
  const now = Date.now();
  if (now !== lastDoneMs) {
    lastDoneMs = now;
    lastDoneText = new Date(now).toISOString().replace('Z', '000');
  }
  return lastDoneText;
}

/**
 * The exception as Celery records it. `exc_module` is where a Python reader looks the class up:
 * an error may name its own (`excModule`: tq's time limits say billiard.exceptions, revocation
 * and max retries celery.exceptions, so `except SoftTimeLimitExceeded` works in Python), else
 * builtins, where Python makes a class of that name for anything it does not find.
 */
export function exceptionInfo(error: unknown): ExceptionInfo {
  if (error instanceof Error) {
    const { excType, excModule } = error as { excType?: unknown; excModule?: unknown };
    return {
      exc_type: typeof excType === 'string' ? excType : error.name || 'Error',
      exc_message: [error.message],
      exc_module: typeof excModule === 'string' ? excModule : 'builtins',
    };
  }
  return { exc_type: 'Error', exc_message: [String(error)], exc_module: 'builtins' };
}

export function isExceptionInfo(value: unknown): value is ExceptionInfo {
  return value !== null && typeof value === 'object' && typeof (value as ExceptionInfo).exc_type === 'string';
}

/** The message of an ExceptionInfo, as Celery joins exc_message for display. */
export function exceptionMessage(info: ExceptionInfo): string {
  const parts = Array.isArray(info.exc_message) ? info.exc_message : [info.exc_message];
  return parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(', ');
}

const recordEncoder = new TextEncoder();
const baseRecordKeys = ['status', 'result', 'traceback', 'children', 'date_done', 'task_id'];

/** The six base fields and no other, in that order (a loop, not keys.some: no closure a record). */
function hasBaseKeys(record: ResultRecord): boolean {
  const keys = Object.keys(record);
  if (keys.length !== baseRecordKeys.length) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== baseRecordKeys[i]) return false;
  return true;
}

/**
 * The record's JSON as Python's json.dumps writes it. The usual shape (the six base fields, in
 * Celery's order, no children) is written field by field, which skips the separator pass over
 * the whole record; anything else goes through the generic writer. Both give the same bytes.
 */
export function encodeRecord(record: ResultRecord): Uint8Array {
  const omitted = record.result === undefined || typeof record.result === 'function' || typeof record.result === 'symbol'; // JSON drops the key
  if (omitted || !hasBaseKeys(record) || record.children.length > 0) return jsonSerializer.encode(record);
  const text =
    `{"status": ${pythonJsonString(record.status)}, "result": ${pythonJsonStringify(record.result)}, ` +
    `"traceback": ${record.traceback === null ? 'null' : pythonJsonString(record.traceback)}, "children": [], ` +
    `"date_done": ${record.date_done === null ? 'null' : pythonJsonString(record.date_done)}, "task_id": ${pythonJsonString(record.task_id)}}`;
  return recordEncoder.encode(text);
}

export function decodeRecord(bytes: Uint8Array): ResultRecord {
  const value = jsonSerializer.decode(bytes);
  if (value === null || typeof value !== 'object' || typeof (value as ResultRecord).status !== 'string') {
    throw new MessageDecodeError('result', 'not a Celery result record');
  }
  return value as ResultRecord;
}

export function isExceptionState(status: string): boolean {
  return exceptionStates.has(status);
}
