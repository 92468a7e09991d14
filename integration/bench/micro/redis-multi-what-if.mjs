#!/usr/bin/env node
/**
 * What-if experiment behind the Redis proposals: runs the tq drain scenario twice in fresh
 * processes, once as shipped and once with ioredis' multi() replaced by the same commands sent
 * one by one (so ioredis auto-pipelines them with everything else in the tick, as it does for
 * single commands on @tq/redis's command connection). The adapter uses MULTI for every publish
 * (LPUSH), every ack (ZREM + HDEL) and every stored result (SET + PUBLISH); the difference
 * between the two runs is what those transactions cost. Atomicity is dropped here, so this is a
 * measurement, not a patch: the proposal is a Lua script via defineCommand (EVALSHA, which
 * auto-pipelines) where atomicity matters, and plain commands where it does not.
 *
 *   node integration/bench/micro/redis-multi-what-if.mjs [--rounds 3] [--tasks 20000] [--concurrency 10] [--results ignored|stored]
 * The variants alternate for --rounds rounds; the medians are printed last (runs on a shared
 * 2-core machine vary by ±30 %, so read the medians, not one pair).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, tasks: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '10' }, results: { type: 'string', default: 'ignored' }, variant: { type: 'string' } },
});
const spec = { broker: 'redis', tasks: Number(values.tasks), window: 500, concurrency: Number(values.concurrency), results: values.results, timeoutMs: 180_000 };

if (values.variant) {
  if (values.variant === 'no-multi') {
    const { Redis } = await import('ioredis');
    const separateCommands = (client) => {
      const calls = [];
      const transaction = new Proxy(
        {},
        {
          get(_, name) {
            if (name === 'exec') return () => Promise.all(calls.map(([command, args]) => client[command](...args).then((reply) => [null, reply], (error) => [error, null])));
            return (...args) => {
              calls.push([name, args]);
              return transaction;
            };
          },
        },
      );
      return transaction;
    };
    Redis.prototype.multi = function multiAsSeparateCommands() {
      return separateCommands(this);
    };
  }
  const { drain } = await import('../systems/tq.mjs');
  console.log(JSON.stringify(await drain(spec)));
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const seen = { 'as-shipped': { drain: [], enqueue: [] }, 'no-multi': { drain: [], enqueue: [] } };
for (let round = 0; round < Number(values.rounds); round++) {
  for (const variant of ['as-shipped', 'no-multi']) {
    const run = spawnSync(process.execPath, [self, '--variant', variant, '--tasks', values.tasks, '--concurrency', values.concurrency, '--results', values.results], { encoding: 'utf8' });
    const figures = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
    const enqueue = (spec.tasks * 1000) / figures.fillMs;
    seen[variant].drain.push(figures.rate);
    seen[variant].enqueue.push(enqueue);
    console.log(`${variant.padEnd(11)} drain ${spec.tasks} c=${spec.concurrency} results ${spec.results}: ${Math.round(figures.rate)} tasks/s (enqueue of the same tasks: ${Math.round(enqueue)} tasks/s)`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [variant, { drain, enqueue }] of Object.entries(seen)) {
  console.log(`median ${variant.padEnd(11)} drain ${Math.round(median(drain))} tasks/s, enqueue ${Math.round(median(enqueue))} tasks/s`);
}
