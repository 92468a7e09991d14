// Delay bench: N countdown tasks on Redis (due times spread over a window), tq's durable delays
// (the sorted set + due-mover) against BullMQ delayed jobs, in the same run on the same Redis.
// For each system: the enqueue rate of the delayed tasks, the worker process's RSS while they
// wait (and its peak while they fire), and lateness = run time − due time (p50/p99/max).
//
//   npm run bench:delay [-- --tasks 100000 --from 10 --to 60 --concurrency 50 --systems tq,bullmq]
//
// Systems: tq (on Redis), bullmq, and tq on the other brokers' durable delays: tq-amqp (the TTL
// queue cascade), tq-nats (delayed nak), tq-postgres (the not-before column; TQ_BENCH_POSTGRES_URL,
// default postgres://postgres@127.0.0.1:5432/test, a schema of its own dropped afterwards),
// tq-kafka (the delay topics; TQ_TEST_KAFKA_BROKERS or librdkafka's mock cluster, whose topics
// this process creates: 4 partitions each, since the mock keeps only ~5 MB per partition).
//
// The worker runs in a child process of its own (so its RSS is the worker's alone); this process
// enqueues. Each task carries its due time (epoch ms) as its argument. Figures only: no asserts.
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { brokerAvailable, redisBrokerUrl } from './lib/endpoints.mjs';
import { percentile, runInFlight, uniqueName } from './lib/measure.mjs';
import { deleteRedisKeys, tqTarget } from './lib/tq-targets.mjs';

const postgresBenchUrl = process.env.TQ_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '100000' },
    from: { type: 'string', default: '10' },
    to: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '50' },
    window: { type: 'string', default: '500' },
    systems: { type: 'string', default: 'tq,bullmq' },
    worker: { type: 'string' },
    queue: { type: 'string' },
    'broker-url': { type: 'string' },
  },
});
const tasks = Number(values.tasks);
const fromMs = Number(values.from) * 1000;
const toMs = Number(values.to) * 1000;
const concurrency = Number(values.concurrency);

if (values.worker) await runWorker(values.worker, values.queue);
else await main();

// ---- the parent: enqueue, then collect the worker's figures ----

async function main() {
  const available = await brokerAvailable('redis');
  if (available !== true) {
    console.error(`bench:delay needs Redis: ${available}`);
    process.exit(1);
  }
  console.log(`delay bench: ${tasks} countdown tasks due ${fromMs / 1000}–${toMs / 1000} s after the enqueue starts, worker concurrency ${concurrency}, Redis ${new URL(redisBrokerUrl).host}`);
  const rows = [];
  for (const system of values.systems.split(',')) rows.push(await runSystem(system.trim()));
  printTable(rows);
}

/** Where tq runs for `system`: its broker URL, adapters and clean-up; null for BullMQ. */
async function tqSetup(system) {
  if (!system.startsWith('tq')) return null;
  const broker = system === 'tq' ? 'redis' : system.slice('tq-'.length);
  if (broker === 'postgres') {
    const { default: postgresAdapter } = await import('@tq/postgres');
    const schema = uniqueName('tqbench_delay_');
    const url = new URL(postgresBenchUrl);
    url.searchParams.set('schema', schema);
    return {
      queue: uniqueName('tqbench.delay.'),
      brokerUrl: url.href,
      adapters: [postgresAdapter],
      brokerOptions: {},
      cleanup: async () => {
        const { default: pg } = await import('pg');
        const client = new pg.Client({ connectionString: postgresBenchUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      },
    };
  }
  if (broker === 'kafka') return kafkaSetup();
  return tqTarget(broker);
}

/**
 * Kafka: the queue's topic and the delay topics created here, before the worker starts, so the
 * worker child (which has no topic-creation hook, only a URL) runs with topicCreation=none.
 */
async function kafkaSetup() {
  const target = await tqTarget('kafka', { partitions: 4 });
  const { topicForQueue, delayLevelsMs, delayTopic } = await import('@tq/kafka');
  const create = target.brokerOptions.createTopic;
  if (create) for (const topic of [topicForQueue(target.queue), ...delayLevelsMs.map(delayTopic)]) await create(topic, 4);
  return { ...target, brokerUrl: create ? `${target.brokerUrl}&topicCreation=none` : target.brokerUrl };
}

async function runSystem(system) {
  const target = await tqSetup(system);
  const queue = target?.queue ?? uniqueName(`tqbench.delay.${system}.`);
  const brokerArgs = target ? ['--broker-url', target.brokerUrl] : [];
  const child = fork(fileURLToPath(import.meta.url), ['--worker', system, '--queue', queue, '--tasks', String(tasks), '--concurrency', String(concurrency), '--from', String(fromMs / 1000), '--to', String(toMs / 1000), ...brokerArgs], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const result = new Promise((resolve, reject) => {
    child.on('message', (message) => message.type === 'done' && resolve(message.figures));
    child.on('exit', (code) => reject(new Error(`${system} worker exited with ${code} before reporting`)));
  });
  await new Promise((resolve) => child.on('message', (message) => message.type === 'ready' && resolve()));
  const producer = await openProducer(system, queue, target);
  try {
    const start = Date.now();
    child.send({ type: 'enqueue-started', at: start });
    // Due times spread evenly over [from, to] after the start, in a shuffled order.
    const due = (i) => start + fromMs + Math.floor((((i * 7919) % tasks) / tasks) * (toMs - fromMs));
    const ms = await runInFlight(tasks, Number(values.window), (i) => producer.add(due(i)));
    const figures = await result;
    return { system, enqueueRate: (tasks * 1000) / ms, enqueueMs: ms, lateAfterEnqueue: ms > fromMs, ...figures };
  } finally {
    await producer.close();
    child.kill();
    if (target) await target.cleanup([]).catch(() => undefined);
    else await deleteRedisKeys(redisBrokerUrl, queue).catch(() => undefined);
  }
}

async function openProducer(system, queue, target) {
  if (target) {
    const { createApp } = await import('@tq/core');
    const app = createApp({ broker: target.brokerUrl, adapters: target.adapters, brokerOptions: target.brokerOptions, resultBackend: null, logLevel: 'silent' });
    return {
      add: (dueAt) => app.sendTask('bench.due', [dueAt], {}, { queue, eta: new Date(dueAt) }),
      close: () => app.close(),
    };
  }
  const { Queue } = await import('bullmq');
  const bull = new Queue(queue, { connection: bullConnection() });
  await bull.waitUntilReady();
  return {
    add: (dueAt) => bull.add('due', { due: dueAt }, { delay: Math.max(0, dueAt - Date.now()), removeOnComplete: true, removeOnFail: true }),
    close: async () => {
      await bull.obliterate({ force: true }).catch(() => undefined);
      await bull.close();
    },
  };
}

function bullConnection() {
  const url = new URL(redisBrokerUrl);
  return { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0), maxRetriesPerRequest: null };
}

function printTable(rows) {
  const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  const ms = (value) => `${Math.round(value)} ms`;
  const lines = [
    ['system', 'enqueue/s', 'ran', 'RSS idle', 'RSS waiting (max)', 'RSS firing (max)', 'late p50', 'late p99', 'late max', 'early'],
    ...rows.map((r) => [r.system, Math.round(r.enqueueRate).toString(), `${r.ran}/${tasks}`, mb(r.rssIdle), mb(r.rssWaiting), mb(r.rssFiring), ms(r.p50), ms(r.p99), ms(r.max), String(r.early)]),
  ];
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const line of lines) console.log(line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
  const [tq, bull] = ['tq', 'bullmq'].map((name) => rows.find((r) => r.system === name));
  if (tq && bull) {
    const ratio = (a, b) => (b ? (a / b).toFixed(2) : '-');
    console.log(`tq/BullMQ: enqueue rate ×${ratio(tq.enqueueRate, bull.enqueueRate)}, RSS waiting ×${ratio(tq.rssWaiting, bull.rssWaiting)}, lateness p50 ×${ratio(tq.p50, bull.p50)}, p99 ×${ratio(tq.p99, bull.p99)}`);
  }
  for (const r of rows) if (r.lateAfterEnqueue) console.log(`note: ${r.system}'s enqueue took longer than the first due time (${Math.round(r.enqueueMs)} ms): its first tasks fell due while it enqueued`);
}

// ---- the worker child: run every task, record lateness, sample RSS ----

async function runWorker(system, queue) {
  const lateness = [];
  let early = 0;
  let enqueueStartedAt = Infinity;
  let firstDueAt = Infinity;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const ran = (dueAt) => {
    const late = Date.now() - dueAt;
    if (late < 0) early++;
    lateness.push(late);
    if (lateness.length === tasks) finish();
  };
  const rss = { idle: 0, waiting: 0, firing: 0 };
  const sample = () => {
    const now = Date.now();
    const value = process.memoryUsage().rss;
    if (now < enqueueStartedAt) rss.idle = Math.max(rss.idle, value);
    else if (now < firstDueAt) rss.waiting = Math.max(rss.waiting, value);
    else rss.firing = Math.max(rss.firing, value);
  };
  const sampler = setInterval(sample, 200);
  process.on('message', (message) => {
    if (message.type === 'enqueue-started') {
      enqueueStartedAt = message.at;
      firstDueAt = message.at + fromMs;
    }
  });

  let stop;
  if (system.startsWith('tq')) {
    const { createApp } = await import('@tq/core');
    const adapters = await Promise.all(['redis', 'amqp', 'nats', 'postgres', 'kafka'].map(async (name) => (await import(`@tq/${name}`)).default));
    const app = createApp({ broker: values['broker-url'], adapters, resultBackend: null, logLevel: 'silent' });
    app.task('bench.due', (dueAt) => void ran(dueAt));
    const worker = app.worker({ queues: [queue], concurrency });
    await worker.start();
    stop = async () => {
      await worker.stop();
      await app.close();
    };
  } else if (system === 'bullmq') {
    const { Worker } = await import('bullmq');
    const worker = new Worker(queue, async (job) => void ran(job.data.due), { connection: bullConnection(), concurrency });
    await worker.waitUntilReady();
    stop = () => worker.close();
  } else {
    throw new Error(`unknown system ${system} (tq | tq-amqp | tq-nats | tq-postgres | tq-kafka | bullmq)`);
  }
  // The idle figure: the worker started, nothing enqueued yet.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  sample();
  process.send({ type: 'ready' });
  const timeout = setTimeout(finish, toMs + 120_000);
  await finished;
  clearTimeout(timeout);
  clearInterval(sampler);
  sample();
  const sorted = [...lateness].sort((a, b) => a - b);
  process.send({
    type: 'done',
    figures: { ran: lateness.length, early, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN, rssIdle: rss.idle, rssWaiting: rss.waiting, rssFiring: rss.firing },
  });
  await stop().catch(() => undefined);
  process.exit(0);
}
