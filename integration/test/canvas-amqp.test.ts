/** Workflows on RabbitMQ: with a Redis result backend (chord join), and with rpc:// (no chords, as in Celery). */
import { createApp } from '@tq/core';
import amqpAdapter from '@tq/amqp';
import redisAdapter from '@tq/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';
import { describeCanvasScenarios } from '../harness/canvas-scenarios.js';

const amqp = await resolveBroker('amqp');
const redis = await resolveBroker('redis');
afterAll(() => Promise.allSettled([amqp.stop(), redis.stop()]), 60_000);
const missing = [amqp, redis].filter((e) => !e.url);

if (missing.length > 0) {
  describe('workflows on amqp', () => {
    const reason = missing.map((e) => e.detail).join('; ');
    if (brokersRequired()) it('brokers', () => expect.fail(`required under CI=true: ${reason}`));
    else it.skip(`brokers missing: ${reason}`, () => undefined);
  });
} else {
  const brokerUrl = amqp.url!;
  const redisUrl = redis.url!;
  describeCanvasScenarios('amqp + redis backend', (queue) =>
    createApp({ broker: brokerUrl, resultBackend: redisUrl, adapters: [amqpAdapter, redisAdapter], defaultQueue: queue, logLevel: 'silent' }),
  );
  describeCanvasScenarios('amqp + rpc backend', (queue) => createApp({ broker: brokerUrl, resultBackend: 'rpc://', adapters: [amqpAdapter], defaultQueue: queue, logLevel: 'silent' }), { rpc: true });
}
