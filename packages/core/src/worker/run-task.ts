import { bindArguments } from './bind-arguments.js';
import { setLongTimeout, type LongTimeout } from '../adapters/timers.js';
import { SoftTimeLimitExceeded, TimeLimitExceeded } from '../errors.js';
import type { TaskRequest } from '../protocol/message.js';
import { runInTaskContext, type TaskDefinition } from '../task.js';
import type { TaskStateName } from '../result/states.js';
import type { CancelToken } from './cancel-token.js';
import { RunningTask } from './running-task.js';

export interface RunTaskInput {
  readonly definition: TaskDefinition;
  readonly request: TaskRequest;
  readonly hostname: string;
  /** Cancelled by the worker on forced shutdown or revoke-terminate. */
  readonly cancel: CancelToken;
  readonly updateState: (state: TaskStateName, meta?: unknown) => Promise<void>;
  /** Abandon the run at the hard limit here; false where the pool enforces it by terminating the executor. */
  readonly enforceHardLimit: boolean;
}

export type RunOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * Runs one task in this process (the async pool, and inside each thread/process executor):
 * builds its context, applies the soft limit (ctx.signal aborts with SoftTimeLimitExceeded) and
 * the hard limit (the run is abandoned and fails with TimeLimitExceeded; an async task cannot
 * be killed, only left behind). A cancel abandons the run at once with the cancel's reason.
 *
 * This runs once per task, so it allocates little: no timers without limits, ctx.signal only
 * when read; a synchronous task's outcome is returned as it is, and an asynchronous one is
 * raced in one promise settled by whichever comes first (outcome, hard limit, cancel).
 */
export function runTask(input: RunTaskInput): Promise<RunOutcome> {
  const { definition, request, cancel } = input;
  const soft = request.timeLimit.soft ?? definition.options.softTimeLimit ?? null;
  const hard = input.enforceHardLimit ? (request.timeLimit.hard ?? definition.options.timeLimit ?? null) : null;
  // Long timeouts: a limit past setTimeout's 2^31-1 ms (~24.8 days) would otherwise fire at once.
  let softTimer: LongTimeout | undefined;
  let hardTimer: LongTimeout | undefined;
  const ctx = new RunningTask(definition, request, input.hostname, cancel, input.updateState);
  if (soft !== null) softTimer = setLongTimeout(() => ctx.softLimitReached(new SoftTimeLimitExceeded(soft)), soft * 1000);

  // Cancelled before it started (a forced shutdown): it does not run.
  if (cancel.cancelled) {
    softTimer?.clear();
    return Promise.resolve({ ok: false, error: cancel.reason });
  }
  const startedAt = hard !== null ? performance.now() : 0;
  let value: unknown;
  try {
    const callArgs = bindArguments(definition, request.args, request.kwargs, hasKeys(request.kwargs));
    value = runInTaskContext(ctx, definition.options.asyncContext ?? false, () => (definition.fn as (...a: unknown[]) => unknown).apply(ctx, callArgs as unknown[]));
  } catch (error) {
    softTimer?.clear();
    return Promise.resolve({ ok: false, error });
  }
  // A synchronous task is done: no race with its limits or a cancel (neither can fire while it runs).
  if (!isThenable(value)) {
    softTimer?.clear();
    return Promise.resolve({ ok: true, value });
  }
  const pending = value;

  return new Promise<RunOutcome>((resolve) => {
    let settled = false;
    const settle = (outcome: RunOutcome) => {
      if (settled) return;
      settled = true;
      softTimer?.clear();
      hardTimer?.clear();
      stopListening();
      resolve(outcome);
    };
    // A forced shutdown or revoke-terminate abandons the run at once; ctx.signal tells the task.
    const stopListening = cancel.onCancel((reason) => {
      ctx.cancelled(reason);
      settle({ ok: false, error: reason });
    });
    // The hard limit counts from the start of the run, its synchronous part included.
    if (hard !== null) hardTimer = setLongTimeout(() => settle({ ok: false, error: new TimeLimitExceeded(hard) }), Math.max(0, hard * 1000 - (performance.now() - startedAt)));
    // An abandoned run may still settle later; its outcome is dropped.
    pending.then((v) => settle({ ok: true, value: v }), (error: unknown) => settle({ ok: false, error }));
  });
}

/** Object.keys(o).length > 0 without the array (this runs once per task). */
function hasKeys(object: object): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return true;
  return false;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}
