// The raw ioredis ceiling: LPUSH the bytes tq publishes, BRPOP them with `concurrency`
// connections (one blocking pop per connection), no acknowledgement (BRPOP removes the message);
// with results stored, one SET of a Celery result record per message.
import { Redis } from 'ioredis';
import { redisBrokerUrl, redisResultUrl } from '../lib/endpoints.mjs';
import { completionCounter, latencySummary, runInFlight, runTotal, sendAtSteadyRate, uniqueName, warmThenStart } from '../lib/measure.mjs';
import { redisEnvelope, resultKey, resultRecord, sampleMessage } from '../lib/payload.mjs';

const resultTtlMs = 3_600_000;

async function open(url) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
  await redis.connect();
  return redis;
}

async function closeAll(clients) {
  await Promise.allSettled(clients.map((c) => c.quit()));
}

export async function enqueue({ tasks, warmup = 0, window }, phase) {
  const queue = uniqueName('tqbench.raw.');
  const redis = await open(redisBrokerUrl);
  try {
    const envelope = redisEnvelope(sampleMessage(), queue);
    await warmThenStart(phase, warmup, (count) => runInFlight(count, window, () => redis.lpush(queue, envelope)));
    const ms = await runInFlight(tasks, window, () => redis.lpush(queue, envelope));
    phase?.stop();
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await redis.del(queue);
    await closeAll([redis]);
  }
}

/** `concurrency` loops, each BRPOP on its own connection; `handle(envelope)` per message. */
async function consumeLoops(queue, concurrency, counter, handle) {
  const clients = await Promise.all(Array.from({ length: concurrency }, () => open(redisBrokerUrl)));
  let stopping = false;
  const loops = clients.map(async (client) => {
    while (!stopping) {
      const popped = await client.brpop(queue, 1);
      if (!popped) continue;
      await handle(popped[1]);
      counter.complete();
    }
  });
  return async () => {
    stopping = true;
    await Promise.all(loops);
    await closeAll(clients);
  };
}

/** LPUSHes N envelopes for a drain in another process: { queue, fillMs }. */
export async function fill(spec) {
  const { window } = spec;
  const tasks = runTotal(spec);
  const queue = uniqueName('tqbench.raw.');
  const producer = await open(redisBrokerUrl);
  try {
    const envelope = redisEnvelope(sampleMessage(), queue);
    return { queue, fillMs: await runInFlight(tasks, window, () => producer.lpush(queue, envelope)) };
  } finally {
    await closeAll([producer]);
  }
}

/** Times `concurrency` BRPOP loops draining what `fill` pushed (with results stored: one SET each). */
export async function drainFilled({ tasks, warmup, concurrency, results, timeoutMs }, { queue, fillMs }, phase) {
  const store = results === 'stored' ? await open(redisResultUrl) : undefined;
  const ids = [];
  let stop = async () => undefined;
  try {
    const counter = completionCounter(tasks, timeoutMs, { warmup, phase });
    counter.start();
    const started = performance.now();
    let n = 0;
    stop = await consumeLoops(queue, concurrency, counter, async (text) => {
      JSON.parse(text); // a consumer has to read the envelope to know the task
      if (!store) return;
      const id = `raw-${queue}-${n++}`;
      ids.push(id);
      await store.set(resultKey(id), resultRecord(id), 'PX', resultTtlMs);
    });
    await counter.done;
    phase?.stop();
    return { ...counter.figures(started), fillMs };
  } finally {
    await stop();
    const cleaner = await open(redisBrokerUrl);
    await cleaner.del(queue);
    if (store) for (let i = 0; i < ids.length; i += 1000) await store.del(...ids.slice(i, i + 1000).map(resultKey));
    await closeAll([cleaner, ...(store ? [store] : [])]);
  }
}

/** fill then drainFilled, in this process. */
export async function drain(spec, phase) {
  return drainFilled(spec, await fill(spec), phase);
}

export async function latency({ concurrency, rate, durationMs, timeoutMs }) {
  const queue = uniqueName('tqbench.raw.');
  const producer = await open(redisBrokerUrl);
  const samples = [];
  const envelope = JSON.parse(redisEnvelope(sampleMessage(), queue));
  let stop = async () => undefined;
  try {
    stop = await consumeLoops(queue, concurrency, { complete() {} }, async (text) => {
      samples.push(performance.now() - JSON.parse(text).sentAt);
    });
    const total = await sendAtSteadyRate(rate, durationMs, (i, sentAt) => producer.lpush(queue, JSON.stringify({ ...envelope, sentAt })));
    const deadline = performance.now() + timeoutMs;
    while (samples.length < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return latencySummary(samples, total);
  } finally {
    await stop();
    await producer.del(queue);
    await closeAll([producer]);
  }
}
