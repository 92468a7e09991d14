import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import type { Instrumentation, MessageHeaders, RunOutcome, TaskRequest } from '@tq/core';

/** Reads W3C trace context from a task's protocol v2 headers, where Celery's instrumentation puts it. */
const headerGetter: TextMapGetter<MessageHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};

export interface TracingOptions {
  /** Default: the global tracer provider's "@tq/core" tracer (a no-op until an OpenTelemetry SDK is registered). */
  readonly tracer?: Tracer;
}

/**
 * OpenTelemetry tracing for an app: `app.instrument(tracing())`. Spans and propagation as
 * opentelemetry-instrumentation-celery makes them, so one trace crosses Python and tq:
 * - sending a task: a PRODUCER span "apply_async/<task>" under the active context, whose
 *   context travels as W3C `traceparent` (and `tracestate`) top-level message headers;
 * - running it: a CONSUMER span "run/<task>" whose parent is read from those headers, active
 *   while the task runs, so tasks it sends (callbacks, children) join the same trace.
 * Attributes: celery.action, celery.task_name, messaging.message.id, messaging.destination.name;
 * a failed run records the exception and sets status ERROR.
 */
export function tracing(options: TracingOptions = {}): Instrumentation {
  const tracer = () => options.tracer ?? trace.getTracer('@tq/core');
  return {
    beforePublish(call, queue) {
      const span = tracer().startSpan(`apply_async/${call.task}`, {
        kind: SpanKind.PRODUCER,
        attributes: { 'celery.action': 'apply_async', 'celery.task_name': call.task, 'messaging.message.id': call.id, 'messaging.destination.name': queue },
      });
      const headers: Record<string, string> = {};
      propagation.inject(trace.setSpan(context.active(), span), headers);
      span.end();
      return headers;
    },
    async aroundRun(request: TaskRequest, queue: string, run: () => Promise<RunOutcome>): Promise<RunOutcome> {
      const parent: Context = propagation.extract(context.active(), request.headers, headerGetter);
      const span = tracer().startSpan(
        `run/${request.task}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: { 'celery.action': 'run', 'celery.task_name': request.task, 'messaging.message.id': request.id, 'messaging.destination.name': queue },
        },
        parent,
      );
      try {
        const outcome = await context.with(trace.setSpan(parent, span), run);
        if (!outcome.ok) {
          const error = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
          span.recordException(error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        }
        return outcome;
      } finally {
        span.end();
      }
    },
  };
}
