#!/usr/bin/env node
/**
 * tq's enqueue on Redis in this process, measured for profiling rather than comparison: after a
 * warm-up of --warmup sends (default 5,000), times N sends and reports the rate and the CPU spent
 * per task (user + system, every thread of the process). Optionally writes a CPU profile (for
 * profile-summary.mjs).
 *
 *   node integration/bench/profile-send.mjs [--mode single|bulk] [--tasks 40000] [--payload-bytes 300] [--warmup 5000] [--cpu-profile /tmp/send.cpuprofile]
 *     [--heap-profile /tmp/send.heapprofile]
 *
 * single: sendTask with 100 in flight (the pairs' "redis enqueue, 100 in flight");
 * bulk: sendMany with 1,000 calls a call (the pairs' "redis bulk enqueue, batches of 1000").
 * Uses the packages' dist. A single figure moves by ±10 % between runs: compare medians of
 * interleaved runs.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { runInFlight } from './lib/measure.mjs';
import { noopTask, taskArgs, usePayloadBytes } from './lib/payload.mjs';
import { openTqApp, tqTarget } from './lib/tq-targets.mjs';

const { values: flags } = parseArgs({
  options: {
    mode: { type: 'string', default: 'single' },
    tasks: { type: 'string', default: '40000' },
    'payload-bytes': { type: 'string', default: '300' },
    warmup: { type: 'string', default: '5000' },
    'cpu-profile': { type: 'string' },
    'heap-profile': { type: 'string' },
  },
});
usePayloadBytes(Number(flags['payload-bytes']));
const tasks = Number(flags.tasks);
const target = await tqTarget('redis');
const producer = openTqApp(target);
const options = { queue: target.queue, ignoreResult: true };

const sends = {
  single: (count) => runInFlight(count, 100, (i) => producer.sendTask(noopTask, taskArgs(i), {}, options)),
  bulk: async (count) => {
    for (let start = 0; start < count; start += 1000) {
      const calls = [];
      for (let i = start; i < Math.min(count, start + 1000); i++) calls.push({ name: noopTask, args: taskArgs(i), options });
      await producer.sendMany(calls);
    }
  },
};
const send = sends[flags.mode];
if (!send) throw new Error(`--mode is single or bulk, not ${flags.mode}`);

try {
  await send(Number(flags.warmup)); // connects and warms up
  const session = new Session();
  session.connect();
  if (flags['cpu-profile']) {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  if (flags['heap-profile']) {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  }
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await send(tasks);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  if (flags['cpu-profile']) writeFileSync(flags['cpu-profile'], JSON.stringify((await session.post('Profiler.stop')).profile));
  if (flags['heap-profile']) writeFileSync(flags['heap-profile'], JSON.stringify((await session.post('HeapProfiler.stopSampling')).profile));
  session.disconnect();
  console.log(`redis ${flags.mode} send of ${tasks}: ${Math.round((tasks * 1000) / ms)} tasks/s, CPU ${((cpu.user + cpu.system) / tasks).toFixed(1)} µs per task`);
} finally {
  await producer.close();
  await target.cleanup([]);
}
