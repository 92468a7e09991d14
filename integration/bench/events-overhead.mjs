#!/usr/bin/env node
/**
 * What Celery events cost a worker: interleaved pairs of Redis drains (c=10, results stored),
 * events off and on (as `tq worker -E`), the order alternating from pair to pair, each drain in
 * its own process (profile-drain.mjs). Nothing reads the events here: a monitor runs on another
 * machine, and one on this 2-core machine would take its CPU from the worker. Prints each pair
 * and the median ratio with its range; the target (issue #12) is events on at most 10 % slower.
 * Each drain first runs --warmup untimed tasks (profile-drain.mjs's default, 8,000, unless given).
 *
 *   node integration/bench/events-overhead.mjs [--pairs 5] [--tasks 20000] [--broker redis] [--warmup 80000]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    pairs: { type: 'string', default: '5' },
    tasks: { type: 'string', default: '20000' },
    broker: { type: 'string', default: 'redis' },
    concurrency: { type: 'string', default: '10' },
    warmup: { type: 'string' },
  },
});
const drain = fileURLToPath(new URL('./profile-drain.mjs', import.meta.url));

function run(events) {
  const args = [drain, '--broker', flags.broker, '--tasks', flags.tasks, '--concurrency', flags.concurrency, '--stored', ...(flags.warmup ? ['--warmup', flags.warmup] : []), ...(events ? ['--events'] : [])];
  const line = execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n').at(-1);
  const rate = Number(/([\d.]+) tasks\/s/.exec(line)?.[1]);
  const cpu = Number(/CPU ([\d.]+) µs per task/.exec(line)?.[1]);
  if (!rate) throw new Error(`no rate in: ${line}`);
  return { rate, cpu, line };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ratios = [];
const cpuRatios = [];
for (let pair = 1; pair <= Number(flags.pairs); pair++) {
  // Off first in odd pairs, on first in even ones: what drifts over the run, or favours the
  // second of two back-to-back drains, weighs on both.
  let off, on;
  if (pair % 2 === 1) {
    off = run(false);
    on = run(true);
  } else {
    on = run(true);
    off = run(false);
  }
  ratios.push(on.rate / off.rate);
  cpuRatios.push(on.cpu / off.cpu);
  console.log(`pair ${pair}: off ${off.rate}/s (${off.cpu} µs/task), on ${on.rate}/s (${on.cpu} µs/task): ${(on.rate / off.rate).toFixed(2)}×`);
}
const low = Math.min(...ratios);
const high = Math.max(...ratios);
console.log(
  `${flags.broker} drain c=${flags.concurrency}, results stored, events on / off: median ${median(ratios).toFixed(2)}× rate (range ${low.toFixed(2)}–${high.toFixed(2)}), ` +
    `median ${median(cpuRatios).toFixed(2)}× CPU per task; target ≥ 0.90× rate`,
);
