#!/usr/bin/env node
/**
 * npm run bench — tq end to end against BullMQ and the raw client ceiling on each broker, in the
 * same run, on the same servers. A report, not a test: nothing here fails on a timing.
 *
 *   npm run bench                                  all brokers that answer, 50 000 tasks per drain
 *   npm run bench -- --quick                       5 000 tasks, fewer configurations (< 2 min)
 *   npm run bench -- --brokers redis,amqp --tasks 20000 --json /tmp/bench.json
 *
 * Flags: --brokers list (redis, amqp, nats, kafka; default: every one that answers),
 * --tasks N (per enqueue/drain scenario), --quick, --latency-seconds S (default 10, quick 5),
 * --concurrency 1,10,100 (drain), --no-build (use the packages' dist as it is), --json FILE.
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
const latencySeconds = Number(flags['latency-seconds'] ?? (quick ? 5 : 10));
const concurrencies = (flags.concurrency ?? (quick ? '10,100' : '1,10,100')).split(',').map(Number);
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
  for (const results of ['ignored', 'stored']) {
    for (const concurrency of concurrencies) {
      // --quick keeps one stored configuration: the rest of the matrix is the full run's job.
      if (quick && results === 'stored' && concurrency !== concurrencies[0]) continue;
      for (const system of systems) specs.push({ system, broker, kind: 'drain', tasks, window, concurrency, results, timeoutMs: drainTimeoutMs() });
    }
  }
  for (const system of systems) {
    specs.push({ system, broker, kind: 'latency', rate: latencyRate, durationMs: latencySeconds * 1000, concurrency: latencyConcurrency, timeoutMs: 30_000 });
  }
  return specs;
}

/** Long enough for a slow run at 200 tasks/s, short enough that a stuck one cannot eat the budget. */
function drainTimeoutMs() {
  return Math.min(180_000, Math.max(30_000, (tasks / 200) * 1000));
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
console.log(`tq bench: ${tasks} tasks per enqueue/drain, drain concurrency ${concurrencies.join('/')}, latency ${latencyRate}/s for ${latencySeconds} s at c=${latencyConcurrency}`);
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
