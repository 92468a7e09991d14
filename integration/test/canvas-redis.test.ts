/** Workflows on Redis with the Redis result backend (atomic chord join on Celery's keys). */
import { createApp } from '@tq/core';
import redisAdapter from '@tq/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';
import { describeCanvasScenarios } from '../harness/canvas-scenarios.js';

const redis = await resolveBroker('redis');
afterAll(() => redis.stop(), 60_000);

if (!redis.url) {
  describe('workflows on redis', () => {
    if (brokersRequired()) it('broker', () => expect.fail(`required under CI=true: ${redis.detail}`));
    else it.skip(`broker missing: ${redis.detail}`, () => undefined);
  });
} else {
  const url = redis.url;
  describeCanvasScenarios('redis', (queue) => createApp({ broker: url, resultBackend: url, adapters: [redisAdapter], defaultQueue: queue, logLevel: 'silent' }));
}
