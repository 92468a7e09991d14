// Workflows against Celery 5.2, same Redis broker and Redis result backend, same run:
// CHAINS 10-step chains one after the other (latency: each waits for the previous one's
// result), PARALLEL 10-step chains sent at once and then awaited (throughput), and one chord of
// MEMBERS header tasks, end to end (send → last result read back by the producer's own client).
// Each side runs one untimed chain first, so neither times its connecting. tq: producer and
// async worker in this process; Celery: `celery worker -P prefork` and a Python producer. Same
// concurrency and the same prefetch multiplier (4, both defaults: the interop celery_app.py
// sets 1, which would hold Celery to a quarter of tq's window) for both.
// usage: node integration/bench/canvas.mjs [--chains 20] [--parallel 50] [--members 1000] [--concurrency 2]
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chain, chord, createApp } from '@tq/core';
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';
import { redisBrokerUrl } from './lib/endpoints.mjs';

const { values } = parseArgs({ options: { chains: { type: 'string', default: '20' }, parallel: { type: 'string', default: '50' }, members: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '2' } } });
const chains = Number(values.chains);
const parallel = Number(values.parallel);
const members = Number(values.members);
const concurrency = Number(values.concurrency);
const url = redisBrokerUrl;
const python = process.env.TQ_PYTHON ?? '/usr/bin/python3';
const interopDir = fileURLToPath(new URL('../celery-interop/redis/', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));

async function runTq(queue) {
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
  try {
    check(await (await tenSteps().applyAsync()).get({ timeout: 120_000 }));
    let started = performance.now();
    for (let i = 0; i < chains; i++) check(await (await tenSteps().applyAsync()).get({ timeout: 120_000 }));
    const chainS = (performance.now() - started) / 1000;
    started = performance.now();
    const sent = [];
    for (let i = 0; i < parallel; i++) sent.push(await tenSteps().applyAsync());
    for (const result of sent) check(await result.get({ timeout: 120_000 }));
    const parallelS = (performance.now() - started) / 1000;
    started = performance.now();
    const total = await (await chord(Array.from({ length: members }, (_, i) => sig('tq.add', i, i)), sig('tq.xsum')).applyAsync()).get({ timeout: 600_000 });
    if (total !== members * (members - 1)) throw new Error(`chord gave ${total}`);
    return { chain_s: chainS, parallel_s: parallelS, chord_s: (performance.now() - started) / 1000 };
  } finally {
    await worker.stop();
    await app.close();
  }
}

function pythonEnv(queue) {
  return { ...process.env, TQ_INTEROP_REDIS_URL: url, TQ_INTEROP_QUEUE: queue, TQ_INTEROP_CUSTOM_QUEUE: `${queue}.unused`, PYTHONDONTWRITEBYTECODE: '1' };
}

async function runCelery(queue) {
  const worker = spawn(python, ['-m', 'celery', '-A', 'celery_app', 'worker', '-P', 'prefork', '-c', String(concurrency), '--prefetch-multiplier', '4', '-Q', queue, '-n', `bench-${queue}@%h`, '--without-mingle', '--without-gossip', '--without-heartbeat', '-l', 'WARNING'], { cwd: interopDir, env: pythonEnv(queue), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  worker.stdout.on('data', (d) => (log += d));
  worker.stderr.on('data', (d) => (log += d));
  // -l WARNING prints no "ready": wait until it consumes (a ping through the queue).
  const ping = spawn(python, ['-c', `from celery_app import app\nprint(app.send_task('tq.add', args=(1, 1)).get(timeout=60))`], { cwd: interopDir, env: pythonEnv(queue) });
  await new Promise((resolve, reject) => ping.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`celery worker not ready:\n${log}`)))));
  try {
    const producer = spawn(python, [`${here}canvas_celery.py`, String(chains), String(parallel), String(members)], { cwd: interopDir, env: pythonEnv(queue), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    producer.stdout.on('data', (d) => (out += d));
    const code = await new Promise((resolve) => producer.once('exit', resolve));
    if (code !== 0) throw new Error(`canvas_celery.py exited with ${code}\n${log}`);
    return JSON.parse(out.trim().split('\n').pop());
  } finally {
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
  }
}

const run = randomUUID().slice(0, 8);
const queues = [`bench-canvas-tq-${run}`, `bench-canvas-celery-${run}`];
try {
  const tq = await runTq(queues[0]);
  const celery = await runCelery(queues[1]);
  const rows = [
    [`${chains} × 10-step chain, one at a time`, celery.chain_s, tq.chain_s],
    [`${parallel} × 10-step chain, all at once`, celery.parallel_s, tq.parallel_s],
    [`chord of ${members}`, celery.chord_s, tq.chord_s],
  ];
  console.log(`canvas on Redis (broker and results), concurrency ${concurrency}, same run`);
  console.log('| workflow | Celery 5.2 s | tq s | tq speed-up |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, c, t] of rows) console.log(`| ${name} | ${c.toFixed(2)} | ${t.toFixed(2)} | ${(c / t).toFixed(2)}× |`);
} finally {
  const client = new Redis(url);
  await client.del(...queues.flatMap((q) => [q, `_kombu.binding.${q}`, `${q}.unused`, `_kombu.binding.${q}.unused`]));
  client.disconnect();
}
