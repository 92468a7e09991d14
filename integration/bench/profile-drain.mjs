#!/usr/bin/env node
/**
 * One tq drain in this process, measured for profiling rather than comparison: fills a queue,
 * then times a worker draining it and reports the rate and the CPU spent per task from the end
 * of the warm-up to the last completion (user + system, every thread of the process).
 * Optionally writes a CPU profile (for profile-summary.mjs) or an allocation profile of that
 * part alone.
 *
 *   node integration/bench/profile-drain.mjs --broker redis --tasks 30000 --concurrency 10 [--stored] [--events]
 *     [--payload-bytes 300] [--prefetch-multiplier 4] [--partitions 8 (Kafka)] [--cpu-profile /tmp/drain.cpuprofile] [--heap-profile /tmp/drain.heapprofile]
 *     [--heap-spaces] [--warmup 8000]
 *
 * --warmup N: the queue holds N more tasks, and the clock (and any profile) starts after the Nth
 * completion, once V8 has compiled the hot code (a drain's rate doubles over its first few
 * thousand tasks; docs/benchmarks.md, "Warm-up"). Default 8000, 0 on Kafka's mock (its
 * partitions hold ~6,000 tasks each).
 * --heap-profile samples every allocation of the drain (profile-summary.mjs reads it).
 * --heap-spaces prints what lib/heap-watch.mjs sees during the drain: the peaks of V8's new and
 * old spaces and of the RSS, the collections, and the bytes the scavenges promoted.
 *
 * --events runs the worker with Celery events on (as `tq worker -E`); --events-reader adds a
 * reader of every event in this process (a monitor such as Flower runs in its own: the reader's
 * decoding then counts against the worker). events-overhead.mjs pairs it with a run without.
 *
 * Uses the packages' dist (run `npm run bench` or `tsc -b` first); brokers as in lib/endpoints.mjs.
 * A single figure moves by ±10 % between runs on a shared machine: compare medians of a few runs.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { watchHeap } from './lib/heap-watch.mjs';
import { usePayloadBytes } from './lib/payload.mjs';
import { fillQueue, openTqApp, tqTarget } from './lib/tq-targets.mjs';

const { values: flags } = parseArgs({
  options: {
    broker: { type: 'string', default: 'redis' },
    tasks: { type: 'string', default: '30000' },
    concurrency: { type: 'string', default: '10' },
    stored: { type: 'boolean', default: false },
    'prefetch-multiplier': { type: 'string' },
    partitions: { type: 'string', default: '1' },
    'cpu-profile': { type: 'string' },
    'heap-profile': { type: 'string' },
    'heap-spaces': { type: 'boolean', default: false },
    events: { type: 'boolean', default: false },
    'events-reader': { type: 'boolean', default: false },
    'payload-bytes': { type: 'string', default: '300' },
    warmup: { type: 'string' },
  },
});
usePayloadBytes(Number(flags['payload-bytes']));
const tasks = Number(flags.tasks);
const concurrency = Number(flags.concurrency);
const ignoreResult = !flags.stored;
const warmup = Number(flags.warmup ?? (flags.broker === 'kafka' ? 0 : 8000));

const target = await tqTarget(flags.broker, { partitions: Number(flags.partitions) });
const { ids } = await fillQueue(target, { count: tasks + warmup, window: 500, ignoreResult });

const session = new Session();
session.connect();
const workerApp = openTqApp(target);
// A reader of every event, as a monitor would run: the events are really delivered, not dropped unread.
const monitor = new AbortController();
let eventsSeen = 0;
if (flags['events-reader']) {
  void (async () => {
    for await (const _event of workerApp.events({ signal: monitor.signal })) eventsSeen++;
  })().catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const worker = workerApp.worker({
  queues: [target.queue],
  concurrency,
  events: flags.events,
  ...(flags['prefetch-multiplier'] ? { prefetchMultiplier: Number(flags['prefetch-multiplier']) } : {}),
});
const heap = watchHeap();
let completed = 0;
let firstAt = 0;
let cpuAtFirst;
let finish;
const finished = new Promise((resolve) => (finish = resolve));
worker.on('task-succeeded', () => {
  if (completed === warmup) {
    // From the end of the warm-up (or the first completion): connection set-up, (Kafka) the
    // group join and the first compilations are left out.
    firstAt = performance.now();
    cpuAtFirst = process.cpuUsage();
    if (flags['cpu-profile']) void session.post('Profiler.enable').then(() => session.post('Profiler.start'));
    if (flags['heap-profile']) {
      void session
        .post('HeapProfiler.enable')
        .then(() => session.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true }));
    }
    if (flags['heap-spaces']) heap.start();
  }
  if (++completed === tasks + warmup) finish();
});
await worker.start();
await finished;
const ms = performance.now() - firstAt;
const cpu = process.cpuUsage(cpuAtFirst);
if (flags['cpu-profile']) writeFileSync(flags['cpu-profile'], JSON.stringify((await session.post('Profiler.stop')).profile));
if (flags['heap-profile']) writeFileSync(flags['heap-profile'], JSON.stringify((await session.post('HeapProfiler.stopSampling')).profile));
const perTask = (micros) => (micros / tasks).toFixed(1);
console.log(
  `${flags.broker} drain of ${tasks} at c=${concurrency}, results ${ignoreResult ? 'ignored' : 'stored'}: ` +
    `${Math.round(((tasks - 1) * 1000) / ms)} tasks/s, CPU ${perTask(cpu.user + cpu.system)} µs per task (user ${perTask(cpu.user)}, system ${perTask(cpu.system)})` +
    (flags.events ? `, events on${flags['events-reader'] ? ` (${eventsSeen} read here)` : ''}` : ''),
);
if (flags['heap-spaces']) console.log(heap.stop(tasks));
monitor.abort();
await worker.stop();
await workerApp.close();
await target.cleanup(ids);
session.disconnect();
