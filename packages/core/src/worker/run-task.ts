import { SoftTimeLimitExceeded, TimeLimitExceeded } from '../errors.js';
import type { TaskRequest } from '../protocol/message.js';
import { Retry } from '../task-signals.js';
import { runInTaskContext, type TaskContext, type TaskDefinition } from '../task.js';
import type { TaskStateName } from '../result/states.js';

export interface RunTaskInput {
  readonly definition: TaskDefinition;
  readonly request: TaskRequest;
  readonly hostname: string;
  /** Aborted by the worker on forced shutdown or revoke-terminate. */
  readonly signal: AbortSignal;
  readonly updateState: (state: TaskStateName, meta?: unknown) => Promise<void>;
  /** Abandon the run at the hard limit here; false where the pool enforces it by terminating the executor. */
  readonly enforceHardLimit: boolean;
}

export type RunOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * Runs one task in this process (the async pool, and inside each thread/process executor):
 * builds its context, applies the soft limit (ctx.signal aborts with SoftTimeLimitExceeded) and
 * the hard limit (the run is abandoned and fails with TimeLimitExceeded; an async task cannot
 * be killed, only left behind).
 */
export async function runTask(input: RunTaskInput): Promise<RunOutcome> {
  const { definition, request } = input;
  const soft = request.timeLimit.soft ?? definition.options.softTimeLimit ?? null;
  const hard = request.timeLimit.hard ?? definition.options.timeLimit ?? null;
  const timers: NodeJS.Timeout[] = [];
  // ctx.signal is made on first use: most tasks never read it, and an AbortController per task
  // shows in profiles. Until then, the reasons it would carry are remembered.
  let controller: AbortController | undefined;
  let softReason: SoftTimeLimitExceeded | undefined;
  const forward = () => controller?.abort(input.signal.reason);
  const taskSignal = (): AbortSignal => {
    if (!controller) {
      controller = new AbortController();
      if (input.signal.aborted) controller.abort(input.signal.reason);
      else if (softReason) controller.abort(softReason);
      else input.signal.addEventListener('abort', forward, { once: true });
    }
    return controller.signal;
  };
  if (soft !== null) {
    timers.push(
      setTimeout(() => {
        softReason = new SoftTimeLimitExceeded(soft);
        controller?.abort(softReason);
      }, soft * 1000),
    );
  }

  const maxRetries = definition.options.maxRetries ?? 3;
  const ctx: TaskContext = {
    id: request.id,
    name: request.task,
    args: request.args,
    kwargs: request.kwargs,
    retries: request.retries,
    request,
    hostname: input.hostname,
    get signal() {
      return taskSignal();
    },
    updateState: input.updateState,
    retry(options = {}) {
      const limit = options.maxRetries ?? maxRetries;
      if (request.retries >= limit) {
        throw options.error ?? new Error(`max retries (${limit}) exceeded for ${request.task}[${request.id}]`);
      }
      throw new Retry(options.countdown ?? definition.options.defaultRetryDelay ?? 180, options.error);
    },
  };
  const callArgs = Object.keys(request.kwargs).length > 0 ? [...request.args, request.kwargs] : [...request.args];
  let onAbort: (() => void) | undefined;
  try {
    const run = (async () => runInTaskContext(ctx, () => (definition.fn as (...a: unknown[]) => unknown).apply(ctx, callArgs)))();
    const races: Promise<unknown>[] = [run];
    if (hard !== null && input.enforceHardLimit) {
      races.push(new Promise((_, reject) => timers.push(setTimeout(() => reject(new TimeLimitExceeded(hard)), hard * 1000))));
    }
    // A forced shutdown or revoke-terminate abandons the run at once.
    races.push(
      new Promise((_, reject) => {
        onAbort = () => reject(input.signal.reason);
        input.signal.addEventListener('abort', onAbort, { once: true });
      }),
    );
    run.catch(() => undefined); // an abandoned run may still reject later
    const value = await Promise.race(races);
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error };
  } finally {
    for (const timer of timers) clearTimeout(timer);
    if (onAbort) input.signal.removeEventListener('abort', onAbort);
    input.signal.removeEventListener('abort', forward);
  }
}
