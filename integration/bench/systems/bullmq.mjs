// BullMQ (the installed version) on the same Redis: Queue.add / addBulk and a Worker with the
// same concurrency; results ignored = removeOnComplete: true, stored = the return value kept on
// the job (removeOnComplete: false).
import { Queue, Worker } from 'bullmq';
import { redisBrokerUrl } from '../lib/endpoints.mjs';
import { completionCounter, latencySummary, runInFlight, sendAtSteadyRate, uniqueName } from '../lib/measure.mjs';

function connection() {
  const url = new URL(redisBrokerUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    db: Number(url.pathname.slice(1) || 0),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    maxRetriesPerRequest: null,
  };
}

async function openQueue() {
  const queue = new Queue(uniqueName('tqbench-bullmq-'), { connection: connection() });
  await queue.waitUntilReady();
  return queue;
}

async function dispose(queue, worker) {
  await worker?.close();
  await queue.obliterate({ force: true });
  await queue.close();
}

export async function enqueue({ tasks, window }) {
  const queue = await openQueue();
  try {
    const ms = await runInFlight(tasks, window, (i) => queue.add('noop', { args: [i, i + 1] }, { removeOnComplete: true }));
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await dispose(queue);
  }
}

export async function drain({ tasks, concurrency, results, timeoutMs }) {
  const queue = await openQueue();
  let worker;
  try {
    const removeOnComplete = results === 'ignored';
    const fillStarted = performance.now();
    for (let i = 0; i < tasks; i += 1000) {
      const jobs = [];
      for (let j = i; j < Math.min(tasks, i + 1000); j++) jobs.push({ name: 'noop', data: { args: [j, j + 1] }, opts: { removeOnComplete } });
      await queue.addBulk(jobs);
    }
    const fillMs = performance.now() - fillStarted;
    const counter = completionCounter(tasks, timeoutMs);
    const started = performance.now();
    worker = new Worker(queue.name, async () => null, { connection: connection(), concurrency, autorun: false });
    worker.on('completed', () => counter.complete());
    void worker.run();
    await counter.done;
    return { ...counter.figures(started), fillMs };
  } finally {
    await dispose(queue, worker);
  }
}

export async function latency({ concurrency, rate, durationMs, timeoutMs }) {
  const queue = await openQueue();
  const samples = [];
  let worker;
  try {
    worker = new Worker(queue.name, async () => null, { connection: connection(), concurrency });
    await worker.waitUntilReady();
    worker.on('completed', (job) => {
      if (job.data.sentAt !== undefined) samples.push(performance.now() - job.data.sentAt);
    });
    const total = await sendAtSteadyRate(rate, durationMs, (i, scheduledAt) => queue.add('noop', { args: [i, i + 1], sentAt: scheduledAt }, { removeOnComplete: true }));
    const deadline = performance.now() + timeoutMs;
    while (samples.length < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return latencySummary(samples, total);
  } finally {
    await dispose(queue, worker);
  }
}
