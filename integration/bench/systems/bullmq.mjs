// BullMQ (the installed version) on the same Redis: Queue.add / addBulk and a Worker with the
// same concurrency; results ignored = removeOnComplete: true, stored = the return value kept on
// the job (removeOnComplete: false).
import { Queue, Worker } from 'bullmq';
import { redisBrokerUrl } from '../lib/endpoints.mjs';
import { completionCounter, latencySummary, runInFlight, runTotal, sendAtSteadyRate, uniqueName, warmThenStart } from '../lib/measure.mjs';
import { taskArgs } from '../lib/payload.mjs';

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

export async function enqueue({ tasks, warmup = 0, window }, phase) {
  const queue = await openQueue();
  try {
    const add = (i) => queue.add('noop', { args: taskArgs(i) }, { removeOnComplete: true });
    await warmThenStart(phase, warmup, (count) => runInFlight(count, window, add));
    const ms = await runInFlight(tasks, window, add);
    phase?.stop();
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await dispose(queue);
  }
}

/** N jobs added with addBulk in batches of `batch`, one awaited after another. */
export async function bulk({ tasks, warmup = 0, batch = 1000 }, phase) {
  const queue = await openQueue();
  const addBatches = async (count) => {
    for (let start = 0; start < count; start += batch) {
      const jobs = [];
      for (let i = start; i < Math.min(count, start + batch); i++) jobs.push({ name: 'noop', data: { args: taskArgs(i) }, opts: { removeOnComplete: true } });
      await queue.addBulk(jobs);
    }
  };
  try {
    await warmThenStart(phase, warmup, addBatches);
    const started = performance.now();
    await addBatches(tasks);
    const ms = performance.now() - started;
    phase?.stop();
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await dispose(queue);
  }
}

/** Pre-enqueues N jobs with addBulk (batches of 1000) for a drain in another process: { queueName, fillMs }. */
export async function fill(spec) {
  const { results } = spec;
  const tasks = runTotal(spec);
  const queue = await openQueue();
  try {
    const removeOnComplete = results === 'ignored';
    const fillStarted = performance.now();
    for (let i = 0; i < tasks; i += 1000) {
      const jobs = [];
      for (let j = i; j < Math.min(tasks, i + 1000); j++) jobs.push({ name: 'noop', data: { args: taskArgs(j) }, opts: { removeOnComplete } });
      await queue.addBulk(jobs);
    }
    return { queueName: queue.name, fillMs: performance.now() - fillStarted };
  } finally {
    await queue.close();
  }
}

/** Times a Worker of `concurrency` draining the jobs `fill` added, then obliterates the queue. */
export async function drainFilled({ tasks, warmup, concurrency, timeoutMs }, { queueName, fillMs }, phase) {
  const queue = new Queue(queueName, { connection: connection() });
  let worker;
  try {
    await queue.waitUntilReady();
    const counter = completionCounter(tasks, timeoutMs, { warmup, phase });
    counter.start();
    const started = performance.now();
    worker = new Worker(queue.name, async () => null, { connection: connection(), concurrency, autorun: false });
    worker.on('completed', () => counter.complete());
    void worker.run();
    await counter.done;
    phase?.stop();
    return { ...counter.figures(started), fillMs };
  } finally {
    await dispose(queue, worker);
  }
}

/** fill then drainFilled, in this process. */
export async function drain(spec, phase) {
  return drainFilled(spec, await fill(spec), phase);
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
