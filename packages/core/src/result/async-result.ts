import type { ResultBackend } from '../backend/result-backend.js';
import { ResultTimeoutError, TaskError, TaskRevokedError, TqError } from '../errors.js';
import { decodeRecord, exceptionMessage, isExceptionInfo, type ResultRecord } from './record.js';
import { readyStates, TaskState, type TaskStateName } from './states.js';
import { resultFromTuple, type GroupResult, type ResultTuple } from '../canvas/group-result.js';

export interface GetOptions {
  /** Give up after this many ms with ResultTimeoutError. Default: wait forever. */
  readonly timeout?: number;
  /** Poll interval when the backend cannot push. Default 100 ms, backing off to 1 s. */
  readonly pollIntervalMs?: number;
  /** Rethrow a remote failure as TaskError (default), or return the exception info. */
  readonly propagate?: boolean;
  readonly signal?: AbortSignal;
}

/** A handle on a sent task: its state, progress and result, from any process. */
export class AsyncResult<R = unknown> {
  readonly id: string;
  readonly #backend: () => Promise<ResultBackend | null>;
  /** The task whose result started this one (a chain's previous step, a chord body's header), when known. */
  parent: AsyncResult | GroupResult | null = null;

  /** `backend` is resolved on first use, so a handle can be made before connecting. */
  constructor(id: string, backend: ResultBackend | null | (() => Promise<ResultBackend | null>)) {
    this.id = id;
    this.#backend = typeof backend === 'function' ? backend : () => Promise.resolve(backend);
  }

  async #requireBackend(): Promise<ResultBackend> {
    const backend = await this.#backend();
    if (!backend) {
      throw new TqError('TQ_NO_RESULT_BACKEND', 'no result backend is configured: set resultBackend (or TQ_RESULT_BACKEND) to read task state');
    }
    return backend;
  }

  /** The latest record, or null while the task is PENDING (unknown to the backend). */
  async record(): Promise<ResultRecord | null> {
    const bytes = await (await this.#requireBackend()).fetch(this.id);
    return bytes ? decodeRecord(bytes) : null;
  }

  async state(): Promise<TaskStateName> {
    return (await this.record())?.status ?? TaskState.PENDING;
  }

  /** The result when SUCCESS, the metadata of a custom state (PROGRESS), or the exception info. */
  async info(): Promise<unknown> {
    return (await this.record())?.result ?? null;
  }

  async ready(): Promise<boolean> {
    return readyStates.has(await this.state());
  }

  async successful(): Promise<boolean> {
    return (await this.state()) === TaskState.SUCCESS;
  }

  async failed(): Promise<boolean> {
    return (await this.state()) === TaskState.FAILURE;
  }

  /**
   * The tasks this task applied (callbacks, the next chain step, a chord body), read from its
   * record's `children` (Celery's format); empty while it has no outcome record.
   */
  async children(): Promise<(AsyncResult | GroupResult)[]> {
    const record = await this.record();
    return (record?.children ?? []).map((tuple) => resultFromTuple(tuple, this.#backend));
  }

  /** Celery's as_tuple(): ((id, parent tuple), null). */
  asTuple(): ResultTuple {
    return [[this.id, this.parent ? this.parent.asTuple() : null], null];
  }

  /** Delete the stored result. */
  async forget(): Promise<void> {
    await (await this.#requireBackend()).forget(this.id);
  }

  /**
   * Every record as it changes (STARTED, PROGRESS…, the final one), ending after a ready state.
   * Pushed by the backend when it can watch, else polled.
   */
  async *updates(options: Omit<GetOptions, 'propagate'> = {}): AsyncGenerator<ResultRecord> {
    const backend = await this.#requireBackend();
    const controller = new AbortController();
    const timer = options.timeout !== undefined ? setTimeout(() => controller.abort(new ResultTimeoutError(this.id, options.timeout!)), options.timeout) : undefined;
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let last: string | undefined;
      const source = backend.watch ? backend.watch(this.id, controller.signal) : this.#poll(backend, controller.signal, options.pollIntervalMs ?? 100);
      for await (const bytes of source) {
        const key = Buffer.from(bytes).toString('base64');
        if (key === last) continue;
        last = key;
        const record = decodeRecord(bytes);
        yield record;
        if (readyStates.has(record.status)) return;
      }
      if (controller.signal.aborted) throw controller.signal.reason;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }

  async *#poll(backend: ResultBackend, signal: AbortSignal, intervalMs: number): AsyncGenerator<Uint8Array> {
    let delay = intervalMs;
    while (!signal.aborted) {
      const bytes = await backend.fetch(this.id);
      if (bytes) yield bytes;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
      delay = Math.min(1000, delay * 1.5);
    }
  }

  /** Waits for the task to finish; returns its result or rethrows its failure as TaskError. */
  async get(options: GetOptions = {}): Promise<R> {
    let final: ResultRecord | undefined;
    for await (const record of this.updates(options)) {
      if (readyStates.has(record.status)) final = record;
    }
    if (!final) throw new ResultTimeoutError(this.id, options.timeout ?? 0);
    return this.#settle(final, options.propagate ?? true);
  }

  #settle(record: ResultRecord, propagate: boolean): R {
    if (record.status === TaskState.SUCCESS) return record.result as R;
    if (!propagate) return record.result as R;
    if (record.status === TaskState.REVOKED) throw new TaskRevokedError(this.id);
    const info = record.result;
    if (isExceptionInfo(info)) throw new TaskError(this.id, info.exc_type, exceptionMessage(info), record.traceback, info.exc_module);
    throw new TaskError(this.id, record.status, JSON.stringify(info), record.traceback);
  }
}
