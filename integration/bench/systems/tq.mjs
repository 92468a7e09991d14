// tq end to end: app.sendTask → broker adapter → app.worker (async pool) → no-op task → ack,
// with results ignored (ignoreResult) or stored in the result backend.
import { randomUUID } from 'node:crypto';
import { completionCounter, latencySummary, runInFlight, sendAtSteadyRate } from '../lib/measure.mjs';
import { noopTask } from '../lib/payload.mjs';
import { openTqApp, tqTarget } from '../lib/tq-targets.mjs';

/** N sendTask calls, `window` in flight, results ignored. */
export async function enqueue({ broker, tasks, window }) {
  const target = await tqTarget(broker);
  const producer = openTqApp(target);
  try {
    await producer.sendTask(noopTask, [0, 0], {}, { queue: target.queue, ignoreResult: true }); // connects
    const ms = await runInFlight(tasks, window, (i) => producer.sendTask(noopTask, [i, i + 1], {}, { queue: target.queue, ignoreResult: true }));
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await producer.close();
    await target.cleanup([]);
  }
}

/** Pre-enqueues N tasks, then times a worker of `concurrency` draining them. */
export async function drain({ broker, tasks, window, concurrency, results, timeoutMs, partitions }) {
  const target = await tqTarget(broker, { partitions });
  const ignoreResult = results === 'ignored';
  const ids = [];
  const producer = openTqApp(target);
  const workerApp = openTqApp(target);
  try {
    const fillMs = await runInFlight(tasks, window, async (i) => {
      const result = await producer.sendTask(noopTask, [i, i + 1], {}, { queue: target.queue, ignoreResult });
      if (!ignoreResult) ids.push(result.id);
    });
    await producer.close();
    const counter = completionCounter(tasks, timeoutMs);
    const worker = workerApp.worker({ queues: [target.queue], concurrency });
    worker.on('task-succeeded', () => counter.complete());
    const started = performance.now();
    await worker.start();
    await counter.done;
    const figures = counter.figures(started);
    await worker.stop({ force: figures.completed < tasks });
    return { ...figures, fillMs };
  } finally {
    await Promise.allSettled([producer.close(), workerApp.close()]);
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
