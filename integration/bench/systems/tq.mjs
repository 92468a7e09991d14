// tq end to end: app.sendTask → broker adapter → app.worker (async pool) → no-op task → ack,
// with results ignored (ignoreResult) or stored in the result backend.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { completionCounter, latencySummary, runInFlight, runTotal, sendAtSteadyRate, warmThenStart } from '../lib/measure.mjs';
import { noopTask, taskArgs } from '../lib/payload.mjs';
import { fillQueue, openTqApp, tqTarget } from '../lib/tq-targets.mjs';

/** N sendTask calls, `window` in flight, results ignored. */
export async function enqueue({ broker, tasks, warmup = 0, window }, phase) {
  const target = await tqTarget(broker);
  const producer = openTqApp(target);
  try {
    const send = (i) => producer.sendTask(noopTask, taskArgs(i), {}, { queue: target.queue, ignoreResult: true });
    await send(0); // connects
    await warmThenStart(phase, warmup, (count) => runInFlight(count, window, send));
    const ms = await runInFlight(tasks, window, send);
    phase?.stop();
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await producer.close();
    await target.cleanup([]);
  }
}

/** N tasks sent with app.sendMany in batches of `batch` (one call per batch, awaited in turn), results ignored. */
export async function bulk({ broker, tasks, warmup = 0, batch = 1000 }, phase) {
  const target = await tqTarget(broker);
  const producer = openTqApp(target);
  const sendBatches = async (count) => {
    for (let start = 0; start < count; start += batch) {
      const calls = [];
      for (let i = start; i < Math.min(count, start + batch); i++) calls.push({ name: noopTask, args: taskArgs(i), options: { queue: target.queue, ignoreResult: true } });
      await producer.sendMany(calls);
    }
  };
  try {
    await producer.sendTask(noopTask, [0, 0], {}, { queue: target.queue, ignoreResult: true }); // connects
    await warmThenStart(phase, warmup, sendBatches);
    const started = performance.now();
    await sendBatches(tasks);
    const ms = performance.now() - started;
    phase?.stop();
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await producer.close();
    await target.cleanup([]);
  }
}

function fillInto(target, spec) {
  return fillQueue(target, { count: runTotal(spec), window: spec.window, ignoreResult: spec.results === 'ignored' });
}

async function drainFrom(target, { tasks, warmup, concurrency, timeoutMs }, fillMs, phase) {
  const workerApp = openTqApp(target);
  try {
    await workerApp.broker(); // connected before the clock starts
    const counter = completionCounter(tasks, timeoutMs, { warmup, phase });
    const worker = workerApp.worker({ queues: [target.queue], concurrency });
    worker.on('task-succeeded', () => counter.complete());
    counter.start();
    const started = performance.now();
    await worker.start();
    await counter.done;
    phase?.stop();
    const figures = counter.figures(started);
    await worker.stop({ force: figures.completed < figures.expected });
    return { ...figures, fillMs };
  } finally {
    await workerApp.close();
  }
}

/**
 * Pre-enqueues N tasks for a drain; returns what the drain needs: { queue, ids, fillMs }.
 * scenario.mjs runs it in a producer process of its own, so the worker's process holds no
 * producer state (its CPU and peak RSS are the worker's alone). Not for Kafka's per-run mock.
 */
export async function fill(spec) {
  const target = await tqTarget(spec.broker, { partitions: spec.partitions });
  return { queue: target.queue, ...(await fillInto(target, spec)) };
}

/** Times a worker of `concurrency` draining the tasks `fill` enqueued, then removes them. */
export async function drainFilled(spec, { queue, ids, idsFile, fillMs }, phase) {
  const target = await tqTarget(spec.broker, { partitions: spec.partitions, queue });
  try {
    return await drainFrom(target, spec, fillMs, phase);
  } finally {
    await target.cleanup(ids ?? (idsFile ? JSON.parse(readFileSync(idsFile, 'utf8')) : []));
    if (idsFile) rmSync(idsFile, { force: true });
  }
}

/** Pre-enqueues N tasks, then times a worker of `concurrency` draining them, in this process. */
export async function drain(spec, phase) {
  const target = await tqTarget(spec.broker, { partitions: spec.partitions });
  let ids = [];
  try {
    const filled = await fillInto(target, spec);
    ids = filled.ids;
    return await drainFrom(target, spec, filled.fillMs, phase);
  } finally {
    await target.cleanup(ids);
  }
}

/**
 * Scale-out: pre-enqueues N tasks, then `workers` worker processes (tq-scale-worker.mjs, each of
 * `concurrency`) drain them together; rate = tasks from the first completion in any process to
 * the last. CPU per task sums the worker processes; peak RSS is the largest worker's.
 */
export async function drainScale({ broker, tasks, window, concurrency, workers, results, timeoutMs }, phase) {
  const target = await tqTarget(broker);
  const ignoreResult = results === 'ignored';
  const ids = [];
  const producer = openTqApp(target);
  const children = [];
  try {
    const fillMs = await runInFlight(tasks, window, async (i) => {
      const result = await producer.sendTask(noopTask, taskArgs(i), {}, { queue: target.queue, ignoreResult });
      if (!ignoreResult) ids.push(result.id);
    });
    await producer.close();
    const spec = JSON.stringify({ broker, queue: target.queue, concurrency });
    const counts = new Array(workers).fill(0);
    const reports = [];
    let allDone;
    const done = new Promise((resolve) => (allDone = resolve));
    let drained;
    const drainedOrTimeout = new Promise((resolve) => {
      drained = resolve;
      setTimeout(resolve, timeoutMs).unref();
    });
    await Promise.all(
      Array.from({ length: workers }, (_, w) => {
        const child = fork(new URL('./tq-scale-worker.mjs', import.meta.url), [spec], { stdio: 'inherit' });
        children.push(child);
        let reported = false;
        return new Promise((resolve, reject) => {
          child.once('exit', (code) => {
            reject(new Error(`worker process ${w} exited (${code}) before it was ready`));
            if (reported) return;
            reports.push({ count: counts[w], first: Number.POSITIVE_INFINITY, last: 0, cpuSeconds: 0, peakRssMb: 0, exited: code });
            if (reports.length === workers) allDone();
          });
          child.on('message', (m) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'count') {
              counts[w] = m.count;
              if (counts.reduce((a, b) => a + b, 0) >= tasks) drained();
            } else if (m.type === 'done') {
              reported = true;
              reports.push(m);
              if (reports.length === workers) allDone();
            }
          });
        });
      }),
    );
    phase?.start();
    for (const child of children) child.send('go');
    await drainedOrTimeout;
    for (const child of children) child.send('stop');
    await done;
    phase?.stop();
    for (const r of reports) phase?.addChild(r.cpuSeconds, r.peakRssMb);
    const completed = reports.reduce((a, r) => a + r.count, 0);
    const first = Math.min(...reports.filter((r) => r.count > 0).map((r) => r.first));
    const last = Math.max(...reports.map((r) => r.last));
    return { rate: completed > 1 ? ((completed - 1) * 1000) / (last - first) : 0, totalMs: last - first, completed, expected: tasks, fillMs, perWorker: reports.map((r) => r.count) };
  } finally {
    for (const child of children) child.kill();
    await producer.close().catch(() => undefined);
    await target.cleanup(ids);
  }
}

/** A running worker; a producer sends at a steady rate; latency = scheduled send → task-succeeded. */
export async function latency({ broker, concurrency, rate, durationMs, timeoutMs }) {
  const target = await tqTarget(broker);
  const producer = openTqApp(target);
  const workerApp = openTqApp(target);
  const sentAt = new Map();
  const samples = [];
  try {
    const worker = workerApp.worker({ queues: [target.queue], concurrency });
    let warmedUp;
    const warm = new Promise((resolve) => (warmedUp = resolve));
    worker.on('task-succeeded', ({ id }) => {
      const at = sentAt.get(id);
      if (at === undefined) return warmedUp();
      samples.push(performance.now() - at);
    });
    await worker.start();
    await producer.sendTask(noopTask, [0, 0], {}, { queue: target.queue, ignoreResult: true });
    await warm;
    const total = await sendAtSteadyRate(rate, durationMs, (i, scheduledAt) => {
      const taskId = randomUUID();
      sentAt.set(taskId, scheduledAt);
      return producer.sendTask(noopTask, [i, i + 1], {}, { queue: target.queue, ignoreResult: true, taskId });
    });
    const deadline = performance.now() + timeoutMs;
    while (samples.length < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await worker.stop();
    return latencySummary(samples, total);
  } finally {
    await Promise.allSettled([producer.close(), workerApp.close()]);
    await target.cleanup([]);
  }
}
