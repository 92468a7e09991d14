// Workflows against Celery 5.2, same Redis broker and Redis result backend, same run:
// CHAINS 10-step chains one after the other (latency: each waits for the previous one's
// result), PARALLEL 10-step chains sent at once and then awaited (throughput), and one chord of
// MEMBERS header tasks, end to end (send → last result read back by the producer's own client).
// tq: producer and async worker in this process; Celery: `celery worker -P prefork` and a Python
// producer. Same concurrency and the same prefetch multiplier (4, both defaults: the interop
// celery_app.py sets 1, which would hold Celery to a quarter of tq's window) for both.
// Both workers stay up for the whole run and the sides take turns, workflow by workflow, for
// ROUNDS rounds; the table shows medians. (On a shared machine the load drifts: timing all of tq,
// then all of Celery, once measured one side on a quiet machine and the other on a busy one.)
// Each timed workflow follows one untimed chain in the same producer, so none times connecting.
// usage: node integration/bench/canvas.mjs [--chains 20] [--parallel 50] [--members 1000] [--concurrency 2] [--rounds 3]
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chain, chord, createApp } from '@tq/core';
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';
import { redisBrokerUrl } from './lib/endpoints.mjs';

const { values } = parseArgs({
  options: {
    chains: { type: 'string', default: '20' },
    parallel: { type: 'string', default: '50' },
    members: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
  },
});
const counts = { chain: Number(values.chains), parallel: Number(values.parallel), chord: Number(values.members) };
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const url = redisBrokerUrl;
const python = process.env.TQ_PYTHON ?? '/usr/bin/python3';
const interopDir = fileURLToPath(new URL('../celery-interop/redis/', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));

/** tq's side: a worker and a producer in this process; measure(workflow) → seconds. */
async function startTq(queue) {
  const app = createApp({ broker: url, resultBackend: url, adapters: [redisAdapter], defaultQueue: queue, logLevel: 'warn' });
  app.task('tq.add', (a, b) => a + b);
  app.task('tq.xsum', (v) => v.reduce((x, y) => x + y, 0));
  const worker = app.worker({ concurrency });
  await worker.start();
  const sig = (name, ...args) => app.signature(name, args);
  const tenSteps = () => chain(sig('tq.add', 0, 1), ...Array.from({ length: 9 }, () => sig('tq.add', 1)));
  const check = (value) => {
    if (value !== 10) throw new Error(`chain gave ${value}`);
  };
  const workflows = {
    chain: async (n) => {
      for (let i = 0; i < n; i++) check(await (await tenSteps().applyAsync()).get({ timeout: 120_000 }));
    },
    parallel: async (n) => {
      const sent = [];
      for (let i = 0; i < n; i++) sent.push(await tenSteps().applyAsync());
      for (const result of sent) check(await result.get({ timeout: 120_000 }));
    },
    chord: async (n) => {
      const total = await (await chord(Array.from({ length: n }, (_, i) => sig('tq.add', i, i)), sig('tq.xsum')).applyAsync()).get({ timeout: 600_000 });
      if (total !== n * (n - 1)) throw new Error(`chord gave ${total}`);
    },
  };
  return {
    async measure(workflow) {
      check(await (await tenSteps().applyAsync()).get({ timeout: 120_000 }));
      const started = performance.now();
      await workflows[workflow](counts[workflow]);
      return (performance.now() - started) / 1000;
    },
    async stop() {
      await worker.stop();
      await app.close();
    },
  };
}

function pythonEnv(queue) {
  return { ...process.env, TQ_INTEROP_REDIS_URL: url, TQ_INTEROP_QUEUE: queue, TQ_INTEROP_CUSTOM_QUEUE: `${queue}.unused`, PYTHONDONTWRITEBYTECODE: '1' };
}

/** Celery's side: a prefork worker; measure(workflow) runs canvas_celery.py, which times it. */
async function startCelery(queue) {
  const worker = spawn(python, ['-m', 'celery', '-A', 'celery_app', 'worker', '-P', 'prefork', '-c', String(concurrency), '--prefetch-multiplier', '4', '-Q', queue, '-n', `bench-${queue}@%h`, '--without-mingle', '--without-gossip', '--without-heartbeat', '-l', 'WARNING'], { cwd: interopDir, env: pythonEnv(queue), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  worker.stdout.on('data', (d) => (log += d));
  worker.stderr.on('data', (d) => (log += d));
  // -l WARNING prints no "ready": wait until it consumes (a ping through the queue).
  const ping = spawn(python, ['-c', `from celery_app import app\nprint(app.send_task('tq.add', args=(1, 1)).get(timeout=60))`], { cwd: interopDir, env: pythonEnv(queue) });
  await new Promise((resolve, reject) => ping.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`celery worker not ready:\n${log}`)))));
  return {
    async measure(workflow) {
      const producer = spawn(python, [`${here}canvas_celery.py`, workflow, String(counts[workflow])], { cwd: interopDir, env: pythonEnv(queue), stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      producer.stdout.on('data', (d) => (out += d));
      const code = await new Promise((resolve) => producer.once('exit', resolve));
      if (code !== 0) throw new Error(`canvas_celery.py exited with ${code}\n${log}`);
      return JSON.parse(out.trim().split('\n').pop()).seconds;
    },
    async stop() {
      worker.kill('SIGTERM');
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const run = randomUUID().slice(0, 8);
const queues = [`bench-canvas-tq-${run}`, `bench-canvas-celery-${run}`];
const sides = [];
try {
  sides.push(await startTq(queues[0]), await startCelery(queues[1]));
  const [tq, celery] = sides;
  const times = { chain: { tq: [], celery: [] }, parallel: { tq: [], celery: [] }, chord: { tq: [], celery: [] } };
  for (let round = 0; round < rounds; round++) {
    for (const workflow of Object.keys(times)) {
      times[workflow].tq.push(await tq.measure(workflow));
      times[workflow].celery.push(await celery.measure(workflow));
    }
  }
  if (process.env.TQ_BENCH_RAW) console.log(JSON.stringify(times));
  const names = { chain: `${counts.chain} × 10-step chain, one at a time`, parallel: `${counts.parallel} × 10-step chain, all at once`, chord: `chord of ${counts.chord}` };
  console.log(`canvas on Redis (broker and results), concurrency ${concurrency}, ${rounds} rounds taking turns, medians`);
  console.log('| workflow | Celery 5.2 s | tq s | tq speed-up |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [workflow, t] of Object.entries(times)) {
    const [c, q] = [median(t.celery), median(t.tq)];
    console.log(`| ${names[workflow]} | ${c.toFixed(2)} | ${q.toFixed(2)} | ${(c / q).toFixed(2)}× |`);
  }
} finally {
  for (const side of sides) await side.stop().catch(() => undefined);
  const client = new Redis(url);
  await client.del(...queues.flatMap((q) => [q, `_kombu.binding.${q}`, `${q}.unused`, `_kombu.binding.${q}.unused`]));
  client.disconnect();
}
