import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { expectSameMessage, idOf, kitMessage } from '../support/messages.js';
import { needs } from '../support/titles.js';

/**
 * Settling a delivery: ack removes it for good, reject(true) gives it back, reject(false)
 * drops or dead-letters it, and a second settle changes nothing. "Gone" is proven with a
 * sentinel published afterwards: it must be the very next delivery.
 */
export function describeAckReject(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('ack and reject', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs, quietMs } = h.options.timeouts;

    it('ack removes the message', async () => {
      const queue = h.queue('ack');
      const publisher = h.broker();
      await publisher.publish(queue, kitMessage('acked'));
      const first = h.consumer(h.broker(), queue, 1);
      const delivery = await first.next(deliveryMs);
      expect(idOf(delivery.message)).toBe('acked');
      await delivery.ack();
      await first.stop();
      await publisher.publish(queue, kitMessage('sentinel'));
      const next = await h.consumer(h.broker(), queue, 1).next(deliveryMs);
      expect(idOf(next.message), 'an acked message came back').toBe('sentinel');
      await next.ack();
    });

    it('reject with requeue redelivers the same message', async () => {
      const queue = h.queue('requeue');
      const sent = kitMessage('requeued');
      await h.broker().publish(queue, sent);
      const consumer = h.consumer(h.broker(), queue, 1);
      const first = await consumer.next(deliveryMs);
      expect(first.redelivered, 'the first delivery of a fresh message is flagged redelivered').toBe(false);
      await first.reject(true);
      const again = await consumer.next(deliveryMs);
      expectSameMessage(again.message, sent);
      expect(again.redelivered, 'a message given back with reject(true) must come back flagged redelivered').toBe(true);
      await again.ack();
      expect(await consumer.poll(quietMs), 'a third delivery after ack').toBeUndefined();
    });

    // An ack that only forgets the delivery locally (the broker keeps the message leased) is
    // caught only once the lease would have ended: watch past the redelivery window.
    const window = h.capabilities.redeliveryWindowMs;
    it.skipIf(window === null || window > 30_000)(
      `an acked message does not come back after the redelivery window ${needs.capability('redeliveryWindowMs <= 30000')}`,
      async () => {
        const queue = h.queue('ack-window');
        await h.broker().publish(queue, kitMessage('acked-for-good'));
        const consumer = h.consumer(h.broker(), queue, 1);
        const delivery = await consumer.next(deliveryMs);
        await delivery.ack();
        const other = h.consumer(h.broker(), queue, 1);
        expect(await other.poll(window! + Math.max(quietMs, 2_000)), 'an acked message came back after the redelivery window').toBeUndefined();
      },
      (window ?? 0) + deliveryMs + 30_000,
    );

    it('reject without requeue never returns the message to its queue', async () => {
      const queue = h.queue('drop');
      const publisher = h.broker();
      await publisher.publish(queue, kitMessage('rejected'));
      const consumer = h.consumer(h.broker(), queue, 1);
      const first = await consumer.next(deliveryMs);
      await first.reject(false);
      await publisher.publish(queue, kitMessage('sentinel'));
      const next = await consumer.next(deliveryMs);
      expect(idOf(next.message), 'a rejected message came back').toBe('sentinel');
      await next.ack();
      expect(await consumer.poll(quietMs), 'a rejected message came back late').toBeUndefined();
    });

    it.skipIf(!h.capabilities.deadLetter)(`reject without requeue dead-letters the message ${needs.capability('deadLetter')}`, async () => {
      const queue = h.queue('dead-letter');
      const sent = kitMessage('dead-1');
      await h.broker().publish(queue, sent);
      const delivery = await h.consumer(h.broker(), queue, 1).next(deliveryMs);
      await delivery.reject(false);
      const dead = await h.consumer(h.broker(), h.options.deadLetterQueue(queue), 1).next(deliveryMs);
      // Brokers may add their own headers (AMQP's x-death); the task's bytes and id must survive.
      expect(Buffer.from(dead.message.body).equals(Buffer.from(sent.body))).toBe(true);
      expect(idOf(dead.message)).toBe('dead-1');
      await dead.ack();
    });

    it('a second ack or reject is a no-op', async () => {
      const queue = h.queue('settle-twice');
      const publisher = h.broker();
      await publisher.publish(queue, kitMessage('twice'));
      const consumer = h.consumer(h.broker(), queue, 1);
      const delivery = await consumer.next(deliveryMs);
      await delivery.ack();
      await delivery.ack();
      await delivery.reject(true);
      await delivery.reject(false);
      await publisher.publish(queue, kitMessage('sentinel'));
      const next = await consumer.next(deliveryMs);
      expect(idOf(next.message), 'a late reject(true) requeued an acked message').toBe('sentinel');
      await next.ack();
      expect(await consumer.poll(quietMs)).toBeUndefined();
    });
  });
}
