// The raw kafkajs ceiling: a producer (idempotent unless on the mock cluster) sending the bytes tq publishes (acks=all) in
// batches of `window` messages, and a consumer group running eachBatch with at most
// `concurrency` handlers at once, resolving each offset and committing as kafkajs does by default;
// with results stored, one Redis SET of a Celery result record each.
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { openKafka, redisResultUrl } from '../lib/endpoints.mjs';
import { completionCounter, latencySummary, runTotal, sendAtSteadyRate, Slots, uniqueName, warmThenStart } from '../lib/measure.mjs';
import { resultKey, resultRecord, sampleMessage } from '../lib/payload.mjs';

async function openTopic(partitions = 1) {
  const cluster = await openKafka();
  const topic = uniqueName('tqbench.raw.');
  const kafka = new Kafka({ clientId: 'tq-bench', brokers: cluster.brokers, logLevel: logLevel.NOTHING });
  if (cluster.createTopic) await cluster.createTopic(topic, partitions);
  else {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    await admin.disconnect();
  }
  const producer = kafka.producer({ idempotent: cluster.idempotent, maxInFlightRequests: 1 });
  await producer.connect();
  return { cluster, kafka, topic, producer };
}

async function dispose(target) {
  await target.producer.disconnect().catch(() => undefined);
  if (!target.cluster.createTopic) {
    const admin = target.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [target.topic] }).catch(() => undefined);
    await admin.disconnect();
  }
  await target.cluster.stop();
}

function kafkaMessage(message, extraHeaders = {}) {
  return { value: Buffer.from(message.body), headers: { tq: JSON.stringify({ headers: message.headers, properties: message.properties }), ...extraHeaders } };
}

async function publishAll(target, tasks, window) {
  const value = kafkaMessage(sampleMessage());
  const started = performance.now();
  for (let i = 0; i < tasks; i += window) {
    await target.producer.send({ topic: target.topic, acks: -1, messages: Array.from({ length: Math.min(window, tasks - i) }, () => value) });
  }
  return performance.now() - started;
}

async function consume(target, concurrency, handle) {
  const consumer = target.kafka.consumer({ groupId: `bench-${target.topic}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: target.topic, fromBeginning: true });
  const slots = new Slots(concurrency);
  await consumer.run({
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      await Promise.all(
        batch.messages.map(async (message) => {
          await slots.acquire();
          try {
            await handle(message);
          } finally {
            slots.release();
          }
        }),
      );
      resolveOffset(batch.lastOffset());
      await heartbeat();
    },
  });
  return () => consumer.disconnect().catch(() => undefined);
}

export async function enqueue({ tasks, warmup = 0, window }, phase) {
  const target = await openTopic();
  try {
    await warmThenStart(phase, warmup, (count) => publishAll(target, count, window));
    const ms = await publishAll(target, tasks, window);
    phase?.stop();
    return { rate: (tasks * 1000) / ms, ms };
  } finally {
    await dispose(target);
  }
}

export async function drain({ tasks, warmup, window, concurrency, results, timeoutMs, partitions }, phase) {
  const target = await openTopic(partitions);
  const store = results === 'stored' ? new Redis(redisResultUrl) : undefined;
  const ids = [];
  let stop = async () => undefined;
  try {
    const fillMs = await publishAll(target, runTotal({ tasks, warmup }), window);
    const counter = completionCounter(tasks, timeoutMs, { warmup, phase });
    counter.start();
    const started = performance.now();
    let n = 0;
    stop = await consume(target, concurrency, async (message) => {
      JSON.parse(message.value.toString()); // a consumer has to read the body to run the task
      if (store) {
        const id = `raw-${target.topic}-${n++}`;
        ids.push(id);
        await store.set(resultKey(id), resultRecord(id), 'PX', 3_600_000);
      }
      counter.complete();
    });
    await counter.done;
    phase?.stop();
    return { ...counter.figures(started), fillMs };
  } finally {
    await stop();
    if (store) {
      for (let i = 0; i < ids.length; i += 1000) await store.del(...ids.slice(i, i + 1000).map(resultKey));
      await store.quit();
    }
    await dispose(target);
  }
}

export async function latency({ concurrency, rate, durationMs, timeoutMs }) {
  const target = await openTopic();
  const samples = [];
  let stop = async () => undefined;
  try {
    let warmedUp;
    const warm = new Promise((resolve) => (warmedUp = resolve));
    stop = await consume(target, concurrency, async (message) => {
      const sentAt = message.headers['x-sent-at'];
      if (sentAt === undefined) return warmedUp();
      samples.push(performance.now() - Number(sentAt.toString()));
    });
    const sample = sampleMessage();
    await target.producer.send({ topic: target.topic, acks: -1, messages: [kafkaMessage(sample)] });
    await warm; // the group has joined and fetches: what follows is steady state
    const total = await sendAtSteadyRate(rate, durationMs, (i, sentAt) =>
      target.producer.send({ topic: target.topic, acks: -1, messages: [kafkaMessage(sample, { 'x-sent-at': String(sentAt) })] }),
    );
    const deadline = performance.now() + timeoutMs;
    while (samples.length < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return latencySummary(samples, total);
  } finally {
    await stop();
    await dispose(target);
  }
}
