import { describe, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { checkAbortEnds, checkDirectRouting, checkFanOut, checkTopicRouting } from '../support/broadcast-checks.js';
import { needs } from '../support/titles.js';

/**
 * A backend's broadcast channel, which carries remote control, revocations and events for
 * brokers without one (Kafka): the same fan-out the broker kit asks of a broker's.
 */
export function describeBackendBroadcast(factory: BackendFactory, options: ConformanceOptions): void {
  describe('broadcast', () => {
    const h = new BackendHarness(factory, options);
    const claimed = h.capabilities.broadcast ?? false;

    it.skipIf(!claimed)(`every subscriber receives each broadcast ${needs.capability('broadcast')}`, async () => {
      await checkFanOut(() => h.backend(), h.options.timeouts.deliveryMs);
    });

    it.skipIf(!claimed)(`subscribe ends when its signal aborts ${needs.capability('broadcast')}`, async () => {
      await checkAbortEnds(h.backend());
    });

    it.skipIf(!claimed)(`a topic channel routes by routing-key pattern (Celery's celeryev) ${needs.capability('broadcast')}`, async () => {
      await checkTopicRouting(() => h.backend(), h.options.timeouts.deliveryMs);
    });

    it.skipIf(!claimed)(`a direct channel delivers by exact routing key to named queues (Celery's reply.celery.pidbox) ${needs.capability('broadcast')}`, async () => {
      await checkDirectRouting(() => h.backend(), h.options.timeouts.deliveryMs);
    });
  });
}
