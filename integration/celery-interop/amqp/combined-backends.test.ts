/**
 * An AMQP broker with another result backend: Redis (Celery's key layout, read by both
 * languages) and NATS KV. The broker and the backend are independent choices.
 */
import amqp from '@tq/amqp';
import { createApp, type App, type Worker } from '@tq/core';
import nats from '@tq/nats';
import redis from '@tq/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { amqpUrl, deleteQueues, ensureVhost, natsUrl, redisBackendUrl, startCeleryWorker, uniqueQueue, type CeleryWorker } from './interop-support.js';

describe('an AMQP broker combined with other result backends', () => {
  const queues: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await deleteQueues(queues);
  });

  async function tqRoundTrip(resultBackend: string): Promise<unknown> {
    await ensureVhost();
    const queue = uniqueQueue('combo');
    queues.push(queue);
    const app: App = createApp({ broker: amqpUrl, resultBackend, adapters: [amqp, redis, nats], logLevel: 'warn' });
    app.task('tq.add', (a: number, b: number) => a + b);
    const worker: Worker = app.worker({ queues: [queue], concurrency: 1 });
    cleanups.push(() => app.close(), () => worker.stop());
    await worker.start();
    const result = await app.sendTask('tq.add', [20, 22], {}, { queue });
    return result.get({ timeout: 15_000 });
  }

  it('tq worker and producer on RabbitMQ with the Redis result backend', async () => {
    expect(await tqRoundTrip(redisBackendUrl)).toBe(42);
  });

  it('tq worker and producer on RabbitMQ with the NATS KV result backend', async () => {
    expect(await tqRoundTrip(natsUrl)).toBe(42);
  });

  it('a Python Celery worker stores into Redis (celery-task-meta-<id>); the tq producer reads it', async () => {
    await ensureVhost();
    const queue = uniqueQueue('py-redis');
    queues.push(queue);
    const worker: CeleryWorker = await startCeleryWorker([queue], { backend: redisBackendUrl });
    cleanups.push(() => worker.stop());
    const app = createApp({ broker: amqpUrl, resultBackend: redisBackendUrl, adapters: [amqp, redis], logLevel: 'warn' });
    cleanups.push(() => app.close());
    const result = await app.sendTask('py.add', [1, 2], { z: 3 }, { queue });
    expect(await result.get({ timeout: 15_000 }), worker.output()).toBe(6);
  });
});
