/**
 * Issue #15 with real Python Celery on Redis: send_task(kwargs=...) binds by name on a tq task
 * that declares `params`, an unknown keyword argument fails with a message Python can read, and
 * an integer beyond 2^53 reaches a tq task (lossless JSON) and comes back to Python exactly.
 */
import { randomUUID } from 'node:crypto';
import { createApp, losslessJsonSerializer, type App, type Worker } from '@tq/core';
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript, type InteropEnv } from './python.js';

const url = process.env.TQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const SEP = '\x06\x16';

describe('Python Celery send_task → tq (#15: kwargs by name, big integers)', () => {
  const run = randomUUID().slice(0, 8);
  const env: InteropEnv = { url, queue: `tqi-named-${run}`, customQueue: `tqi-named-${run}.custom` };
  const client = new Redis(url);
  let app: App;
  let worker: Worker;

  beforeAll(async () => {
    app = createApp({ broker: url, resultBackend: url, adapters: [redisAdapter], defaultQueue: env.queue, resultTtlMs: 3_600_000, serializers: [losslessJsonSerializer] });
    app.task('tq.named', (x: number, y: number) => x + y, { params: ['x', 'y'] });
    app.task('tq.positional', (a: number, b: number) => `${a}${b}`);
    app.task('tq.big', (n: bigint) => ({ type: typeof n, text: String(n), next: n + 1n }));
    worker = app.worker({ queues: [env.queue], concurrency: 2 });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await app?.close();
    await client.del(...[env.queue, `${env.queue}${SEP}3`, `${env.queue}${SEP}6`, `${env.queue}${SEP}9`, `_kombu.binding.${env.queue}`, `${env.queue}.dead`]);
    client.disconnect();
  });

  it('kwargs bind to the declared params', async () => {
    expect(await runScript(env, 'send_by_name.py', ['kwargs'])).toMatchObject({ result: 5, state: 'SUCCESS' });
    expect(await runScript(env, 'send_by_name.py', ['kwargs-mixed'])).toMatchObject({ result: 32, state: 'SUCCESS' });
  });

  it('an unknown keyword argument is a FAILURE naming it, never a wrong SUCCESS', async () => {
    const out = await runScript(env, 'send_by_name.py', ['kwargs-unknown']);
    expect(out).toMatchObject({ state: 'FAILURE' });
    expect(out['message']).toContain('unexpected keyword argument "yy" (did you mean "y"?)');
    const undeclared = await runScript(env, 'send_by_name.py', ['kwargs-undeclared']);
    expect(undeclared).toMatchObject({ state: 'FAILURE' });
    expect(undeclared['message']).toContain('declares no parameter names');
  });

  it('2**64 + 1 reaches the task as a BigInt and comes back to Python exactly', async () => {
    const out = await runScript(env, 'send_by_name.py', ['bigint']);
    expect(out).toMatchObject({ state: 'SUCCESS', exact: true, result: { type: 'bigint', text: '18446744073709551617' } });
  });
});
