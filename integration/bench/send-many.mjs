#!/usr/bin/env node
/**
 * Bulk send on Redis (issue #15): tq's app.sendMany() against tq's single send (one awaited
 * sendTask after another, the way a request handler enqueues) and against BullMQ's add / addBulk,
 * all on the same Redis in the same run, in alternating rounds. Prints each round and the median
 * rates and ratios; the target is sendMany ≥ 3× tq's single send and ≥ BullMQ addBulk.
 *
 *   node integration/bench/send-many.mjs [--tasks 20000] [--rounds 3]
 */
import { createApp } from '@tq/core';
import redisAdapter from '@tq/redis';
import { Queue } from 'bullmq';
import { parseArgs } from 'node:util';
import { redisBrokerUrl } from './lib/endpoints.mjs';
import { uniqueName } from './lib/measure.mjs';

const { values: flags } = parseArgs({ options: { tasks: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } } });
const tasks = Number(flags.tasks);
const chunk = 1000;

function bullConnection() {
  const url = new URL(redisBrokerUrl);
  return { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0), maxRetriesPerRequest: null };
}

async function tqRun(mode) {
  const queue = uniqueName('tqbench-bulk-');
  const app = createApp({ broker: redisBrokerUrl, resultBackend: null, adapters: [redisAdapter], logLevel: 'silent', defaultQueue: queue });
  await app.broker();
  try {
    const started = performance.now();
    if (mode === 'single') {
      for (let i = 0; i < tasks; i++) await app.sendTask('bench.noop', [i, i + 1]);
    } else {
      await app.sendMany(Array.from({ length: tasks }, (_, i) => ({ name: 'bench.noop', args: [i, i + 1] })));
    }
    const ms = performance.now() - started;
    const { ready } = await app.queueStats(queue);
    if (ready !== tasks) throw new Error(`tq ${mode}: ${ready} of ${tasks} enqueued`);
    return (tasks * 1000) / ms;
  } finally {
    await app.purge(queue);
    await app.close();
  }
}

async function bullRun(mode) {
  const queue = new Queue(uniqueName('tqbench-bullmq-bulk-'), { connection: bullConnection() });
  await queue.waitUntilReady();
  try {
    const started = performance.now();
    if (mode === 'single') {
      for (let i = 0; i < tasks; i++) await queue.add('noop', { args: [i, i + 1] }, { removeOnComplete: true });
    } else {
      for (let start = 0; start < tasks; start += chunk) {
        await queue.addBulk(Array.from({ length: Math.min(chunk, tasks - start) }, (_, j) => ({ name: 'noop', data: { args: [start + j, start + j + 1] }, opts: { removeOnComplete: true } })));
      }
    }
    const ms = performance.now() - started;
    const waiting = await queue.getWaitingCount();
    if (waiting !== tasks) throw new Error(`bullmq ${mode}: ${waiting} of ${tasks} enqueued`);
    return (tasks * 1000) / ms;
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rates = { tqSingle: [], tqMany: [], bullAdd: [], bullBulk: [] };
for (let round = 1; round <= Number(flags.rounds); round++) {
  rates.tqSingle.push(await tqRun('single'));
  rates.tqMany.push(await tqRun('many'));
  rates.bullAdd.push(await bullRun('single'));
  rates.bullBulk.push(await bullRun('bulk'));
  const last = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(v.at(-1))]));
  console.log(`round ${round}: tq sendTask ${last.tqSingle}/s, tq sendMany ${last.tqMany}/s, BullMQ add ${last.bullAdd}/s, BullMQ addBulk ${last.bullBulk}/s`);
}
const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
console.log(
  `redis, ${tasks} tasks, median of ${flags.rounds}: tq sendMany ${Math.round(m.tqMany)}/s = ${(m.tqMany / m.tqSingle).toFixed(1)}× tq sendTask (${Math.round(m.tqSingle)}/s; target ≥ 3×), ` +
    `${(m.tqMany / m.bullBulk).toFixed(2)}× BullMQ addBulk (${Math.round(m.bullBulk)}/s; target ≥ 1×); BullMQ add ${Math.round(m.bullAdd)}/s`,
);
