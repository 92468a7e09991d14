import { context, propagation, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createApp, encodeTaskMessage, jsonSerializer, type App } from '@tq/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tracing } from '../src/index.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
let app: App;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});

afterAll(() => {
  context.disable();
  propagation.disable();
});

afterEach(async () => {
  await app?.close();
  exporter.reset();
});

function named(name: string): ReadableSpan {
  const span = exporter.getFinishedSpans().find((s) => s.name === name);
  if (!span) throw new Error(`no span ${name}; have ${exporter.getFinishedSpans().map((s) => s.name).join(', ')}`);
  return span;
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('tracing()', () => {
  it('one trace crosses producer → worker → the task it sends → its worker, with Celery-style span names', async () => {
    app = createApp({ broker: `memory://trace-${Date.now()}` }).instrument(tracing({ tracer }));
    const seenHeaders: unknown[] = [];
    app.task('trace.child', function (n: number) {
      seenHeaders.push(this.request.headers['traceparent']);
      return n * 2;
    });
    app.task('trace.parent', async (n: number) => {
      const child = await app.sendTask<number>('trace.child', [n]);
      return child.get({ timeout: 5000 });
    });
    const worker = app.worker({ concurrency: 2 });
    await worker.start();
    const result = await tracer.startActiveSpan('http request', async (span) => {
      try {
        return await app.sendTask<number>('trace.parent', [21]);
      } finally {
        span.end();
      }
    });
    expect(await result.get({ timeout: 5000 })).toBe(42);
    await worker.stop();

    const root = named('http request');
    const sendParent = named('apply_async/trace.parent');
    const runParent = named('run/trace.parent');
    const sendChild = named('apply_async/trace.child');
    const runChild = named('run/trace.child');
    for (const span of [sendParent, runParent, sendChild, runChild]) expect(span.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(parentOf(sendParent)).toBe(root.spanContext().spanId);
    expect(parentOf(runParent)).toBe(sendParent.spanContext().spanId);
    expect(parentOf(sendChild)).toBe(runParent.spanContext().spanId);
    expect(parentOf(runChild)).toBe(sendChild.spanContext().spanId);
    expect(sendParent.kind).toBe(SpanKind.PRODUCER);
    expect(runParent.kind).toBe(SpanKind.CONSUMER);
    expect(runParent.attributes).toMatchObject({ 'celery.action': 'run', 'celery.task_name': 'trace.parent', 'messaging.message.id': result.id, 'messaging.destination.name': 'celery' });
    // The context travels as a top-level W3C traceparent header, where Celery's instrumentation reads it.
    expect(seenHeaders[0]).toBe(`00-${root.spanContext().traceId}-${sendChild.spanContext().spanId}-01`);
  });

  it('a failed run is an ERROR span with the exception recorded', async () => {
    app = createApp({ broker: `memory://trace-fail-${Date.now()}` }).instrument(tracing({ tracer }));
    app.task('trace.fail', () => {
      throw new RangeError('out of range');
    });
    const worker = app.worker();
    await worker.start();
    await expect((await app.sendTask('trace.fail')).get({ timeout: 5000 })).rejects.toThrow(/out of range/);
    await worker.stop();
    const run = named('run/trace.fail');
    expect(run.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'out of range' });
    expect(run.events.map((e) => e.name)).toContain('exception');
  });

  // Flags 03 (sampled + W3C level 2's random trace id) is what Python's OpenTelemetry 1.44 writes.
  it.each(['01', '03'])('a task sent by Python Celery with a traceparent header (flags %s) runs in that trace', async (flags) => {
    app = createApp({ broker: `memory://trace-py-${Date.now()}` }).instrument(tracing({ tracer }));
    app.task('trace.py', () => 'ok');
    const worker = app.worker();
    await worker.start();
    const traceparent = `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-${flags}`;
    // What opentelemetry-instrumentation-celery's producer adds: a top-level traceparent header.
    const id = `py-traced-${flags}`;
    const message = encodeTaskMessage({ id, task: 'trace.py', args: [], kwargs: {}, headers: { traceparent } }, jsonSerializer);
    await (await app.broker()).publish('celery', message);
    await expect(app.asyncResult(id).get({ timeout: 5000 })).resolves.toBe('ok');
    await worker.stop();
    const run = named('run/trace.py');
    expect(run.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parentOf(run)).toBe('00f067aa0ba902b7');
    expect(run.parentSpanContext?.traceFlags).toBe(Number.parseInt(flags, 16));
  });

  it('without an SDK registered, sending and running work and add no headers', async () => {
    app = createApp({ broker: `memory://trace-noop-${Date.now()}` }).instrument(tracing());
    let header: unknown = 'unset';
    app.task('trace.noop', function () {
      header = this.request.headers['traceparent'];
      return trace.getActiveSpan()?.isRecording() ?? false;
    });
    const worker = app.worker();
    await worker.start();
    expect(await (await app.sendTask('trace.noop')).get({ timeout: 5000 })).toBe(false);
    await worker.stop();
    expect(header).toBeUndefined();
  });
});
