#!/usr/bin/env node
/**
 * What a cluster-wide rate limit (rateLimitScope: 'cluster', one Redis script call per task run)
 * costs a worker, against the same task with a per-process limit and with no limit: drains of
 * a pre-filled Redis queue (c=10, results stored), the three kinds interleaved per round, the
 * limit set far above the drain rate. The baseline for the cluster scope is the per-process
 * limit at the same rate: a 1-token bucket makes both hold a task whose token falls in the same
 * millisecond as the previous one, which dominates both against no limit at all.
 *
 *   node integration/bench/cluster-rate-limit.mjs [--rounds 3] [--tasks 3000] [--redis redis://127.0.0.1:6379/15]
 */
import { parseArgs } from 'node:util';
import { createApp } from '@tq/core';
import redis from '@tq/redis';
import { Redis } from 'ioredis';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    tasks: { type: 'string', default: '3000' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379/15' },
  },
});
const prefix = `tq-bench-rate-${process.pid}:`;
const url = new URL(flags.redis);
url.searchParams.set('global_keyprefix', prefix);
const tasks = Number(flags.tasks);

async function drain(kind, round) {
  const queue = `bench-${kind}-${round}`;
  const app = createApp({ broker: url.href, resultBackend: url.href, adapters: [redis], logLevel: 'silent' });
  const options = kind === 'none' ? {} : { rateLimit: '1000000/s', rateLimitScope: kind };
  let done = 0;
  let finished;
  const all = new Promise((resolve) => (finished = resolve));
  app.task('bench.noop', () => {
    if (++done === tasks) finished();
    return 1;
  }, options);
  for (let i = 0; i < tasks; i += 100) await Promise.all(Array.from({ length: Math.min(100, tasks - i) }, () => app.sendTask('bench.noop', [], {}, { queue })));
  const worker = app.worker({ queues: [queue], concurrency: 10 });
  const started = performance.now();
  await worker.start();
  await all;
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  await app.close();
  return tasks / seconds;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rates = { none: [], process: [], cluster: [] };
for (let round = 1; round <= Number(flags.rounds); round++) {
  for (const kind of ['none', 'process', 'cluster']) rates[kind].push(await drain(kind, round));
  console.log(`round ${round}: none ${rates.none.at(-1).toFixed(0)}/s, process ${rates.process.at(-1).toFixed(0)}/s, cluster ${rates.cluster.at(-1).toFixed(0)}/s`);
}
const none = median(rates.none);
console.log(
  `redis drain c=10, ${tasks} tasks, median of ${flags.rounds}: none ${none.toFixed(0)}/s; ` +
    `process limit ${median(rates.process).toFixed(0)}/s, cluster limit ${median(rates.cluster).toFixed(0)}/s: cluster / process ${(median(rates.cluster) / median(rates.process)).toFixed(2)}× ` +
    `(both limits hold tasks whose token falls in the same millisecond: a 1-token bucket, as Celery's)`,
);

const client = new Redis(flags.redis);
let cursor = '0';
do {
  const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length) await client.del(...keys);
} while (cursor !== '0');
client.disconnect();
