#!/usr/bin/env node
/**
 * tq over NATS JetStream vs the raw nats.js ceiling, measured in the same run on the same server.
 *
 *   node packages/nats/bench/throughput.mjs            (builds the packages' dist first)
 *   BENCH_MESSAGES=50000 BENCH_URL=nats://127.0.0.1:4222 node packages/nats/bench/throughput.mjs
 *
 * Each scenario publishes N messages with up to W publishes awaiting their PubAck, while a
 * consumer on a second connection pulls and acks them; the figure is N / (time from the first
 * publish to the last ack). Scenarios:
 *   raw      nats.js only: js.publish + consumer.consume({ max_messages: W }) + msg.ack()
 *   broker   @tq/nats NatsBroker: publish (Celery headers, Nats-Msg-Id) + consume(prefetch W) + ack (confirmed)
 *   app      tq end to end: app.sendTask (protocol v2, JSON) → worker (async pool) runs a no-op task → ack
 * Each scenario gets its own stream, deleted afterwards. The issue's target: app >= 0.5 × raw.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b', join(root, 'packages', 'nats', 'tsconfig.lib.json')], { stdio: 'inherit' });

const { loadavg } = await import('node:os');
const { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } = await import('@nats-io/jetstream');
const { connect } = await import('@nats-io/transport-node');
const { createApp } = await import('@tq/core');
const { default: natsAdapter } = await import('@tq/nats');

const N = Number(process.env.BENCH_MESSAGES ?? 20_000);
const W = Number(process.env.BENCH_WINDOW ?? 256);
const baseUrl = process.env.BENCH_URL ?? 'nats://127.0.0.1:4222';
const servers = new URL(baseUrl).host;
const encoder = new TextEncoder();

function streamName(label) {
  return `TQBENCH_${label}_${randomBytes(4).toString('hex')}`;
}

/** Runs `publishOne(i)` for i < N with at most W in flight. */
async function publishAll(publishOne) {
  let next = 0;
  await Promise.all(
    Array.from({ length: W }, async () => {
      while (next < N) await publishOne(next++);
    }),
  );
}

async function deleteStream(name) {
  const nc = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  for (const s of [name, `${name}_DLQ`]) await jsm.streams.delete(s).catch(() => undefined);
  await nc.close();
}

function taskBody(i) {
  return encoder.encode(JSON.stringify([[i, i + 1], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]));
}

async function raw() {
  const name = streamName('RAW');
  // noAsyncTraces as @tq/nats sets it: the ceiling is the client at its fastest.
  const [pub, sub] = [await connect({ servers, noAsyncTraces: true }), await connect({ servers, noAsyncTraces: true })];
  const jsm = await jetstreamManager(pub);
  await jsm.streams.add({ name, subjects: [`${name}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
  await jsm.consumers.add(name, { durable_name: 'bench', ack_policy: AckPolicy.Explicit, filter_subject: `${name}.q` });
  const js = jetstream(pub);
  const consumer = await jetstream(sub).consumers.get(name, 'bench');
  const started = performance.now();
  const consumed = (async () => {
    const messages = await consumer.consume({ max_messages: W });
    let n = 0;
    for await (const m of messages) {
      m.ack();
      if (++n === N) break;
    }
    await sub.flush();
  })();
  await publishAll((i) => js.publish(`${name}.q`, taskBody(i)));
  await consumed;
  const ms = performance.now() - started;
  await Promise.all([pub.close(), sub.close()]);
  await deleteStream(name);
  return ms;
}

async function broker() {
  const name = streamName('BROKER');
  const url = new URL(`${baseUrl}?stream=${name}`);
  const [publisher, consumer] = [natsAdapter.createBroker(url, {}), natsAdapter.createBroker(url, {})];
  await Promise.all([publisher.connect(), consumer.connect()]);
  const controller = new AbortController();
  const started = performance.now();
  const consumed = (async () => {
    // Acks settle concurrently, as a worker's do: prefetch still bounds what is unacked.
    const acks = [];
    for await (const delivery of consumer.consume('bench', { prefetch: W, signal: controller.signal })) {
      acks.push(delivery.ack());
      if (acks.length === N) break;
    }
    await Promise.all(acks);
  })();
  await publishAll((i) => {
    const id = `bench-${i}`;
    return publisher.publish('bench', {
      body: taskBody(i),
      headers: { lang: 'py', task: 'bench.noop', id, root_id: id, parent_id: null, retries: 0, eta: null, expires: null, group: null, argsrepr: `(${i}, ${i + 1})`, kwargsrepr: '{}', origin: 'bench' },
      properties: { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: id, deliveryMode: 2, priority: 0 },
    });
  });
  await consumed;
  const ms = performance.now() - started;
  controller.abort();
  await Promise.all([publisher.close(), consumer.close()]);
  await deleteStream(name);
  return ms;
}

async function app() {
  const name = streamName('APP');
  const url = `${baseUrl}?stream=${name}`;
  const options = { adapters: [natsAdapter], resultBackend: null, logLevel: 'silent' };
  const producer = createApp({ broker: url, ...options });
  const workerApp = createApp({ broker: url, ...options });
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  for (const a of [producer, workerApp]) {
    a.task('bench.noop', () => {
      if (++done === N) finish();
    }, { ignoreResult: true });
  }
  const worker = workerApp.worker({ queues: ['bench'], concurrency: Math.max(1, W / 4), prefetchMultiplier: 4 });
  await worker.start();
  await producer.sendTask('bench.noop', [0, 0], {}, { queue: 'bench-warmup' }); // connects the producer
  const started = performance.now();
  await publishAll((i) => producer.sendTask('bench.noop', [i, i + 1], {}, { queue: 'bench', ignoreResult: true }));
  await finished;
  const ms = performance.now() - started;
  await worker.stop();
  await Promise.all([producer.close(), workerApp.close()]);
  await deleteStream(name);
  return ms;
}

const rate = (ms) => Math.round(N / (ms / 1000));
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`NATS JetStream throughput: ${N} messages, ${W} publishes in flight, prefetch ${W}, server ${servers}, ${rounds} rounds`);
console.log(`  (client CPU = this process's user+system time per message, producer and consumer together)`);
const scenarios = [['raw', raw], ['broker', broker], ['app', app]];
const samples = Object.fromEntries(scenarios.map(([label]) => [label, { rate: [], cpu: [] }]));
for (const [, run] of scenarios) await run(); // warm-up: JIT, connections, stream creation paths
// Rounds interleave the scenarios, so a burst of load on the machine hits all of them alike.
for (let round = 0; round < rounds; round++) {
  for (const [label, run] of scenarios) {
    const cpu = process.cpuUsage();
    const ms = await run();
    const used = process.cpuUsage(cpu);
    samples[label].rate.push(rate(ms));
    samples[label].cpu.push(Math.round((used.user + used.system) / N));
  }
}
const results = {};
for (const [label] of scenarios) {
  const { rate: rates, cpu } = samples[label];
  results[label] = median(rates);
  console.log(
    `  ${label.padEnd(7)} ${String(results[label]).padStart(7)} msg/s median (${Math.min(...rates)}–${Math.max(...rates)}), client CPU ${median(cpu)} µs/msg`,
  );
}
console.log(`  load average ${loadavg().map((n) => n.toFixed(1)).join(' ')} on ${(await import('node:os')).availableParallelism()} cores`);
console.log(`  ratio broker/raw ${(results.broker / results.raw).toFixed(2)}   app/raw ${(results.app / results.raw).toFixed(2)}   (target app/raw >= 0.50)`);
