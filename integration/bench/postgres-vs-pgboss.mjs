// tq on postgres:// against pg-boss (the installed version) on the same PostgreSQL, in the
// same run: enqueue (c sends in flight) and drain (a pre-filled queue, c concurrent
// handlers) at c = 1, 10, 100, each measured `rounds` times interleaved (tq, pg-boss, tq, …);
// prints each figure, the median of tq ÷ pg-boss and its range. At c = 1 it also measures the
// commit ceiling: the same one-row INSERT + commit, sent in a loop by a bare pg client.
//   node integration/bench/postgres-vs-pgboss.mjs [--tasks 2000] [--rounds 3] [--url postgres://…]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createApp } from '@tq/core';
import postgresAdapter from '@tq/postgres';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { completionCounter, runInFlight } from './lib/measure.mjs';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' }, url: { type: 'string' }, concurrency: { type: 'string', default: '1,10,100' } } });
const rounds = Number(values.rounds);
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

/** One-row INSERTs (the row tq writes) in a loop on a bare client: what one commit at a time allows. */
async function commitCeiling() {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  const table = `"${tqSchema}".ceiling`;
  await client.query(`CREATE TABLE IF NOT EXISTS ${table} (LIKE "${tqSchema}".messages INCLUDING ALL)`);
  const headers = JSON.stringify({ lang: 'py', task: 'noop', id: run, argsrepr: '(1, 2)', kwargsrepr: '{}', retries: 0 });
  const body = Buffer.from(JSON.stringify([[1, 2], {}, {}]));
  const started = performance.now();
  for (let i = 0; i < tasks; i++) {
    await client.query(`INSERT INTO ${table} (queue, priority, visible_at, task_id, headers, properties, body) VALUES ($1, 0, now(), $2, $3::json, '{}'::json, $4)`, ['ceiling', run, headers, body]);
  }
  const rate = (tasks * 1000) / (performance.now() - started);
  await client.query(`DROP TABLE ${table}`);
  await client.end();
  return rate;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values) => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;
const rows = [];
for (const c of levels) {
  const runs = [];
  for (let round = 0; round < rounds; round++) {
    const tqE = await tqEnqueue(c);
    const bossE = await bossEnqueue(c);
    const rawE = c === 1 ? await commitCeiling() : null;
    const tqD = await tqDrain(c);
    const bossD = await bossDrain(c);
    runs.push({ tqE, bossE, rawE, tqD, bossD });
    console.log(`c=${c} round ${round + 1}: enqueue tq ${tqE.toFixed(0)}/s pg-boss ${bossE.toFixed(0)}/s (×${(tqE / bossE).toFixed(2)})${rawE ? ` commit ceiling ${rawE.toFixed(0)}/s` : ''}; drain tq ${tqD.toFixed(0)}/s pg-boss ${bossD.toFixed(0)}/s (×${(tqD / bossD).toFixed(2)})`);
  }
  rows.push({ c, runs });
}

console.log(`\n| c | enqueue tq/s | enqueue pg-boss/s | tq ÷ pg-boss (median, range) | drain tq/s | drain pg-boss/s | tq ÷ pg-boss (median, range) |`);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const { c, runs } of rows) {
  const enqueue = runs.map((r) => r.tqE / r.bossE);
  const drain = runs.map((r) => r.tqD / r.bossD);
  console.log(`| ${c} | ${median(runs.map((r) => r.tqE)).toFixed(0)} | ${median(runs.map((r) => r.bossE)).toFixed(0)} | **${median(enqueue).toFixed(2)}** (${range(enqueue)}) | ${median(runs.map((r) => r.tqD)).toFixed(0)} | ${median(runs.map((r) => r.bossD)).toFixed(0)} | **${median(drain).toFixed(2)}** (${range(drain)}) |`);
}
const ceiling = rows.find((r) => r.c === 1)?.runs;
if (ceiling) {
  const raw = median(ceiling.map((r) => r.rawE));
  console.log(`\nc=1 commit ceiling (bare pg client, one INSERT + commit per row): ${raw.toFixed(0)}/s; tq ${((median(ceiling.map((r) => r.tqE)) / raw) * 100).toFixed(0)} %, pg-boss ${((median(ceiling.map((r) => r.bossE)) / raw) * 100).toFixed(0)} % of it`);
}

const client = new pg.Client({ connectionString: baseUrl });
await client.connect();
await client.query(`DROP SCHEMA IF EXISTS "${tqSchema}" CASCADE`);
await client.query(`DROP SCHEMA IF EXISTS "${bossSchema}" CASCADE`);
await client.end();
