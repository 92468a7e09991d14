/**
 * Deduplication (#15) on a real Redis: producers in separate apps (separate connections) send
 * the same dedupe key at once and exactly one task reaches the queue; a taskId re-send is not
 * enqueued again. The claim is one Lua script (GET, then SET PX), atomic in Redis.
 */
import { randomUUID } from 'node:crypto';
import { createApp, type App } from '@tq/core';
import redisAdapter from '@tq/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const redis = await resolveBroker('redis');
afterAll(() => redis.stop(), 60_000);

describe('deduplication on Redis (concurrent producers)', () => {
  if (!redis.url) {
    if (brokersRequired()) it('redis', () => expect.fail(`required under CI=true: ${redis.detail}`));
    else it.skip(`redis missing: ${redis.detail}`, () => undefined);
    return;
  }
  const queue = `tq-dedupe-${randomUUID().slice(0, 8)}`;
  const apps: App[] = [];
  const open = () => {
    const app = createApp({ broker: redis.url!, resultBackend: redis.url!, adapters: [redisAdapter], logLevel: 'silent', defaultQueue: queue });
    apps.push(app);
    return app;
  };
  afterAll(async () => {
    await apps[0]?.purge(queue).catch(() => undefined);
    await Promise.allSettled(apps.map((a) => a.close()));
  });

  it('8 producers × 5 concurrent sends with one dedupe key enqueue one task, and all get its id', async () => {
    const producers = Array.from({ length: 8 }, open);
    await Promise.all(producers.map((p) => p.broker()));
    const key = `report-${randomUUID()}`;
    const results = await Promise.all(producers.flatMap((p) => Array.from({ length: 5 }, () => p.sendTask('tq.report', [], {}, { dedupe: { key, ttl: 30 } }))));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect((await producers[0]!.queueStats(queue)).ready).toBe(1);
  });

  it('a taskId re-sent from another producer is not enqueued again', async () => {
    const [a, b] = [open(), open()];
    const before = (await a.queueStats(queue)).ready;
    const id = randomUUID();
    const [first, second] = await Promise.all([a.sendTask('tq.once', [], {}, { taskId: id }), b.sendTask('tq.once', [], {}, { taskId: id })]);
    expect([first.id, second.id]).toEqual([id, id]);
    expect((await a.queueStats(queue)).ready).toBe(before + 1);
  });
});
