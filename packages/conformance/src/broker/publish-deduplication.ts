import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { idOf, kitMessage } from '../support/messages.js';
import { needs } from '../support/titles.js';
import { uniqueName } from '../support/unique-name.js';

/**
 * capabilities.publishDeduplicationMs: a publish whose deduplicationId was published within the
 * window resolves but enqueues nothing, whichever connection sends it, even at the same moment;
 * the id is not delivered, so a delivered message published again is not taken for a repeat.
 */
export function describePublishDeduplication(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('publish deduplication', () => {
    const h = new BrokerHarness(factory, options);
    const claimed = h.capabilities.publishDeduplicationMs !== null;
    const { deliveryMs, quietMs } = h.options.timeouts;

    it.skipIf(!claimed)(`a repeated deduplicationId enqueues nothing, from any connection, even concurrently ${needs.capability('publishDeduplicationMs')}`, async () => {
      const queue = h.queue('dedupe');
      const [one, two] = [h.broker(), h.broker()];
      const repeat = uniqueName('id');
      const other = uniqueName('id');
      await Promise.all([
        one.publish(queue, { ...kitMessage('first'), deduplicationId: repeat }),
        two.publish(queue, { ...kitMessage('first'), deduplicationId: repeat }),
        one.publish(queue, { ...kitMessage('first'), deduplicationId: repeat }),
      ]);
      await two.publish(queue, { ...kitMessage('again'), deduplicationId: repeat });
      await one.publish(queue, { ...kitMessage('other'), deduplicationId: other });
      await one.publish(queue, kitMessage('plain'));
      await one.publish(queue, kitMessage('plain'));
      const consumer = h.consumer(h.broker(), queue, 10);
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const delivery = await consumer.next(deliveryMs);
        seen.push(idOf(delivery.message));
        expect(delivery.message.deduplicationId, 'the deduplication id must not be delivered').toBeUndefined();
        await delivery.ack();
      }
      expect(await consumer.poll(quietMs), 'a repeated deduplicationId was enqueued').toBeUndefined();
      expect(seen.sort()).toEqual(['first', 'other', 'plain', 'plain']);
    });

    it.skipIf(!claimed || !h.capabilities.delayedDelivery)(`a delayed publish is deduplicated too, and still waits ${needs.capability('publishDeduplicationMs && delayedDelivery')}`, async () => {
      const queue = h.queue('dedupe-delayed');
      const id = uniqueName('id');
      const notBefore = Date.now() + 1_000;
      await h.broker().publish(queue, { ...kitMessage('later', { notBefore }), deduplicationId: id });
      await h.broker().publish(queue, { ...kitMessage('later', { notBefore }), deduplicationId: id });
      const consumer = h.consumer(h.broker(), queue, 10);
      const delivery = await consumer.next(deliveryMs + 1_000);
      expect(Date.now(), 'delivered before notBefore').toBeGreaterThanOrEqual(notBefore - 50);
      expect(idOf(delivery.message)).toBe('later');
      await delivery.ack();
      expect(await consumer.poll(quietMs), 'a repeated delayed publish was enqueued').toBeUndefined();
    });
  });
}
