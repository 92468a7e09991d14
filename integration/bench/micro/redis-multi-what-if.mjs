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
 *   node integration/bench/micro/redis-multi-what-if.mjs [--tasks 20000] [--concurrency 10] [--results ignored|stored]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { tasks: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '10' }, results: { type: 'string', default: 'ignored' }, variant: { type: 'string' } },
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
for (const variant of ['as-shipped', 'no-multi', 'as-shipped', 'no-multi']) {
  const run = spawnSync(process.execPath, [self, '--variant', variant, '--tasks', values.tasks, '--concurrency', values.concurrency, '--results', values.results], { encoding: 'utf8' });
  const figures = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
  console.log(`${variant.padEnd(11)} drain ${spec.tasks} c=${spec.concurrency} results ${spec.results}: ${Math.round(figures.rate)} tasks/s (enqueue of the same tasks: ${Math.round((spec.tasks * 1000) / figures.fillMs)} tasks/s)`);
}
