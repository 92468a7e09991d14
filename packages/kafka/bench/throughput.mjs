#!/usr/bin/env node
/**
 * tq over Kafka vs the raw kafkajs ceiling, measured in the same run on the same cluster.
 *
 *   node packages/kafka/bench/throughput.mjs        (builds the packages' dist first)
 *   BENCH_MESSAGES=50000 BENCH_BROKERS=127.0.0.1:9092 node packages/kafka/bench/throughput.mjs
 *
 * Without BENCH_BROKERS it starts librdkafka's mock cluster (integration/kafka-mock): no disk,
 * no replication, so it flatters neither side but is not a real Kafka's figure either.
 * Every scenario sends N task-sized messages with up to W sends awaiting acks=all, while a
 * consumer in its own group reads and commits them; the figure is N / (time from the first send
 * to the last message consumed). Each scenario runs on a fresh topic, after one warm-up message
 * went through (so the consumer group's join, 3 s on the mock, is not timed). Scenarios:
 *   raw-single  kafkajs only: producer.send of one message, W in flight; consumer.run eachMessage, autoCommit
 *   raw-batch   kafkajs only: producer.send of W messages at a time; same consumer
 *   broker      @tq/kafka KafkaBroker: publish (W in flight) + consume(prefetch W) + ack (commit per ack, coalesced)
 *   app         tq end to end: app.sendTask (protocol v2, JSON) → worker runs a no-op task → ack
 * Each figure is the best of BENCH_RUNS (3) passes after a warm-up pass. The ceiling is the
 * faster raw scenario. The issue's target: app >= 0.5 × ceiling.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b', join(root, 'packages', 'kafka', 'tsconfig.lib.json')], { stdio: 'inherit' });

const { Kafka, logLevel, Partitioners } = await import('kafkajs');
const { createApp } = await import('@tq/core');
const { default: kafkaAdapter } = await import('@tq/kafka');
const { startKafkaMock } = await import(join(root, 'integration', 'kafka-mock', 'launch.mjs'));

const N = Number(process.env.BENCH_MESSAGES ?? 10_000);
const W = Number(process.env.BENCH_WINDOW ?? 256);
const mock = process.env.BENCH_BROKERS ? undefined : await startKafkaMock();
const bootstrap = (process.env.BENCH_BROKERS ?? mock.bootstrap).split(',');
const idempotent = !mock; // the mock has no InitProducerId for kafkajs (docs/brokers/kafka.md)
const baseUrl = `kafka://${bootstrap[0]}?idempotent=${idempotent}&maxWaitTimeMs=20${bootstrap.length > 1 ? `&brokers=${bootstrap.slice(1).join(',')}` : ''}`;
const adapterOptions = mock ? { createTopic: (topic, partitions) => mock.createTopic(topic, partitions) } : {};
const encoder = new TextEncoder();

const unique = (label) => `tqbench-${label}-${randomBytes(4).toString('hex')}`;
const taskBody = (i) => encoder.encode(JSON.stringify([[i, i + 1], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]));
const celeryHeaders = (i) => {
  const id = `bench-${i}`;
  return {
    headers: { lang: 'py', task: 'bench.noop', id, root_id: id, parent_id: null, retries: 0, eta: null, expires: null, group: null, argsrepr: `(${i}, ${i + 1})`, kwargsrepr: '{}', origin: 'bench' },
    properties: { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: id, deliveryMode: 2, priority: 0 },
  };
};

/** Runs `sendOne(i)` for i < N with at most W in flight. */
async function sendAll(sendOne) {
  let next = 0;
  await Promise.all(Array.from({ length: W }, async () => {
    while (next < N) await sendOne(next++);
  }));
}

async function createTopic(kafka, topic) {
  if (mock) return mock.createTopic(topic, 1);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
}

async function deleteTopics(topics) {
  if (mock) return; // the mock has no DeleteTopics; it dies with the run
  const admin = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}

async function raw(batched) {
  const topic = unique('raw');
  const kafka = new Kafka({ brokers: bootstrap, clientId: 'bench', logLevel: logLevel.NOTHING });
  await createTopic(kafka, topic);
  const producer = kafka.producer({ idempotent, maxInFlightRequests: idempotent ? 1 : undefined, createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: topic, maxWaitTimeInMs: 20 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic, fromBeginning: true });
  let n = -1; // the warm-up message is not counted
  let warm, done;
  const warmed = new Promise((resolve) => (warm = resolve));
  const finished = new Promise((resolve) => (done = resolve));
  await consumer.run({
    eachMessage: async () => {
      if (++n === 0) warm();
      if (n === N) done();
    },
  });
  await producer.send({ topic, acks: -1, messages: [{ value: 'warm-up' }] });
  await warmed;
  const started = performance.now();
  const toMessage = (i) => ({ value: Buffer.from(taskBody(i)), headers: { tq: JSON.stringify(celeryHeaders(i)) } });
  if (batched) {
    for (let i = 0; i < N; i += W) {
      await producer.send({ topic, acks: -1, messages: Array.from({ length: Math.min(W, N - i) }, (_, j) => toMessage(i + j)) });
    }
  } else {
    await sendAll((i) => producer.send({ topic, acks: -1, messages: [toMessage(i)] }));
  }
  await finished;
  const ms = performance.now() - started;
  await Promise.all([producer.disconnect(), consumer.disconnect()]);
  await deleteTopics([topic]);
  return ms;
}

async function broker() {
  const queue = unique('broker');
  const url = new URL(baseUrl);
  const [publisher, consumer] = [kafkaAdapter.createBroker(url, adapterOptions), kafkaAdapter.createBroker(url, adapterOptions)];
  await Promise.all([publisher.connect(), consumer.connect()]);
  const controller = new AbortController();
  let n = -1;
  let warm;
  const warmed = new Promise((resolve) => (warm = resolve));
  const consumed = (async () => {
    for await (const delivery of consumer.consume(queue, { prefetch: W, signal: controller.signal })) {
      await delivery.ack();
      if (++n === 0) warm();
      if (n === N) break;
    }
  })();
  await publisher.publish(queue, { body: taskBody(-1), ...celeryHeaders(-1) });
  await warmed;
  const started = performance.now();
  await sendAll((i) => publisher.publish(queue, { body: taskBody(i), ...celeryHeaders(i) }));
  await consumed;
  const ms = performance.now() - started;
  controller.abort();
  await Promise.all([publisher.close(), consumer.close()]);
  await deleteTopics([queue]);
  return ms;
}

async function app() {
  const queue = unique('app');
  const url = new URL(baseUrl);
  const options = { resultBackend: null, logLevel: 'silent' };
  const producer = createApp({ broker: kafkaAdapter.createBroker(url, adapterOptions), ...options });
  const workerApp = createApp({ broker: kafkaAdapter.createBroker(url, adapterOptions), ...options });
  let done = -1;
  let warm, finish;
  const warmed = new Promise((resolve) => (warm = resolve));
  const finished = new Promise((resolve) => (finish = resolve));
  for (const a of [producer, workerApp]) {
    a.task('bench.noop', () => {
      if (++done === 0) warm();
      if (done === N) finish();
    }, { ignoreResult: true });
  }
  const worker = workerApp.worker({ queues: [queue], concurrency: Math.max(1, W / 4), prefetchMultiplier: 4 });
  await worker.start();
  await producer.sendTask('bench.noop', [0, 0], {}, { queue, ignoreResult: true });
  await warmed;
  const started = performance.now();
  await sendAll((i) => producer.sendTask('bench.noop', [i, i + 1], {}, { queue, ignoreResult: true }));
  await finished;
  const ms = performance.now() - started;
  await worker.stop();
  await Promise.all([producer.close(), workerApp.close()]);
  await deleteTopics([queue]);
  return ms;
}

const rate = (ms) => Math.round(N / (ms / 1000));
console.log(`Kafka throughput: ${N} messages, ${W} sends in flight, prefetch ${W}, ${mock ? 'librdkafka mock cluster' : 'cluster'} ${bootstrap.join(',')}, idempotent=${idempotent}`);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const results = {};
for (const [label, run] of [['raw-single', () => raw(false)], ['raw-batch', () => raw(true)], ['broker', broker], ['app', app]]) {
  if (process.env.BENCH_VERBOSE) console.log(`  (${label}: warm-up pass)`);
  await run(); // warm-up pass on a fresh topic: JIT, connections, topic creation paths
  // Best of `runs`: the machine is shared, the fastest pass is the least disturbed one.
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await run());
  const ms = Math.min(...times);
  results[label] = rate(ms);
  console.log(`  ${label.padEnd(10)} ${String(results[label]).padStart(7)} msg/s  (best of ${runs}: ${Math.round(ms)} ms; all: ${times.map((t) => Math.round(t)).join(', ')} ms)`);
}
const ceiling = Math.max(results['raw-single'], results['raw-batch']);
console.log(`  ratio broker/ceiling ${(results.broker / ceiling).toFixed(2)}   app/ceiling ${(results.app / ceiling).toFixed(2)}   (ceiling = faster raw; target app >= 0.50)`);
await mock?.stop();
