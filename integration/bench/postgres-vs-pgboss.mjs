// tq on postgres:// against pg-boss (the installed version) on the same PostgreSQL, in the
// same run: enqueue (c sends in flight) and drain (a pre-filled queue, c concurrent
// handlers) at c = 1, 10, 100. Prints each figure and tq ÷ pg-boss.
//   node integration/bench/postgres-vs-pgboss.mjs [--tasks 2000] [--url postgres://…]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createApp } from '@tq/core';
import postgresAdapter from '@tq/postgres';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { completionCounter, runInFlight } from './lib/measure.mjs';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '2000' }, url: { type: 'string' }, concurrency: { type: 'string', default: '1,10,100' } } });
const tasks = Number(values.tasks);
const baseUrl = values.url ?? process.env.TQ_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const levels = values.concurrency.split(',').map(Number);
const run = randomBytes(3).toString('hex');
const tqSchema = `tqbench_${run}`;
const bossSchema = `pgboss_bench_${run}`;
const timeoutMs = 300_000;

const withSchema = (schema) => `${baseUrl}${baseUrl.includes('?') ? '&' : '?'}schema=${schema}`;

async function tqEnqueue(c) {
  const app = createApp({ broker: withSchema(tqSchema), adapters: [postgresAdapter], resultBackend: null, logLevel: 'silent' });
  await app.broker();
  const queue = `enq-${c}-${run}`;
  const ms = await runInFlight(tasks, c, (i) => app.sendTask('noop', [i, i + 1], {}, { queue, ignoreResult: true }));
  await (await app.broker()).purge(queue);
  await app.close();
  return (tasks * 1000) / ms;
}

async function tqDrain(c) {
  const app = createApp({ broker: withSchema(tqSchema), adapters: [postgresAdapter], resultBackend: null, logLevel: 'silent' });
  const queue = `drain-${c}-${run}`;
  await runInFlight(tasks, 50, (i) => app.sendTask('noop', [i, i + 1], {}, { queue, ignoreResult: true }));
  const counter = completionCounter(tasks, timeoutMs);
  app.task('noop', () => {
    counter.complete();
    return null;
  });
  const worker = app.worker({ queues: [queue], concurrency: c });
  await worker.start();
  await counter.done;
  const rate = counter.rate();
  await worker.stop();
  await app.close();
  return rate;
}

async function bossStart() {
  const boss = new PgBoss({ connectionString: baseUrl, schema: bossSchema, max: 20 });
  boss.on('error', () => undefined);
  await boss.start();
  return boss;
}

async function bossEnqueue(c) {
  const boss = await bossStart();
  const queue = `enq-${c}-${run}`;
  await boss.createQueue(queue);
  const ms = await runInFlight(tasks, c, (i) => boss.send(queue, { args: [i, i + 1] }));
  await boss.stop({ graceful: false, wait: true });
  return (tasks * 1000) / ms;
}

async function bossDrain(c) {
  const boss = await bossStart();
  const queue = `drain-${c}-${run}`;
  await boss.createQueue(queue);
  for (let i = 0; i < tasks; i += 1000) {
    await boss.insert(Array.from({ length: Math.min(1000, tasks - i) }, (_, j) => ({ name: queue, data: { args: [i + j, i + j + 1] } })));
  }
  const counter = completionCounter(tasks, timeoutMs);
  // c loops of fetch → complete, one job each, with no pause: pg-boss' ceiling. Its work()
  // waits pollingIntervalSeconds (0.5 s at least) after every fetch, so c workers of
  // batchSize 1 would run at most 2c jobs/s — not a fair figure for its engine.
  let left = tasks;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (left > 0) {
        const [job] = await boss.fetch(queue);
        if (!job) continue;
        left--;
        await boss.complete(queue, job.id);
        counter.complete();
      }
    }),
  );
  await counter.done;
  const rate = counter.rate();
  await boss.stop({ graceful: false, wait: true });
  return rate;
}

const rows = [];
for (const c of levels) {
  const tqE = await tqEnqueue(c);
  const bossE = await bossEnqueue(c);
  const tqD = await tqDrain(c);
  const bossD = await bossDrain(c);
  rows.push({ c, tqE, bossE, tqD, bossD });
  console.log(`c=${c}: enqueue tq ${tqE.toFixed(0)}/s pg-boss ${bossE.toFixed(0)}/s (×${(tqE / bossE).toFixed(2)}); drain tq ${tqD.toFixed(0)}/s pg-boss ${bossD.toFixed(0)}/s (×${(tqD / bossD).toFixed(2)})`);
}

console.log('\n| c | enqueue tq/s | enqueue pg-boss/s | tq ÷ pg-boss | drain tq/s | drain pg-boss/s | tq ÷ pg-boss |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.c} | ${r.tqE.toFixed(0)} | ${r.bossE.toFixed(0)} | ${(r.tqE / r.bossE).toFixed(2)} | ${r.tqD.toFixed(0)} | ${r.bossD.toFixed(0)} | ${(r.tqD / r.bossD).toFixed(2)} |`);
}

const client = new pg.Client({ connectionString: baseUrl });
await client.connect();
await client.query(`DROP SCHEMA IF EXISTS "${tqSchema}" CASCADE`);
await client.query(`DROP SCHEMA IF EXISTS "${bossSchema}" CASCADE`);
await client.end();
