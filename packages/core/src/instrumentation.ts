import type { MessageHeaders } from './broker/broker.js';
import type { TaskCall, TaskRequest } from './protocol/message.js';
import type { RunOutcome } from './worker/run-task.js';

/**
 * What an integration (tracing, metrics) plugs into an app with `app.instrument(…)`: core calls
 * these at the two points no worker or producer event covers. Without any, core pays nothing.
 */
export interface Instrumentation {
  /**
   * Before a task message is encoded (sendTask, retries, re-sends): headers to add, such as a
   * W3C `traceparent`. Returning undefined adds none.
   */
  readonly beforePublish?: (call: TaskCall, queue: string) => MessageHeaders | undefined;
  /**
   * Wraps one run of a task in the worker: call `run()` exactly once and return its outcome
   * (e.g. inside a span whose parent comes from the request's headers). Must not throw.
   */
  readonly aroundRun?: (request: TaskRequest, queue: string, run: () => Promise<RunOutcome>) => Promise<RunOutcome>;
}

/** The headers of `call` with what each instrumentation adds, or `call` itself when none adds any. */
export function instrumentCall(instrumentations: readonly Instrumentation[], call: TaskCall, queue: string): TaskCall {
  let headers: Record<string, MessageHeaders[string]> | undefined;
  for (const instrumentation of instrumentations) {
    const added = instrumentation.beforePublish?.(call, queue);
    if (added) headers = { ...(headers ?? call.headers), ...added };
  }
  return headers ? { ...call, headers } : call;
}

/** `run` wrapped by every instrumentation's aroundRun, the first registered outermost. */
export function instrumentRun(instrumentations: readonly Instrumentation[], request: TaskRequest, queue: string, run: () => Promise<RunOutcome>): Promise<RunOutcome> {
  let wrapped = run;
  for (const instrumentation of [...instrumentations].reverse()) {
    const around = instrumentation.aroundRun;
    if (!around) continue;
    const inner = wrapped;
    wrapped = () => around(request, queue, inner);
  }
  return wrapped();
}
