import { describe, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { checkAbortEnds, checkDirectRouting, checkFanOut, checkTopicRouting } from '../support/broadcast-checks.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { needs } from '../support/titles.js';

/** Control-channel fan-out: every subscriber gets every broadcast, byte for byte. */
export function describeBroadcast(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('broadcast', () => {
    const h = new BrokerHarness(factory, options);
    const claimed = h.capabilities.broadcast;

    it.skipIf(!claimed)(`every subscriber receives each broadcast ${needs.capability('broadcast')}`, async () => {
      await checkFanOut(() => h.broker(), h.options.timeouts.deliveryMs);
    });

    it.skipIf(!claimed)(`subscribe ends when its signal aborts ${needs.capability('broadcast')}`, async () => {
      await checkAbortEnds(h.broker());
    });

    it.skipIf(!claimed)(`a topic channel routes by routing-key pattern (Celery's celeryev) ${needs.capability('broadcast')}`, async () => {
      await checkTopicRouting(() => h.broker(), h.options.timeouts.deliveryMs);
    });

    it.skipIf(!claimed)(`a direct channel delivers by exact routing key to named queues (Celery's reply.celery.pidbox) ${needs.capability('broadcast')}`, async () => {
      await checkDirectRouting(() => h.broker(), h.options.timeouts.deliveryMs);
    });
  });
}
