#!/usr/bin/env node
/**
 * npm run bench — tq end to end against BullMQ and the raw client ceiling on each broker, in the
 * same run, on the same servers. A report, not a test: nothing here fails on a timing.
 *
 *   npm run bench                                  all brokers that answer, 50 000 tasks per drain
 *   npm run bench -- --quick                       5 000 tasks, drains at concurrency 10 with results ignored
 *   npm run bench -- --brokers redis,amqp --tasks 20000 --json /tmp/bench.json
 *
 * Flags: --brokers list (redis, amqp, nats, kafka; default: every one that answers),
 * --tasks N (per enqueue/drain scenario), --quick, --latency-seconds S (default 10, quick 3),
 * --concurrency 1,10,100 (drain; at 1, a fifth of the tasks), --no-build (use the packages' dist as it is), --json FILE.
 *
 * Each scenario runs in a fresh child process (scenario.mjs) on fresh queue names, streams or
 * topics (Kafka: a fresh mock cluster unless TQ_TEST_KAFKA_BROKERS is set), removed afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brokerAvailable, brokerNames } from './lib/endpoints.mjs';
import { label, printReport } from './lib/report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

const { values: flags } = parseArgs({
  options: {
    brokers: { type: 'string' },
    tasks: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'latency-seconds': { type: 'string' },
    concurrency: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const quick = flags.quick;
const tasks = Number(flags.tasks ?? (quick ? 5_000 : 50_000));
const latencySeconds = Number(flags['latency-seconds'] ?? (quick ? 3 : 10));
const concurrencies = (flags.concurrency ?? (quick ? '10' : '1,10,100')).split(',').map(Number);
// At concurrency 1 a worker runs one task at a time: a fifth of the tasks gives the same steady
// rate in a fifth of the time, which keeps the default run near ten minutes.
const serialTasks = Math.min(tasks, Math.max(1_000, Math.round(tasks / 5)));
const window = 500; // sends in flight while enqueueing
const latencyRate = 200; // tasks/s
const latencyConcurrency = 10;

if (!flags['no-build']) {
  // Plain Node resolves @tq/* to dist: build what the bench imports.
  const projects = ['core', 'redis', 'amqp', 'nats', 'kafka'].map((p) => join(root, 'packages', p, 'tsconfig.lib.json'));
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b', ...projects], { stdio: 'inherit', cwd: root });
}

const requested = flags.brokers ? flags.brokers.split(',').map((s) => s.trim()) : brokerNames;
const brokers = [];
for (const name of requested) {
  const available = await brokerAvailable(name);
  if (available === true) brokers.push(name);
  else console.log(`skipping ${name}: ${available}`);
}

/** The scenarios of one broker, in the order they run. */
function plan(broker) {
  const systems = broker === 'redis' ? ['tq', 'bullmq', 'raw'] : ['tq', 'raw'];
  const specs = [];
  for (const system of systems) specs.push({ system, broker, kind: 'enqueue', tasks, window });
  // --quick: results ignored only, to stay near two minutes for all four brokers.
  for (const results of quick ? ['ignored'] : ['ignored', 'stored']) {
    for (const concurrency of concurrencies) {
      const n = Math.min(concurrency === 1 ? serialTasks : tasks, drainCap(broker));
      const partitions = drainPartitions(broker);
      for (const system of systems) {
        specs.push({ system, broker, kind: 'drain', tasks: n, window, concurrency, results, timeoutMs: drainTimeoutMs(n), ...(partitions > 1 ? { partitions } : {}) });
      }
    }
  }
  for (const system of systems) {
    specs.push({ system, broker, kind: 'latency', rate: latencyRate, durationMs: latencySeconds * 1000, concurrency: latencyConcurrency, timeoutMs: 30_000 });
  }
  return specs;
}

/**
 * The librdkafka mock keeps about 5 MB per partition and drops the oldest messages beyond it,
 * so a drain larger than that would wait for messages that no longer exist (measured: 8 500 of
 * 10 000 tq-sized messages survive). Drains on the mock therefore spread their tasks over
 * `drainPartitions` partitions of at most 6 000 tasks each, for tq and the raw client alike:
 * a drain of one 6 000-task partition lasts ~50 ms for the raw client and measures start-up
 * (JIT, first fetches) more than throughput. A real cluster (TQ_TEST_KAFKA_BROKERS) has no cap
 * and drains one partition.
 */
const mockPartitionTasks = 6_000;
const mockDrainPartitions = 8;

function onKafkaMock(broker) {
  return broker === 'kafka' && !process.env.TQ_TEST_KAFKA_BROKERS;
}

function drainPartitions(broker) {
  return onKafkaMock(broker) ? mockDrainPartitions : 1;
}

function drainCap(broker) {
  return onKafkaMock(broker) ? mockPartitionTasks * mockDrainPartitions : Number.POSITIVE_INFINITY;
}

/** Long enough for a slow run at 200 tasks/s, short enough that a stuck one cannot eat the budget. */
function drainTimeoutMs(n) {
  return Math.min(180_000, Math.max(30_000, (n / 200) * 1000));
}

function runScenario(spec) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, 'scenario.mjs'), JSON.stringify(spec)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH-RESULT '));
      if (line) return resolve(JSON.parse(line.slice('BENCH-RESULT '.length)));
      resolve({ ok: false, error: `exited (${code ?? signal}) without figures: ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
    });
  });
}

function describe(figures) {
  if (!figures.ok) return `failed: ${figures.error}`;
  if (figures.p50 !== undefined) return `p50 ${figures.p50.toFixed(1)} ms, p99 ${figures.p99.toFixed(1)} ms (${figures.samples}/${figures.expected})`;
  const partial = figures.completed !== undefined && figures.completed < figures.expected ? ` PARTIAL ${figures.completed}/${figures.expected}` : '';
  return `${Math.round(figures.rate)} tasks/s${partial}`;
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`tq bench: ${tasks} tasks per enqueue/drain (${serialTasks} at concurrency 1), drain concurrency ${concurrencies.join('/')}, latency ${latencyRate}/s for ${latencySeconds} s at c=${latencyConcurrency}`);
console.log(`machine: ${availableParallelism()} × ${cpu}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const started = performance.now();
const results = [];
for (const broker of brokers) {
  for (const spec of plan(broker)) {
    const t0 = performance.now();
    const figures = await runScenario(spec);
    results.push({ spec, figures });
    console.log(`  ${broker.padEnd(5)} ${spec.system.padEnd(6)} ${label(spec).padEnd(34)} ${describe(figures)}  [${((performance.now() - t0) / 1000).toFixed(1)} s]`);
  }
}
const checks = printReport(results, brokers);
console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s; load average now ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other work on the machine skews every figure)`);
if (flags.json) {
  writeFileSync(flags.json, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: availableParallelism(), cpu, tasks, concurrencies, latencySeconds, results, checks }, null, 2)}\n`);
  console.log(`figures written to ${flags.json}`);
}
