/** Workflows on Kafka with a Redis result backend (chord join in Redis). */
import { createApp } from '@tq/core';
import kafkaAdapter from '@tq/kafka';
import redisAdapter from '@tq/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';
import { describeCanvasScenarios } from '../harness/canvas-scenarios.js';

const kafka = await resolveBroker('kafka');
const redis = await resolveBroker('redis');
afterAll(() => Promise.allSettled([kafka.stop(), redis.stop()]), 60_000);
const missing = [kafka, redis].filter((e) => !e.url);

if (missing.length > 0) {
  describe('workflows on kafka', () => {
    const reason = missing.map((e) => e.detail).join('; ');
    if (brokersRequired()) it('brokers', () => expect.fail(`required under CI=true: ${reason}`));
    else it.skip(`brokers missing: ${reason}`, () => undefined);
  });
} else {
  describeCanvasScenarios('kafka + redis backend', (queue) => {
    const brokerUrl = new URL(kafka.url!);
    for (const [key, value] of Object.entries({ sessionTimeoutMs: '6000', heartbeatIntervalMs: '500', maxWaitTimeMs: '50' })) brokerUrl.searchParams.set(key, value);
    if (kafka.source === 'kafka-mock') brokerUrl.searchParams.set('idempotent', 'false');
    return createApp({
      broker: kafkaAdapter.createBroker!(brokerUrl, kafka.adapterOptions),
      resultBackend: redis.url!,
      adapters: [redisAdapter],
      defaultQueue: queue,
      logLevel: 'silent',
    });
  });
}
