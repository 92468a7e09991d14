import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { expectSameMessage, idOf, kitMessage } from '../support/messages.js';
import { needs } from '../support/titles.js';

/** Brokers that claim delayedDelivery hold a message until `notBefore`, and not much longer. */
export function describeDelayedDelivery(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('delayed delivery', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs } = h.options.timeouts;

    it.skipIf(!h.capabilities.delayedDelivery)(`notBefore holds a message until its time ${needs.capability('delayedDelivery')}`, async () => {
      const queue = h.queue('delayed');
      const publisher = h.broker();
      const notBefore = Date.now() + 1_500;
      const delayed = kitMessage('delayed-1', { notBefore });
      await publisher.publish(queue, delayed);
      await publisher.publish(queue, kitMessage('now-1'));
      const consumer = h.consumer(h.broker(), queue, 2);
      const first = await consumer.next(deliveryMs);
      expect(idOf(first.message), 'the delayed message came first').toBe('now-1');
      await first.ack();
      const second = await consumer.next(1_500 + deliveryMs);
      // 50 ms of tolerance for clock granularity between the broker and this process.
      expect(Date.now(), 'delivered before notBefore').toBeGreaterThanOrEqual(notBefore - 50);
      expect(idOf(second.message)).toBe('delayed-1');
      expectSameMessage(second.message, delayed);
      await second.ack();
    });
  });
}
