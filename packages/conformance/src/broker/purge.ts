import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { idOf, kitMessage } from '../support/messages.js';
import { needs } from '../support/titles.js';

export function describePurge(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('purge', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs, quietMs } = h.options.timeouts;

    it.skipIf(!h.capabilities.purge)(`purge removes ready messages and returns how many ${needs.capability('purge')}`, async () => {
      const queue = h.queue('purge');
      const other = h.queue('purge-other');
      const publisher = h.broker();
      for (let i = 0; i < 7; i++) await publisher.publish(queue, kitMessage(`purged-${i}`));
      await publisher.publish(other, kitMessage('kept'));
      expect(await publisher.purge(queue)).toBe(7);
      expect(await publisher.purge(queue), 'a second purge found messages').toBe(0);
      await publisher.publish(queue, kitMessage('sentinel'));
      const next = await h.consumer(h.broker(), queue, 1).next(deliveryMs);
      expect(idOf(next.message), 'a purged message was delivered').toBe('sentinel');
      await next.ack();
      const kept = await h.consumer(h.broker(), other, 1).next(deliveryMs);
      expect(idOf(kept.message), 'purge touched another queue').toBe('kept');
      await kept.ack();
    });

    it.skipIf(!h.capabilities.purge || !h.capabilities.delayedDelivery || !h.capabilities.purgeDelayed)(
      `purge also removes the queue's delayed messages and counts them ${needs.capability('purge && delayedDelivery && purgeDelayed')}`,
      async () => {
        const queue = h.queue('purge-delayed');
        const other = h.queue('purge-delayed-other');
        const publisher = h.broker();
        const notBefore = Date.now() + 1_500;
        for (let i = 0; i < 3; i++) await publisher.publish(queue, kitMessage(`purged-delayed-${i}`, { notBefore }));
        for (let i = 0; i < 2; i++) await publisher.publish(queue, kitMessage(`purged-ready-${i}`));
        await publisher.publish(other, kitMessage('kept-delayed', { notBefore }));
        expect(await publisher.purge(queue), 'ready and delayed messages removed').toBe(5);
        const consumer = h.consumer(h.broker(), queue, 4);
        // Past the due time: a delayed message that survived the purge would arrive by now.
        expect(await consumer.poll(Math.max(0, notBefore - Date.now()) + quietMs), 'a purged delayed message was delivered').toBeUndefined();
        const kept = await h.consumer(h.broker(), other, 1).next(deliveryMs);
        expect(idOf(kept.message), 'purge touched another queue').toBe('kept-delayed');
        await kept.ack();
      },
      30_000,
    );
  });
}
