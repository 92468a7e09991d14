import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { idOf, kitMessage } from '../support/messages.js';

/** A consumer never holds more than `prefetch` unacked deliveries; each ack frees one slot. */
export function describePrefetch(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('prefetch', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs, quietMs } = h.options.timeouts;

    it('prefetch is never exceeded', async () => {
      const queue = h.queue('prefetch');
      const prefetch = 5;
      const total = 12;
      const publisher = h.broker();
      for (let i = 0; i < total; i++) await publisher.publish(queue, kitMessage(`p-${i}`));
      const consumer = h.consumer(h.broker(), queue, prefetch);
      const held = await consumer.take(prefetch, deliveryMs);
      expect(await consumer.poll(quietMs), `a delivery beyond prefetch ${prefetch}`).toBeUndefined();
      const seen = new Set(held.map((d) => idOf(d.message)));
      // Each ack frees exactly one slot.
      while (seen.size < total) {
        await held.shift()!.ack();
        const next = await consumer.next(deliveryMs);
        seen.add(idOf(next.message));
        held.push(next);
        if (seen.size < total) expect(await consumer.poll(Math.min(quietMs, 200)), `more than ${prefetch} unacked`).toBeUndefined();
      }
      expect(seen.size).toBe(total);
      await Promise.all(held.map((d) => d.ack()));
      expect(await consumer.poll(quietMs), 'a delivery after all were acked').toBeUndefined();
    });

    it('setPrefetch widens the window of a live consumer (optional: Consumer.setPrefetch)', async (context) => {
      const queue = h.queue('set-prefetch');
      const broker = h.broker();
      await broker.connect();
      // The adapter's own consumer: RuntimeBroker always offers setPrefetch and forwards it if present.
      const consumer = h.consumer(broker.inner, queue, 2);
      if (!consumer.consumer.setPrefetch) {
        context.skip("the adapter's consume() returns no setPrefetch (optional)");
        return;
      }
      const publisher = h.broker();
      for (let i = 0; i < 6; i++) await publisher.publish(queue, kitMessage(`w-${i}`));
      const held = await consumer.take(2, deliveryMs);
      expect(await consumer.poll(quietMs), 'a delivery beyond prefetch 2').toBeUndefined();
      consumer.consumer.setPrefetch(4);
      held.push(...(await consumer.take(2, deliveryMs)));
      expect(await consumer.poll(quietMs), 'a delivery beyond the widened prefetch 4').toBeUndefined();
      expect(new Set(held.map((d) => idOf(d.message))).size).toBe(4);
      await Promise.all(held.map((d) => d.ack()));
      const rest = await consumer.take(2, deliveryMs);
      await Promise.all(rest.map((d) => d.ack()));
    });

    it('prefetch 1 hands out one delivery at a time', async () => {
      const queue = h.queue('prefetch-one');
      const publisher = h.broker();
      await publisher.publish(queue, kitMessage('one-1'));
      await publisher.publish(queue, kitMessage('one-2'));
      const consumer = h.consumer(h.broker(), queue, 1);
      const first = await consumer.next(deliveryMs);
      expect(await consumer.poll(quietMs), 'a second delivery with prefetch 1').toBeUndefined();
      await first.ack();
      const second = await consumer.next(deliveryMs);
      expect(new Set([idOf(first.message), idOf(second.message)])).toEqual(new Set(['one-1', 'one-2']));
      await second.ack();
    });
  });
}
