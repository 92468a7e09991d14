import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { idOf, kitMessage } from '../support/messages.js';
import { needs } from '../support/titles.js';

/** Publish order on one queue, and priority where the broker claims it. */
export function describeOrdering(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('ordering', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs } = h.options.timeouts;
    const maxPriority = h.capabilities.maxPriority;

    it.skipIf(!h.capabilities.fifo)(`one consumer receives messages in publish order ${needs.capability('fifo')}`, async () => {
      const queue = h.queue('fifo');
      const ids = Array.from({ length: 100 }, (_, i) => `fifo-${i}`);
      const publisher = h.broker();
      for (const id of ids) await publisher.publish(queue, kitMessage(id));
      const consumer = h.consumer(h.broker(), queue, 10);
      const received: string[] = [];
      while (received.length < ids.length) {
        const delivery = await consumer.next(deliveryMs);
        received.push(idOf(delivery.message));
        await delivery.ack();
      }
      expect(received).toEqual(ids);
    });

    it.skipIf(maxPriority <= 0)(`higher priority is delivered first ${needs.capability('maxPriority > 0')}`, async () => {
      const queue = h.queue('priority');
      const publisher = h.broker();
      const low = Array.from({ length: 5 }, (_, i) => `low-${i}`);
      const high = Array.from({ length: 5 }, (_, i) => `high-${i}`);
      // The queue must exist with its priority settings before messages wait in it.
      for (const id of low) await publisher.publish(queue, kitMessage(id, { priority: 0 }));
      for (const id of high) await publisher.publish(queue, kitMessage(id, { priority: maxPriority }));
      const consumer = h.consumer(h.broker(), queue, 1);
      const received: string[] = [];
      while (received.length < low.length + high.length) {
        const delivery = await consumer.next(deliveryMs);
        received.push(idOf(delivery.message));
        await delivery.ack();
      }
      expect(received.slice(0, high.length).sort(), `order received: ${received.join(', ')}`).toEqual([...high].sort());
    });
  });
}
