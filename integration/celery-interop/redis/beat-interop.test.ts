/**
 * tq beat → Python Celery worker on Redis: the messages beat sends are ordinary Celery protocol
 * v2 task messages, so a real Celery 5 worker runs them, and each tick's result is found under
 * the tick's task id in Celery's own result backend.
 */
import { randomUUID } from 'node:crypto';
import { beatTaskId, createApp, type App, type Beat } from '@tq/core';
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCeleryWorker, type CeleryWorker, type InteropEnv } from './python.js';

const url = process.env.TQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const SEP = '\x06\x16';

describe('tq beat → Python Celery worker (Redis)', () => {
  const run = randomUUID().slice(0, 8);
  const env: InteropEnv = { url, queue: `tqi-beat-${run}`, customQueue: `tqi-beat-${run}.custom` };
  const namespace = `interop-${run}`;
  let app: App;
  let beat: Beat;
  let worker: CeleryWorker | undefined;
  const client = new Redis(url);

  beforeAll(async () => {
    app = createApp({ broker: url, resultBackend: url, adapters: [redisAdapter], defaultQueue: env.queue, logLevel: 'warn' });
    app.schedule('add-every-second', { task: 'tq.add', args: [2, 3], kwargs: { z: 10 }, every: '1s', catchUp: 'all' });
    app.schedule('where-custom', { task: 'tq.where', every: '1s', options: { queue: env.customQueue } });
    worker = await startCeleryWorker(env);
  }, 30_000);

  afterAll(async () => {
    await beat?.stop();
    await worker?.stop();
    await app?.close();
    const queues = [env.queue, env.customQueue];
    await client.del(...queues.flatMap((q) => [q, `${q}${SEP}3`, `${q}${SEP}6`, `${q}${SEP}9`, `_kombu.binding.${q}`]), `tq:coord:tq-beat.${namespace}.state`, `tq:coord:tq-beat.${namespace}.schedules`);
    client.disconnect();
  });

  it('Celery runs the ticks beat sends, with args, kwargs and the entry queue', async () => {
    beat = app.beat({ namespace, leaseMs: 4000 });
    await beat.start();
    await new Promise((resolve) => setTimeout(resolve, 3500));
    await beat.stop();
    const listing = await app.beat({ namespace }).schedules.list();
    const byName = new Map(listing.map((l) => [l.name, l]));
    expect(byName.get('add-every-second')!.fired).toBeGreaterThanOrEqual(2);
    const state = JSON.parse(Buffer.from((await client.hgetBuffer(`tq:coord:tq-beat.${namespace}.state`, 'v'))!).toString('utf8')) as {
      entries: Record<string, { anchor: number; last: number }>;
    };
    const ids = (entry: string) => {
      const { anchor, last } = state.entries[entry]!;
      const out: string[] = [];
      for (let t = anchor + 1000; t <= last; t += 1000) out.push(beatTaskId(namespace, entry, t));
      return out;
    };
    const sums = await Promise.all(ids('add-every-second').map((id) => app.asyncResult(id).get({ timeout: 15_000 })));
    expect(sums.length).toBe(byName.get('add-every-second')!.fired);
    expect(new Set(sums)).toEqual(new Set([15]));
    const where = await Promise.all(ids('where-custom').map((id) => app.asyncResult(id).get({ timeout: 15_000 })));
    expect(where.length).toBeGreaterThanOrEqual(1);
    expect(new Set(where)).toEqual(new Set([env.customQueue]));
  }, 60_000);
});
