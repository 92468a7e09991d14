import { sleepUnlessAborted as sleep } from '../adapters/timers.js';
import type { ResultBackend, StoreOptions } from '../backend/result-backend.js';
import { ResultEncodeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskRequest } from '../protocol/message.js';
import { celeryDate, encodeRecord, exceptionInfo, type ResultRecord } from '../result/record.js';
import { TaskState, type TaskStateName } from '../result/states.js';
import { DeadlineWatch } from './deadline-watch.js';
import { TaskIdMap } from '../broker/in-flight.js';

/**
 * How long the worker keeps retrying an outcome record (SUCCESS, FAILURE, REVOKED) while it
 * holds the task's message, and how it backs off between tries.
 */
export interface ResultRetryOptions {
  /**
   * Total time for one outcome record, from its first try, including a try that hangs. Past
   * it the worker gives the message back for redelivery (acks late) instead of acking it
   * without a record. Default 300 000 ms (5 min): under RabbitMQ's consumer_timeout (30 min).
   */
  readonly limitMs?: number;
  /** First wait between tries, doubled each try. Default 200 ms. */
  readonly initialDelayMs?: number;
  /** Longest wait between tries. Default 5000 ms. */
  readonly maxDelayMs?: number;
}

export const defaultResultRetry: Required<ResultRetryOptions> = { limitMs: 300_000, initialDelayMs: 200, maxDelayMs: 5000 };

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
  /** Set when records are extended (Celery's result_extended): the queue of each task in flight. */
  readonly #queues: TaskIdMap<string> | undefined;
  /** STARTED records queued or in flight, by task id. */
  readonly #started = new TaskIdMap<PendingStarted>();
  /** Start counts of the tasks running now, written into their in-progress records (tq_attempt). */
  readonly #attempts = new TaskIdMap<number>();
  /** STARTED records waiting for the end of this moment, in order. */
  readonly #startedQueue: PendingStarted[] = [];
  readonly #retry: Required<ResultRetryOptions>;
  /** Aborted by abandonRetries(): outcome records being retried give up at once. */
  readonly #giveUp = new AbortController();
  readonly #deadlines = new DeadlineWatch(this.#giveUp.signal);

  constructor(backend: ResultBackend | null, options: { ttlMs: number; logger: Logger; hostname: string; retry?: ResultRetryOptions; extended?: boolean }) {
    this.#backend = backend;
    this.#ttlMs = options.ttlMs;
    this.#logger = options.logger;
    this.#hostname = options.hostname;
    this.#retry = { ...defaultResultRetry, ...options.retry };
    this.#queues = options.extended ? new TaskIdMap<string>() : undefined;
  }

  /**
   * With result_extended, the queue a task was taken from, for its records' "queue" (Celery
   * writes the delivery's routing key: the queue's name, as tq routes). Forgotten at its outcome.
   */
  received(request: Pick<TaskRequest, 'id'>, queue: string): void {
    this.#queues?.set(request.id, queue);
  }

  /** Outcome records still being retried give up now (resolve false): a forced stop. */
  abandonRetries(): void {
    this.#giveUp.abort();
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

  /**
   * The run is over and its outcome record follows after other round trips (a workflow step
   * publishes its successors first): a STARTED record not sent yet is dropped now, as outcome()
   * drops it, rather than written at the end of this moment and then waited for.
   */
  runFinished(request: Pick<TaskRequest, 'id'>): void {
    const started = this.#started.get(request.id);
    if (started && !started.sent) {
      started.superseded = true;
      this.#started.delete(request.id);
    }
  }

  /**
   * Records an outcome (SUCCESS, FAILURE, REVOKED) and retries it with backoff for up to
   * `retry.limitMs` (see ResultRetryOptions), the wait for the task's STARTED record included.
   * Resolves true once stored (or when no record is kept), false when it gave up: the caller
   * must then not ack the message as if its outcome were recorded.
   */
  outcome(request: Pick<TaskRequest, 'id' | 'ignoreResult' | 'properties'>, status: TaskStateName, result: unknown, traceback: string | null = null, children: readonly unknown[] = noChildren): Promise<boolean> {
    if (!this.records(request)) return resolvedTrue;
    const after = this.#started.get(request.id)?.sent;
    this.runFinished(request);
    const deadline = Date.now() + this.#retry.limitMs;
    // The first try needs no async frame of its own (one a task): most records are stored at once.
    // Raced against the deadline: a backend that never answers (a black-holed link) must not hold
    // the message forever. Every try waits for the task's STARTED record first, so a STARTED that
    // lands late can never overwrite the outcome.
    const first = this.#storeOutcome(after, request, status, result, traceback, children);
    return this.#deadlines.race(first, deadline).then(returnTrue, (error: unknown) => this.#retryOutcome({ request, status, result, traceback, children, after, deadline }, error));
  }

  /** The tries after a failed first one, with backoff, until the deadline or a forced stop. */
  async #retryOutcome(outcome: FailedOutcome, firstError: unknown): Promise<boolean> {
    const { request, status, result, traceback, children, after, deadline } = outcome;
    const { limitMs, initialDelayMs, maxDelayMs } = this.#retry;
    let error = firstError;
    let tries = 1;
    let delayMs = initialDelayMs;
    for (;;) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0 || this.#giveUp.signal.aborted) {
        this.#logger.error(
          `gave up storing ${status} for task ${request.id} after ${tries} tries (${this.#giveUp.signal.aborted ? 'forced stop' : `limit ${limitMs} ms`}): ${(error as Error).message}`,
        );
        return false;
      }
      if (tries === 1) this.#logger.warn(`could not store ${status} for task ${request.id}: ${(error as Error).message}; retrying for up to ${limitMs} ms`);
      await sleep(Math.min(delayMs, leftMs), this.#giveUp.signal);
      delayMs = Math.min(maxDelayMs, delayMs * 2);
      tries++;
      try {
        await this.#deadlines.race(this.#storeOutcome(after, request, status, result, traceback, children), deadline);
        this.#logger.info(`stored ${status} for task ${request.id} after ${tries} tries`);
        return true;
      } catch (failure) {
        error = failure;
      }
    }
  }

  /** One try of an outcome record, after the task's STARTED record when that is on its way; rejects on failure. */
  #storeOutcome(after: Promise<void> | undefined, request: Pick<TaskRequest, 'id' | 'properties'>, status: TaskStateName, result: unknown, traceback: string | null, children: readonly unknown[]): Promise<void> {
    if (after) return after.then(() => this.#store(request, status, result, traceback, true, children));
    return this.#store(request, status, result, traceback, true, children);
  }

  /** Stores one record; `rethrow` false logs a failure instead (in-progress records: the next one replaces it). */
  #store(request: Pick<TaskRequest, 'id' | 'properties'>, status: TaskStateName, result: unknown, traceback: string | null, rethrow = false, children: readonly unknown[] = noChildren): Promise<void> {
    const ready = status === TaskState.SUCCESS || status === TaskState.FAILURE || status === TaskState.REVOKED;
    // The run is over with its outcome (or a retry, which is a new delivery): no more start count.
    const running = !ready && status !== TaskState.RETRY;
    const attempt = running ? this.#attempts.get(request.id) : undefined;
    if (!running) this.#attempts.delete(request.id);
    let record = recordOf(request, status, result === undefined ? null : result, traceback, ready ? celeryDate() : null, children, attempt);
    if (this.#queues) record = this.#extended(request, record, ready);
    let stored: Promise<void>;
    try {
      stored = this.#backend!.store(request.id, this.#encode(request, record, children), this.#storeOptions(request));
    } catch (error) {
      stored = Promise.reject(error);
    }
    if (rethrow) return stored;
    // An in-progress record (STARTED, PROGRESS, RETRY): the next record replaces it. Say so loudly.
    return stored.catch((error: unknown) => this.#logger.error(`could not store ${status} for task ${request.id}: ${(error as Error).message}`));
  }

  /**
   * Celery's result_extended fields, after parent_id and before task_id as Celery writes them:
   * name, args, kwargs, worker, retries, queue (null where a record written outside a run,
   * such as a revocation by remote control, does not know them).
   */
  #extended(request: Pick<TaskRequest, 'id'>, record: ResultRecord, ready: boolean): ResultRecord {
    const { task, args, kwargs, retries } = request as Partial<TaskRequest>;
    const queue = this.#queues!.get(request.id) ?? null;
    if (ready) this.#queues!.delete(request.id);
    const { task_id: taskId, tq_attempt: attempt, ...before } = record as ResultRecord & { tq_attempt?: number };
    return {
      ...before,
      name: task ?? null,
      args: args ?? null,
      kwargs: kwargs ?? null,
      worker: task === undefined ? null : this.#hostname,
      retries: retries ?? null,
      queue,
      task_id: taskId,
      ...(attempt !== undefined ? { tq_attempt: attempt } : {}),
    };
  }

  /**
   * The record's bytes. A SUCCESS whose value cannot be written is recorded as FAILURE with a
   * ResultEncodeError (Celery's trace does the same with kombu's EncodeError): a store of it could
   * never succeed, and retrying it would redeliver and re-run the task without end.
   */
  #encode(request: Pick<TaskRequest, 'id' | 'properties'>, record: ResultRecord, children: readonly unknown[]): Uint8Array {
    try {
      return encodeRecord(record);
    } catch (cause) {
      if (record.status !== TaskState.SUCCESS) throw cause;
      const error = new ResultEncodeError(cause);
      this.#logger.error(`task ${request.id} succeeded but ${error.message}; recorded as FAILURE`);
      return encodeRecord(recordOf(request, TaskState.FAILURE, exceptionInfo(error), traceback(error), celeryDate(), children, undefined));
    }
  }

  #storeOptions(request: Pick<TaskRequest, 'id' | 'properties'>): StoreOptions {
    const { replyTo, correlationId } = request.properties;
    const options: { -readonly [K in keyof StoreOptions]: StoreOptions[K] } = { ttlMs: this.#ttlMs };
    if (replyTo !== undefined) options.replyTo = replyTo;
    if (correlationId !== undefined) options.correlationId = correlationId;
    // The worker passes the whole request: SQL backends keep the task's name and arguments.
    const { task, args, kwargs, retries } = request as Partial<TaskRequest>;
    if (typeof task === 'string') options.task = { name: task, args: args ?? [], kwargs: kwargs ?? {}, retries: retries ?? 0, worker: this.#hostname };
    return options;
  }

  /** See outcome(): false when the record could not be stored within the retry limit. */
  success(request: TaskRequest, value: unknown, children?: readonly unknown[]): Promise<boolean> {
    return this.outcome(request, TaskState.SUCCESS, value, null, children);
  }

  /** See outcome(): false when the record could not be stored within the retry limit. */
  failure(request: Pick<TaskRequest, 'id' | 'ignoreResult' | 'properties'>, error: unknown): Promise<boolean> {
    return this.outcome(request, TaskState.FAILURE, exceptionInfo(error), traceback(error));
  }

  retry(request: TaskRequest, reason: unknown): Promise<void> {
    // As Celery's mark_as_retry: the exception retry() was given, else null.
    return this.write(request, TaskState.RETRY, reason === undefined ? null : exceptionInfo(reason), traceback(reason));
  }

  /** See outcome(): false when the record could not be stored within the retry limit. */
  revoked(request: TaskRequest, reason: string): Promise<boolean> {
    return this.outcome(request, TaskState.REVOKED, { exc_type: 'TaskRevokedError', exc_message: [reason], exc_module: 'celery.exceptions' });
  }
}

/** An outcome record whose first try failed, for the tries after it. */
interface FailedOutcome {
  readonly request: Pick<TaskRequest, 'id' | 'properties'>;
  readonly status: TaskStateName;
  readonly result: unknown;
  readonly traceback: string | null;
  readonly children: readonly unknown[];
  readonly after: Promise<void> | undefined;
  readonly deadline: number;
}

/**
 * Celery's record for `request`. Celery writes group_id and parent_id when the task has them
 * (workflow members), before task_id; tq adds its start count to in-progress records. Most
 * records have neither: one literal of the six base fields, in encodeRecord's order.
 */
function recordOf(request: Pick<TaskRequest, 'id'>, status: TaskStateName, result: unknown, traceback: string | null, dateDone: string | null, children: readonly unknown[], attempt: number | undefined): ResultRecord {
  const { group, parentId } = request as Partial<TaskRequest>;
  if (!group && !parentId && attempt === undefined) return { status, result, traceback, children, date_done: dateDone, task_id: request.id };
  return {
    status,
    result,
    traceback,
    children,
    date_done: dateDone,
    ...(group ? { group_id: group } : {}),
    ...(parentId ? { parent_id: parentId } : {}),
    task_id: request.id,
    ...(attempt !== undefined ? { tq_attempt: attempt } : {}),
  };
}

const returnTrue = (): true => true;
const resolved = Promise.resolve();
const noChildren: readonly unknown[] = Object.freeze([]);
const resolvedTrue = Promise.resolve(true);

export function traceback(error: unknown): string | null {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return error === undefined ? null : String(error);
}
