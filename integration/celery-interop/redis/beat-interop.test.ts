/**
 * tq beat → Python Celery worker on Redis: the messages beat sends are ordinary Celery protocol
 * v2 task messages, so a real Celery 5 worker runs them, and each tick's result is found under
 * the tick's task id in Celery's own result backend.
 */
import { randomUUID } from 'node:crypto';
import { beatTaskId, createApp, type App, type Beat } from '@tq/core';
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
    // prefork: Celery 5.2's threads pool with prefetch multiplier 1 on Redis stalls a full
    // window until its consumer loop wakes (celery/celery#6941, up to ~10 s per window), which
    // left a tick's result later than the 15 s below.
    worker = await startCeleryWorker(env, 'prefork');
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
    // The ticks beat actually sent: the task ids whose sendTask resolved.
    const sends = vi.spyOn(app, 'sendTask');
    beat = app.beat({ namespace, leaseMs: 4000 });
    await beat.start();
    await new Promise((resolve) => setTimeout(resolve, 3500));
    await beat.stop();
    const listing = await app.beat({ namespace }).schedules.list();
    const byName = new Map(listing.map((l) => [l.name, l]));
    expect(byName.get('add-every-second')!.fired).toBeGreaterThanOrEqual(2);
    const state = JSON.parse(Buffer.from((await client.hgetBuffer(`tq:coord:tq-beat.${namespace}.state`, 'v'))!).toString('utf8')) as {
      entries: Record<string, { anchor: number; last: number; fired: number }>;
      pending?: unknown[];
    };
    const sent = new Set(sends.mock.settledResults.flatMap((r) => (r.type === 'fulfilled' ? [r.value.id] : [])));
    /** The ticks of an entry in (anchor, last]: what the record says is fired or deliberately skipped. */
    const ticks = (entry: string) => {
      const { anchor, last } = state.entries[entry]!;
      const out: string[] = [];
      for (let t = anchor + 1000; t <= last; t += 1000) out.push(beatTaskId(namespace, entry, t));
      return out;
    };
    // The record and the sends agree: nothing left pending by stop(), nothing sent that the record
    // does not name, and every tick of the catchUp 'all' entry sent. The catchUp 'once' entry
    // skips ticks a late round (a busy machine) missed, so its ids are the ones sent, not every tick.
    expect(state.pending ?? []).toEqual([]);
    const [add, where] = [ticks('add-every-second'), ticks('where-custom')];
    expect([...sent].filter((id) => !add.includes(id) && !where.includes(id))).toEqual([]);
    expect(add.filter((id) => !sent.has(id))).toEqual([]);
    expect(add.length).toBe(state.entries['add-every-second']!.fired);
    const whereSent = where.filter((id) => sent.has(id));
    expect(whereSent.length).toBe(state.entries['where-custom']!.fired);
    expect(whereSent.at(-1)).toBe(where.at(-1)); // the latest tick always goes out
    const sums = await Promise.all(add.map((id) => app.asyncResult(id).get({ timeout: 15_000 })));
    expect(sums.length).toBe(byName.get('add-every-second')!.fired);
    expect(new Set(sums)).toEqual(new Set([15]));
    const whereResults = await Promise.all(whereSent.map((id) => app.asyncResult(id).get({ timeout: 15_000 })));
    expect(whereResults.length).toBeGreaterThanOrEqual(1);
    expect(new Set(whereResults)).toEqual(new Set([env.customQueue]));
  }, 60_000);
});
