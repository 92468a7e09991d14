import type { ResultBackend, StoreOptions } from '../backend/result-backend.js';
import type { Logger } from '../logger.js';
import type { TaskRequest } from '../protocol/message.js';
import { celeryDate, encodeRecord, exceptionInfo, type ResultRecord } from '../result/record.js';
import { TaskState, type TaskStateName } from '../result/states.js';

/** A STARTED record waiting for the end of this moment, or being sent. */
interface PendingStarted {
  readonly request: TaskRequest;
  /** Set once the record is handed to the backend. */
  sent: Promise<void> | undefined;
  /** Set when a later record of the task came first: STARTED is then never sent. */
  superseded: boolean;
}

/**
 * Writes Celery-format state records for the worker; a no-op without a backend or with
 * ignore_result. The records of one task land in order (STARTED, PROGRESS…, outcome).
 *
 * STARTED is sent at the end of the current moment (the event loop's next check phase), not at
 * once: a task that finished before then (most short tasks) gets its outcome record instead, and
 * STARTED is dropped, since it would be overwritten microseconds later. Anyone watching sees
 * PENDING → SUCCESS for such a task; a task still running after that moment has its STARTED
 * record (with the attempt count poison detection reads) within one event-loop turn.
 */
export class ResultWriter {
  readonly #backend: ResultBackend | null;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  readonly #hostname: string;
  /** STARTED records queued or in flight, by task id. */
  readonly #started = new Map<string, PendingStarted>();
  /** Start counts of the tasks running now, written into their in-progress records (tq_attempt). */
  readonly #attempts = new Map<string, number>();
  /** STARTED records waiting for the end of this moment, in order. */
  readonly #startedQueue: PendingStarted[] = [];

  constructor(backend: ResultBackend | null, options: { ttlMs: number; logger: Logger; hostname: string }) {
    this.#backend = backend;
    this.#ttlMs = options.ttlMs;
    this.#logger = options.logger;
    this.#hostname = options.hostname;
  }

  /** False when records of `request` are not kept (no backend, or ignore_result). */
  records(request: Pick<TaskRequest, 'ignoreResult'>): boolean {
    return this.#backend !== null && !request.ignoreResult;
  }

  /** Records `status`; waits for the task's STARTED record if that is on its way, drops it if not yet sent. */
  write(request: Pick<TaskRequest, 'id' | 'ignoreResult' | 'properties'>, status: TaskStateName, result: unknown, traceback: string | null = null): Promise<void> {
    if (!this.records(request)) return resolved;
    const started = this.#started.get(request.id);
    if (started?.sent) return started.sent.then(() => this.#store(request, status, result, traceback));
    if (started) {
      started.superseded = true;
      this.#started.delete(request.id);
    }
    return this.#store(request, status, result, traceback);
  }

  /**
   * `attempt` counts starts of this task id, so a task that keeps killing its executor is caught.
   * Sent at the end of this moment unless a later record of the task comes first; a failure is
   * logged (the task runs either way).
   */
  started(request: TaskRequest, attempt = 1): void {
    if (!this.records(request)) return;
    this.#attempts.set(request.id, attempt);
    const pending: PendingStarted = { request, sent: undefined, superseded: false };
    this.#started.set(request.id, pending);
    this.#startedQueue.push(pending);
    if (this.#startedQueue.length === 1) setImmediate(() => this.#sendStarted());
  }

  #sendStarted(): void {
    for (const pending of this.#startedQueue.splice(0)) {
      if (pending.superseded) continue;
      const id = pending.request.id;
      const meta = { pid: process.pid, hostname: this.#hostname, attempt: this.#attempts.get(id) };
      pending.sent = this.#store(pending.request, TaskState.STARTED, meta, null).finally(() => {
        if (this.#started.get(id) === pending) this.#started.delete(id);
      });
    }
  }

  async #store(request: Pick<TaskRequest, 'id' | 'properties'>, status: TaskStateName, result: unknown, traceback: string | null): Promise<void> {
    const ready = status === TaskState.SUCCESS || status === TaskState.FAILURE || status === TaskState.REVOKED;
    // The run is over with its outcome (or a retry, which is a new delivery): no more start count.
    const running = !ready && status !== TaskState.RETRY;
    const attempt = running ? this.#attempts.get(request.id) : undefined;
    if (!running) this.#attempts.delete(request.id);
    const record: ResultRecord = {
      status,
      result: result === undefined ? null : result,
      traceback,
      children: [],
      date_done: ready ? celeryDate() : null,
      task_id: request.id,
      ...(attempt !== undefined ? { tq_attempt: attempt } : {}),
    };
    try {
      const { replyTo, correlationId } = request.properties;
      const options: { -readonly [K in keyof StoreOptions]: StoreOptions[K] } = { ttlMs: this.#ttlMs };
      if (replyTo !== undefined) options.replyTo = replyTo;
      if (correlationId !== undefined) options.correlationId = correlationId;
      await this.#backend!.store(request.id, encodeRecord(record), options);
    } catch (error) {
      // The task's outcome stands; only its record is lost. Say so loudly.
      this.#logger.error(`could not store ${status} for task ${request.id}: ${(error as Error).message}`);
    }
  }

  success(request: TaskRequest, value: unknown): Promise<void> {
    return this.write(request, TaskState.SUCCESS, value);
  }

  failure(request: Pick<TaskRequest, 'id' | 'ignoreResult' | 'properties'>, error: unknown): Promise<void> {
    return this.write(request, TaskState.FAILURE, exceptionInfo(error), traceback(error));
  }

  retry(request: TaskRequest, reason: unknown): Promise<void> {
    return this.write(request, TaskState.RETRY, exceptionInfo(reason ?? new Error('retry')), traceback(reason));
  }

  revoked(request: TaskRequest, reason: string): Promise<void> {
    return this.write(request, TaskState.REVOKED, { exc_type: 'TaskRevokedError', exc_message: [reason], exc_module: 'celery.exceptions' });
  }
}

const resolved = Promise.resolve();

export function traceback(error: unknown): string | null {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return error === undefined ? null : String(error);
}
