import { MaxRetriesExceededError, type SoftTimeLimitExceeded } from '../errors.js';
import type { TaskRequest } from '../protocol/message.js';
import type { TaskStateName } from '../result/states.js';
import { Retry } from '../task-signals.js';
import type { TaskContext, TaskDefinition } from '../task.js';
import type { CancelToken } from './cancel-token.js';

/**
 * A task's context (`this` in a task, `taskContext()`), made once per run. A class, because an
 * object literal with a getter (`get signal()`) is built by V8 through a slow runtime path and
 * leaves every task context with a map of its own: as a literal it cost a Kafka worker
 * 31–34 µs of CPU per no-op task, as this class 15–21 µs (integration/bench/profile-drain.mjs).
 */
export class RunningTask implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly retries: number;
  readonly request: TaskRequest;
  readonly hostname: string;
  readonly updateState: (state: TaskStateName, meta?: unknown) => Promise<void>;
  readonly #definition: TaskDefinition;
  readonly #cancel: CancelToken;
  // ctx.signal is made on first use: most tasks never read it. Until then, the reasons it would
  // carry are remembered.
  #controller: AbortController | undefined;
  #softReason: SoftTimeLimitExceeded | undefined;

  constructor(
    definition: TaskDefinition,
    request: TaskRequest,
    hostname: string,
    cancel: CancelToken,
    updateState: (state: TaskStateName, meta?: unknown) => Promise<void>,
  ) {
    this.id = request.id;
    this.name = request.task;
    this.args = request.args;
    this.kwargs = request.kwargs;
    this.retries = request.retries;
    this.request = request;
    this.hostname = hostname;
    this.updateState = updateState;
    this.#definition = definition;
    this.#cancel = cancel;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#cancel.cancelled) this.#controller.abort(this.#cancel.reason);
      else if (this.#softReason) this.#controller.abort(this.#softReason);
    }
    return this.#controller.signal;
  }

  /** An own arrow, not a prototype method: `const { retry } = this; retry()` works, as it always has. */
  readonly retry = (options: { countdown?: number; error?: unknown; maxRetries?: number } = {}): never => {
    const { request } = this;
    const limit = options.maxRetries ?? this.#definition.options.maxRetries ?? 3;
    if (request.retries >= limit) {
      throw options.error ?? new MaxRetriesExceededError(request.task, request.id, limit);
    }
    throw new Retry(options.countdown ?? this.#definition.options.defaultRetryDelay ?? 180, options.error);
  };

  /** The soft time limit passed: ctx.signal aborts with it (now, or when first read). */
  softLimitReached(reason: SoftTimeLimitExceeded): void {
    this.#softReason = reason;
    this.#controller?.abort(reason);
  }

  /** Cancelled (forced shutdown, revoke-terminate): ctx.signal aborts with the reason. */
  cancelled(reason: unknown): void {
    this.#controller?.abort(reason);
  }
}
