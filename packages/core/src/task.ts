import { AsyncLocalStorage } from 'node:async_hooks';
import type { TaskRequest } from './protocol/message.js';
import type { TaskStateName } from './result/states.js';

/** Options a task is registered with; per-call send options override the routing ones. */
export interface TaskOptions {
  /** Queue this task is sent to when the caller names none. */
  readonly queue?: string;
  /**
   * Parameter names, in order, so keyword arguments (Python's `send_task(kwargs=...)`) bind by
   * name: `params: ['x', 'y']` runs `fn(x, y)` for args [2] and kwargs {y: 3}. A name ending in
   * '?' is optional (undefined when not given). An unknown, missing or doubled argument fails
   * the task with ArgumentBindingError. Without params, kwargs arrive as one trailing object.
   */
  readonly params?: readonly string[];
  /** Do not store results (state records are skipped too). Default false. */
  readonly ignoreResult?: boolean;
  /**
   * With ignoreResult: still record FAILURE (only SUCCESS and the in-progress states are
   * skipped), as Celery's store_errors_even_if_ignored. Default false (Celery's).
   */
  readonly storeErrorsEvenIfIgnored?: boolean;
  /**
   * Besides the TTL, keep only the newest N SUCCESS (`succeeded`) / FAILURE (`failed`) records of
   * this task name; older ones are forgotten as new ones are stored. Needs a result backend with
   * capabilities.retain (memory, redis); without one, only the TTL applies. `maxBytes` is a byte
   * budget for each of the two (the newest SUCCESS records whose stored sizes add up to at most
   * maxBytes, the same for FAILURE; the newest one is always kept); it needs
   * capabilities.retainBytes (memory, redis), and a worker on another backend warns at start.
   */
  readonly keepResults?: { readonly succeeded?: number; readonly failed?: number; readonly maxBytes?: number };
  /** Hard time limit, seconds: the task fails with TimeLimitExceeded. */
  readonly timeLimit?: number;
  /** Soft time limit, seconds: ctx.signal aborts with SoftTimeLimitExceeded. */
  readonly softTimeLimit?: number;
  /** Most retries ctx.retry() allows before the task fails. Default 3 (Celery's). */
  readonly maxRetries?: number;
  /** Seconds before a retry when ctx.retry() is given no countdown. Default 180 (Celery's). */
  readonly defaultRetryDelay?: number;
  /** Ack after the task finishes (at-least-once, default) or before it starts (at-most-once). */
  readonly acksLate?: boolean;
  /** Retry automatically when the task throws one of these error classes. */
  readonly autoretryFor?: readonly (abstract new (...args: never[]) => Error)[];
  /** Exponential backoff for automatic retries: true = 1s base, or a base in seconds. */
  readonly retryBackoff?: boolean | number;
  /** Cap for retryBackoff, seconds. Default 600. */
  readonly retryBackoffMax?: number;
  /** Randomize backoff delays (full jitter). Default true. */
  readonly retryJitter?: boolean;
  /** Errors never retried automatically, even when they match autoretryFor. */
  readonly dontAutoretryFor?: readonly (abstract new (...args: never[]) => Error)[];
  /** At most this many runs per worker: '10/s', '100/m', '1000/h', or a number per second. */
  readonly rateLimit?: string | number;
  /**
   * 'process' (default, as Celery): rateLimit holds per worker process. 'cluster': one token
   * bucket in the result backend shared by every worker (needs capabilities.rateLimit: Redis).
   */
  readonly rateLimitScope?: 'process' | 'cluster';
  /** Rate-limit per key (e.g. per customer) instead of per task: the key for a call. */
  readonly rateLimitKey?: (args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>) => string;
  /**
   * When the executor running the task dies (thread/process pools): true = give the message
   * back for another try (counted towards the poison limit), false = record FAILURE
   * (WorkerLostError). Default false, as Celery's task_reject_on_worker_lost.
   */
  readonly rejectOnWorkerLost?: boolean;
  /**
   * Make taskContext() work after an `await` in this task (AsyncLocalStorage). Without it,
   * taskContext() works in the task's synchronous start (before its first await) and `this`
   * works throughout. Off by default: on Node 20 the first use turns on promise hooks, which
   * cost every promise in the process (a measured 10 % of a worker's time per task).
   */
  readonly asyncContext?: boolean;
}

/** What a running task can see and do: `this` inside a function task, or taskContext(). */
export interface TaskContext {
  readonly id: string;
  readonly name: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly retries: number;
  readonly request: TaskRequest;
  readonly hostname: string;
  /** Aborted on soft time limit, revoke with terminate, or a forced worker shutdown. */
  readonly signal: AbortSignal;
  /** Record a state with metadata, e.g. updateState('PROGRESS', {done: 3, total: 10}). */
  updateState(state: TaskStateName, meta?: unknown): Promise<void>;
  /** Throws Retry: the task is re-sent with retries+1 after `countdown` seconds. */
  retry(options?: { countdown?: number; error?: unknown; maxRetries?: number }): never;
}

export type TaskFunction<A extends unknown[] = unknown[], R = unknown> = (this: TaskContext, ...args: A) => R | Promise<R>;

export interface TaskDefinition {
  readonly name: string;
  readonly fn: TaskFunction<never[], unknown>;
  readonly options: TaskOptions;
}

const contextStorage = new AsyncLocalStorage<TaskContext>();
/** The context of the task whose synchronous start is running right now. */
let startingContext: TaskContext | undefined;

/**
 * The context of the running task, for arrow-function tasks (function tasks have it as `this`).
 * Works in the task's synchronous start; after an `await` only in tasks registered with
 * `asyncContext: true`.
 */
export function taskContext(): TaskContext {
  const ctx = startingContext ?? contextStorage.getStore();
  if (!ctx) {
    throw new Error(
      'taskContext() called outside a running task, or after an await in a task registered without { asyncContext: true }: ' +
        'register the task with that option, read taskContext() before the first await, or use `this` in a function task',
    );
  }
  return ctx;
}

/** Runs `fn` (a task's start) with `ctx` as taskContext(): for its synchronous part, and with `asyncContext` past its awaits too. */
export function runInTaskContext<T>(ctx: TaskContext, asyncContext: boolean, fn: () => T): T {
  const outer = startingContext;
  startingContext = ctx;
  try {
    // exit(): once another task turned the storage on, a store leaked into the worker's own
    // continuations must not reach this task's awaits (it would read another task's context).
    // Until then exit() is a plain call.
    return asyncContext ? contextStorage.run(ctx, fn) : contextStorage.exit(fn);
  } finally {
    startingContext = outer;
  }
}
