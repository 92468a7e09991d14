// The raw ioredis ceiling: LPUSH the bytes tq publishes, BRPOP them with `concurrency`
// connections (one blocking pop per connection), no acknowledgement (BRPOP removes the message);
// with results stored, one SET of a Celery result record per message.
import { Redis } from 'ioredis';
import { redisBrokerUrl, redisResultUrl } from '../lib/endpoints.mjs';
import { completionCounter, latencySummary, runInFlight, sendAtSteadyRate, uniqueName } from '../lib/measure.mjs';
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

export async function enqueue({ tasks, window }) {
  const queue = uniqueName('tqbench.raw.');
  const redis = await open(redisBrokerUrl);
  try {
    const envelope = redisEnvelope(sampleMessage(), queue);
    const ms = await runInFlight(tasks, window, () => redis.lpush(queue, envelope));
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

export async function drain({ tasks, window, concurrency, results, timeoutMs }) {
  const queue = uniqueName('tqbench.raw.');
  const producer = await open(redisBrokerUrl);
  const store = results === 'stored' ? await open(redisResultUrl) : undefined;
  const ids = [];
  let stop = async () => undefined;
  try {
    const message = sampleMessage();
    const envelope = redisEnvelope(message, queue);
    const fillMs = await runInFlight(tasks, window, () => producer.lpush(queue, envelope));
    const counter = completionCounter(tasks, timeoutMs);
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
    return { ...counter.figures(started), fillMs };
  } finally {
    await stop();
    await producer.del(queue);
    if (store) for (let i = 0; i < ids.length; i += 1000) await store.del(...ids.slice(i, i + 1000).map(resultKey));
    await closeAll([producer, ...(store ? [store] : [])]);
  }
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
