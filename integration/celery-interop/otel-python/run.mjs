#!/usr/bin/env node
// tq's tracing against the real Python opentelemetry-instrumentation-celery, both directions, on
// Redis. Opt-in (CI cannot fetch the Python OpenTelemetry sources): see README.md. Exits 1 if a
// trace does not cross.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { context, propagation, SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createApp } from '@tq/core';
import { tracing } from '@tq/observability';
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';

const here = fileURLToPath(new URL('.', import.meta.url));
const otelDir = process.env.TQ_OTEL_PYTHON_DIR ?? '/tmp/otelpy/v1.33.0';
const url = process.env.TQ_OTEL_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const python = process.env.TQ_PYTHON ?? '/usr/bin/python3';
if (!existsSync(`${otelDir}/site`)) {
  console.error(`no OpenTelemetry Python sources in ${otelDir}: run setup.sh first (README.md)`);
  process.exit(2);
}
const pythonPath = [
  'opentelemetry-api/src', 'opentelemetry-sdk/src', 'opentelemetry-semantic-conventions/src',
  'opentelemetry-instrumentation/src', 'instrumentation/opentelemetry-instrumentation-celery/src', 'site',
].map((p) => `${otelDir}/${p}`).join(':');

const run = randomUUID().slice(0, 8);
const pyQueue = `tq-otel-py-${run}`; // the Python worker's queue
const tqQueue = `tq-otel-tq-${run}`; // the tq worker's queue

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('tq-otel-check');

/** Spawns celery_otel.py; collects the spans it prints as JSON lines. */
function startPython(mode, queue) {
  const child = spawn(python, ['celery_otel.py', mode], {
    cwd: here,
    env: { ...process.env, PYTHONPATH: [process.env.PYTHONPATH, pythonPath].filter(Boolean).join(':'), TQ_OTEL_REDIS_URL: url, TQ_OTEL_QUEUE: queue, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const spans = [];
  let output = '';
  let pending = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      if (line.startsWith('{"span"')) spans.push(JSON.parse(line).span);
      if (line.startsWith('{"sent"')) taskIds.push(JSON.parse(line).sent);
    }
  });
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { child, spans, output: () => output, exited };
}

async function until(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tqSpan(name) {
  const span = exporter.getFinishedSpans().find((s) => s.name === name);
  if (!span) throw new Error(`no tq span ${name}`);
  return { name, kind: SpanKind[span.kind], trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId, parent_span_id: span.parentSpanContext?.spanId ?? null };
}

function pySpan(spans, name) {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no Python span ${name}; have ${spans.map((s) => s.name).join(', ')}`);
  return span;
}

const failures = [];
const taskIds = []; // their results are deleted at the end
function expectEqual(what, actual, expected) {
  const ok = actual === expected;
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}: ${actual}${ok ? '' : ` (expected ${expected})`}`);
  if (!ok) failures.push(what);
}

const app = createApp({ broker: url, resultBackend: url, adapters: [redisAdapter] }).instrument(tracing({ tracer }));
const redis = new Redis(url);
let worker;
let pyWorker;
try {
  // (a) tq producer → Python Celery worker.
  console.log(`(a) tq producer → instrumented Python Celery worker, queue ${pyQueue}`);
  pyWorker = startPython('worker', pyQueue);
  await until('the Python worker to be ready', () => {
    if (pyWorker.child.exitCode !== null) throw new Error(`the Python worker exited with ${pyWorker.child.exitCode}`);
    return /\bready\./.test(pyWorker.output());
  });
  const sent = await tracer.startActiveSpan('tq request', async (span) => {
    try {
      return await app.sendTask('otel.py_run', [21], {}, { queue: pyQueue });
    } finally {
      span.end();
    }
  });
  taskIds.push(sent.id);
  const pyResult = await sent.get({ timeout: 20_000 });
  await until('the Python run span', () => pyWorker.spans.some((s) => s.name === 'run/otel.py_run'));
  const tqRoot = tqSpan('tq request');
  const tqPublish = tqSpan('apply_async/otel.py_run');
  const pyRun = pySpan(pyWorker.spans, 'run/otel.py_run');
  console.log('  tq   ', JSON.stringify(tqRoot));
  console.log('  tq   ', JSON.stringify(tqPublish));
  console.log('  py   ', JSON.stringify(pyRun));
  console.log('  the Python task saw traceparent', pyResult.traceparent);
  expectEqual('Python run span trace id = tq publish span trace id', pyRun.trace_id, tqPublish.trace_id);
  expectEqual('Python run span parent = tq publish span', pyRun.parent_span_id, tqPublish.span_id);
  expectEqual('Python run span kind', pyRun.kind, 'CONSUMER');
  expectEqual('Python run span messaging.message.id = task id', pyRun.attributes['messaging.message.id'], sent.id);

  // (b) Python producer → tq worker.
  console.log(`(b) instrumented Python producer (apply_async) → tq worker, queue ${tqQueue}`);
  let seenTraceparent;
  app.task('otel.tq_run', function (n) {
    seenTraceparent = this.request.headers['traceparent'];
    return n * 2;
  });
  worker = app.worker({ queues: [tqQueue] });
  await worker.start();
  const producer = startPython('send', tqQueue);
  const code = await producer.exited;
  if (code !== 0) throw new Error(`celery_otel.py send exited with ${code}:\n${producer.output().slice(-3000)}`);
  await until('the tq run span', () => exporter.getFinishedSpans().some((s) => s.name === 'run/otel.tq_run'));
  const pyRoot = pySpan(producer.spans, 'python request');
  const pyPublish = pySpan(producer.spans, 'apply_async/otel.tq_run');
  const tqRun = tqSpan('run/otel.tq_run');
  console.log('  py   ', JSON.stringify(pyRoot));
  console.log('  py   ', JSON.stringify(pyPublish));
  console.log('  tq   ', JSON.stringify(tqRun));
  console.log('  the tq task saw traceparent', seenTraceparent);
  expectEqual('tq run span trace id = Python publish span trace id', tqRun.trace_id, pyPublish.trace_id);
  expectEqual('tq run span parent = Python publish span', tqRun.parent_span_id, pyPublish.span_id);
  expectEqual('tq run span kind', tqRun.kind, 'CONSUMER');
  expectEqual('Python publish span parent = Python root span', pyPublish.parent_span_id, pyRoot.span_id);
} catch (error) {
  failures.push(String(error));
  console.error(error);
  if (pyWorker) console.error(pyWorker.output().slice(-3000));
} finally {
  await worker?.stop();
  if (pyWorker && pyWorker.child.exitCode === null) {
    pyWorker.child.kill('SIGTERM');
    await pyWorker.exited;
  }
  await app.close();
  await redis.del(...[pyQueue, tqQueue].flatMap((q) => [q, `_kombu.binding.${q}`]), ...taskIds.map((id) => `celery-task-meta-${id}`));
  redis.disconnect();
}
console.log(failures.length === 0 ? 'both directions: one trace crosses tq and Python' : `FAILED: ${failures.join('; ')}`);
process.exit(failures.length === 0 ? 0 : 1);
