/**
 * A worker SIGKILLed while it runs a chain step (Redis broker and backend): the step comes back
 * after the visibility timeout, runs on another worker, and the chain completes; every step
 * completes once and the steps after the killed one are sent and run once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chain, createApp, type App, type AsyncResult, type Worker } from '@tq/core';
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const redis = await resolveBroker('redis');
afterAll(() => redis.stop(), 60_000);
const fixture = fileURLToPath(new URL('./fixtures/chain-worker.mjs', import.meta.url));

describe('a worker killed in the middle of a chain (redis)', () => {
  if (!redis.url) {
    if (brokersRequired()) it('broker', () => expect.fail(`required under CI=true: ${redis.detail}`));
    else it.skip(`redis missing: ${redis.detail}`, () => undefined);
    return;
  }
  const base = new URL(redis.url);
  base.searchParams.set('visibility_timeout', '2');
  const url = base.href;
  const queue = `tq.faults.chain.${randomUUID().slice(0, 8)}`;
  const prefix = `tq:test:killchain:${randomUUID().slice(0, 8)}`;
  const counters = new Redis(redis.url);
  let child: ChildProcess | undefined;
  let app: App | undefined;
  let worker: Worker | undefined;

  afterAll(async () => {
    child?.kill('SIGKILL');
    await worker?.stop({ force: true });
    await app?.close();
    const keys = await counters.keys(`${prefix}:*`);
    if (keys.length) await counters.del(...keys);
    await counters.del(queue, `_kombu.binding.${queue}`);
    counters.disconnect();
  }, 60_000);

  it('the chain completes; no step completes twice; later steps run once', async () => {
    child = spawn(process.execPath, [fixture], {
      env: { ...process.env, TQ_URL: url, TQ_QUEUE: queue, TQ_COUNTERS: prefix, TQ_SLOW_STEP: '2' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      child!.once('exit', (code) => reject(new Error(`the worker exited with ${code}`)));
    });
    app = createApp({ broker: url, resultBackend: url, adapters: [redisAdapter], defaultQueue: queue, logLevel: 'silent' });
    const step = (n: number) => app!.signature('k.step', [n]);
    const result = (await chain(app.signature('k.step', [0, 1]), step(2), step(3), step(4)).applyAsync()) as AsyncResult;
    // Step 2 is running in the child: kill it there.
    for (let i = 0; i < 500 && (await counters.get(`${prefix}:started:2`)) !== '1'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await counters.get(`${prefix}:started:2`)).toBe('1');
    child.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));
    // Another worker, in this process, where no step is slow.
    app.task('k.step', async (acc: number, n: number) => {
      await counters.incr(`${prefix}:started:${n}`);
      await counters.incr(`${prefix}:done:${n}`);
      return acc + n;
    });
    worker = app.worker({ concurrency: 2 });
    await worker.start();
    expect(await result.get({ timeout: 30_000 })).toBe(10);
    const read = async (what: string) => Number(await counters.get(`${prefix}:${what}`));
    expect([await read('done:1'), await read('done:2'), await read('done:3'), await read('done:4')]).toEqual([1, 1, 1, 1]);
    expect([await read('started:2'), await read('started:3'), await read('started:4')]).toEqual([2, 1, 1]);
  }, 60_000);
});
