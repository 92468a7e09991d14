#!/usr/bin/env node
/**
 * How a tq worker's drain rate climbs as it runs: one Redis drain in this process, reported in
 * chunks of completions, each with its rate, the CPU it took (user and system apart, µs a task)
 * and the socket writes and reads of the process per task (/proc/self/io). Then, with
 * --second, a second worker in the same process on new connections: what a warm process keeps
 * (compiled code) and what a new worker starts over (its connections, its objects).
 *
 *   node integration/bench/warmup-curve.mjs [--tasks 100000] [--chunk 10000] [--concurrency 10]
 *     [--stored] [--second 40000] [--payload-bytes 300]
 *
 * The queue is filled before each worker starts, in this process (the producer is closed first).
 * Read the shape, not one chunk: a chunk of 10,000 takes ~0.3 s and moves with the host.
 * docs/benchmarks.md, "Where the warm-up goes", has runs and what they show.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { usePayloadBytes } from './lib/payload.mjs';
import { fillQueue, openTqApp, tqTarget } from './lib/tq-targets.mjs';

const { values: flags } = parseArgs({
  options: {
    tasks: { type: 'string', default: '100000' },
    chunk: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '10' },
    stored: { type: 'boolean', default: false },
    second: { type: 'string' },
    'payload-bytes': { type: 'string', default: '300' },
  },
});
usePayloadBytes(Number(flags['payload-bytes']));
const chunk = Number(flags.chunk);
const concurrency = Number(flags.concurrency);
const ignoreResult = !flags.stored;

/** The process's write and read system calls so far (Linux). */
function syscalls() {
  const fields = Object.fromEntries(
    readFileSync('/proc/self/io', 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(': ')),
  );
  return { writes: Number(fields.syscw), reads: Number(fields.syscr) };
}

const target = await tqTarget('redis');
const ids = [];

async function drain(label, count) {
  ids.push(...(await fillQueue(target, { count, window: 500, ignoreResult })).ids);
  const workerApp = openTqApp(target);
  try {
    const worker = workerApp.worker({ queues: [target.queue], concurrency });
    let completed = 0;
    let from = { at: performance.now(), cpu: process.cpuUsage(), io: syscalls() };
    let finish;
    const finished = new Promise((resolve) => (finish = resolve));
    worker.on('task-succeeded', () => {
      completed++;
      if (completed % chunk === 0 || completed === count) {
        const to = { at: performance.now(), cpu: process.cpuUsage(), io: syscalls() };
        const n = completed % chunk || chunk;
        const perTask = (value) => (value / n).toFixed(1);
        console.log(
          `${label} ${String(completed).padStart(7)}: ${String(Math.round((n * 1000) / (to.at - from.at))).padStart(6)} tasks/s, ` +
            `CPU user ${perTask(to.cpu.user - from.cpu.user)} system ${perTask(to.cpu.system - from.cpu.system)} µs a task, ` +
            `writes ${((to.io.writes - from.io.writes) / n).toFixed(3)} reads ${((to.io.reads - from.io.reads) / n).toFixed(3)} a task`,
        );
        from = to;
      }
      if (completed === count) finish();
    });
    await worker.start();
    await finished;
    await worker.stop();
  } finally {
    await workerApp.close();
  }
}

console.log(`redis drain, c=${concurrency}, results ${ignoreResult ? 'ignored' : 'stored'}, chunks of ${chunk}`);
try {
  await drain('first ', Number(flags.tasks));
  if (flags.second) await drain('second', Number(flags.second));
} finally {
  await target.cleanup(ids);
}
