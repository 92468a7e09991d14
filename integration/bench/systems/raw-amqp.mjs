// The raw amqplib ceiling: confirm-channel publish of the bytes and headers tq publishes, and a
// manual-ack consumer with prefetch = concurrency × 4 (tq's default window) running at most
// `concurrency` handlers; with results stored, one Redis SET of a Celery result record each.
import amqplib from 'amqplib';
import { Redis } from 'ioredis';
import { amqpUrl, redisResultUrl } from '../lib/endpoints.mjs';
import { completionCounter, latencySummary, runInFlight, runTotal, sendAtSteadyRate, Slots, uniqueName, warmThenStart } from '../lib/measure.mjs';
import { resultKey, resultRecord, sampleMessage } from '../lib/payload.mjs';

const prefetchMultiplier = 4;

async function openQueue() {
  const queue = uniqueName('tqbench.raw.');
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue(queue, { durable: true });
  return { queue, connection, channel };
}

function publisher(channel, queue, message) {
  const body = Buffer.from(message.body);
  const p = message.properties;
  const options = { headers: message.headers, contentType: p.contentType, contentEncoding: p.contentEncoding, correlationId: p.correlationId, deliveryMode: 2, priority: 0 };
  return (extraHeaders) =>
    new Promise((resolve, reject) => {
      const o = extraHeaders ? { ...options, headers: { ...options.headers, ...extraHeaders } } : options;
      channel.sendToQueue(queue, body, o, (error) => (error ? reject(error) : resolve()));
    });
}

async function dispose({ queue, connection, channel }, ...others) {
  await channel.deleteQueue(queue).catch(() => undefined);
  await Promise.allSettled([connection.close(), ...others.map((o) => o.close())]);
}

/** A second connection consuming `queue`: at most `concurrency` handlers, then ack. */
async function consume(queue, concurrency, handle) {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createChannel();
  await channel.prefetch(concurrency * prefetchMultiplier);
  const slots = new Slots(concurrency);
  await channel.consume(queue, async (message) => {
    if (!message) return; // the consumer was cancelled
    await slots.acquire();
    try {
      await handle(message);
      channel.ack(message);
    } catch {
      // The run is over and the connection closing: nothing left to measure.
    } finally {
      slots.release();
    }
  });
  return connection;
}

export async function enqueue({ tasks, warmup = 0, window }, phase) {
  const target = await openQueue();
  try {
    const publish = publisher(target.channel, target.queue, sampleMessage());
    await warmThenStart(phase, warmup, (count) => runInFlight(count, window, () => publish()));
    const ms = await runInFlight(tasks, window, () => publish());
    phase?.stop();
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await dispose(target);
  }
}

export async function drain({ tasks, warmup, window, concurrency, results, timeoutMs }, phase) {
  const target = await openQueue();
  const store = results === 'stored' ? new Redis(redisResultUrl) : undefined;
  const ids = [];
  let consumer;
  try {
    const publish = publisher(target.channel, target.queue, sampleMessage());
    const fillMs = await runInFlight(runTotal({ tasks, warmup }), window, () => publish());
    const counter = completionCounter(tasks, timeoutMs, { warmup, phase });
    counter.start();
    const started = performance.now();
    let n = 0;
    consumer = await consume(target.queue, concurrency, async (message) => {
      JSON.parse(message.content.toString()); // a consumer has to read the body to run the task
      if (store) {
        const id = `raw-${target.queue}-${n++}`;
        ids.push(id);
        await store.set(resultKey(id), resultRecord(id), 'PX', 3_600_000);
      }
      counter.complete();
    });
    await counter.done;
    phase?.stop();
    return { ...counter.figures(started), fillMs };
  } finally {
    await consumer?.close().catch(() => undefined);
    if (store) {
      for (let i = 0; i < ids.length; i += 1000) await store.del(...ids.slice(i, i + 1000).map(resultKey));
      await store.quit();
    }
    await dispose(target);
  }
}

export async function latency({ concurrency, rate, durationMs, timeoutMs }) {
  const target = await openQueue();
  const samples = [];
  let consumer;
  try {
    consumer = await consume(target.queue, concurrency, async (message) => {
      samples.push(performance.now() - message.properties.headers['x-sent-at']);
    });
    const publish = publisher(target.channel, target.queue, sampleMessage());
    const total = await sendAtSteadyRate(rate, durationMs, (i, sentAt) => publish({ 'x-sent-at': sentAt }));
    const deadline = performance.now() + timeoutMs;
    while (samples.length < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return latencySummary(samples, total);
  } finally {
    await consumer?.close().catch(() => undefined);
    await dispose(target);
  }
}
