import type { ResultBackend } from '../backend/result-backend.js';
import type { Logger } from '../logger.js';
import type { TaskRequest } from '../protocol/message.js';
import { celeryDate, encodeRecord, exceptionInfo, type ResultRecord } from '../result/record.js';
import { TaskState, type TaskStateName } from '../result/states.js';

/** Writes Celery-format state records for the worker; a no-op without a backend or with ignore_result. */
export class ResultWriter {
  readonly #backend: ResultBackend | null;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  readonly #hostname: string;

  constructor(backend: ResultBackend | null, options: { ttlMs: number; logger: Logger; hostname: string }) {
    this.#backend = backend;
    this.#ttlMs = options.ttlMs;
    this.#logger = options.logger;
    this.#hostname = options.hostname;
  }

  async write(request: Pick<TaskRequest, 'id' | 'ignoreResult' | 'properties'>, status: TaskStateName, result: unknown, traceback: string | null = null): Promise<void> {
    if (!this.#backend || request.ignoreResult) return;
    const ready = status === TaskState.SUCCESS || status === TaskState.FAILURE || status === TaskState.REVOKED;
    const record: ResultRecord = {
      status,
      result: result === undefined ? null : result,
      traceback,
      children: [],
      date_done: ready ? celeryDate() : null,
      task_id: request.id,
    };
    try {
      await this.#backend.store(request.id, encodeRecord(record), {
        ttlMs: this.#ttlMs,
        ...(request.properties.replyTo !== undefined ? { replyTo: request.properties.replyTo } : {}),
        ...(request.properties.correlationId !== undefined ? { correlationId: request.properties.correlationId } : {}),
      });
    } catch (error) {
      // The task's outcome stands; only its record is lost. Say so loudly.
      this.#logger.error(`could not store ${status} for task ${request.id}: ${(error as Error).message}`);
    }
  }

  /** `attempt` counts starts of this task id, so a task that keeps killing its executor is caught. */
  started(request: TaskRequest, attempt = 1): Promise<void> {
    return this.write(request, TaskState.STARTED, { pid: process.pid, hostname: this.#hostname, attempt });
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

export function traceback(error: unknown): string | null {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return error === undefined ? null : String(error);
}
