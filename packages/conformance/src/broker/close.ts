import type { Delivery } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { idOf, kitMessage } from '../support/messages.js';
import { withTimeout } from '../support/timing.js';
import { needs } from '../support/titles.js';

/** Stopping a consumer or closing a broker is orderly: iteration ends, nothing is lost. */
export function describeClose(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('close and abort', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs, quietMs, handBackMs } = h.options.timeouts;
    const window = h.capabilities.redeliveryWindowMs;
    /**
     * How soon given-back deliveries must reach another consumer: inside the window when there
     * is one (a second before its end, at least half of it), so an adapter that lets the leases
     * expire instead of giving them back fails.
     */
    const promptMs = window === null ? handBackMs : Math.min(handBackMs, Math.floor(Math.max(window * 0.5, window - 1_000)));

    it('aborting the signal ends the iteration', async () => {
      const queue = h.queue('abort');
      const broker = h.broker();
      const controller = new AbortController();
      const iterator = broker.consume(queue, { prefetch: 1, signal: controller.signal })[Symbol.asyncIterator]();
      const pending = iterator.next();
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      controller.abort();
      const result = await withTimeout(pending, 5_000, 'iteration to end after abort');
      expect(result.done, 'a delivery arrived on an empty queue').toBe(true);
    });

    it('aborting returns deliveries the consumer never read', async () => {
      const queue = h.queue('abort-unread');
      const publisher = h.broker();
      for (let i = 0; i < 5; i++) await publisher.publish(queue, kitMessage(`unread-${i}`));
      const consumer = h.consumer(h.broker(), queue, 5);
      const first = await consumer.next(deliveryMs);
      await first.ack();
      await consumer.stop();
      const rest = await h.consumer(h.broker(), queue, 5).take(4, h.redeliveryMs);
      const expected = Array.from({ length: 5 }, (_, i) => `unread-${i}`).filter((id) => id !== idOf(first.message));
      expect(rest.map((d) => idOf(d.message)).sort()).toEqual(expected);
      await Promise.all(rest.map((d) => d.ack()));
    });

    // A worker's warm shutdown: the broker stays connected, the consumer stops, and the work it
    // prefetched but never started must reach another worker at once, not after a redelivery
    // window (AckWait, visibility timeout), and exactly once.
    it('aborting gives unread deliveries back at once, while the connection stays open', async () => {
      const queue = h.queue('abort-prompt');
      const publisher = h.broker();
      for (let i = 0; i < 5; i++) await publisher.publish(queue, kitMessage(`prompt-${i}`));
      // A window wider than the queue: a pull-based consumer still has a request open when it stops.
      const consumer = h.consumer(h.broker(), queue, 10);
      const first = await consumer.next(deliveryMs);
      await first.ack();
      await consumer.stop();
      const other = h.consumer(h.broker(), queue, 5);
      // "At once" must beat the redelivery window: an adapter that keeps the leases and lets
      // them expire would otherwise pass with a short window.
      const rest = await other.take(4, promptMs);
      const expected = Array.from({ length: 5 }, (_, i) => `prompt-${i}`).filter((id) => id !== idOf(first.message));
      expect(rest.map((d) => idOf(d.message)).sort()).toEqual(expected);
      await Promise.all(rest.map((d) => d.ack()));
      expect(await other.poll(quietMs * 2), 'a returned delivery came twice').toBeUndefined();
    });

    it('close while consuming loses nothing', async () => {
      const queue = h.queue('close-consuming');
      const total = 100;
      const publisher = h.broker();
      await Promise.all(Array.from({ length: total }, (_, i) => publisher.publish(queue, kitMessage(`c-${i}`))));
      const first = h.broker();
      const consumer = h.consumer(first, queue, 10);
      const ackedByFirst = new Set<string>();
      const unacked: Delivery[] = [];
      for (let i = 0; i < 40; i++) {
        const delivery = await consumer.next(deliveryMs);
        // Ack three of four; keep the rest unacked across the close.
        if (i % 4 === 3) unacked.push(delivery);
        else {
          await delivery.ack();
          ackedByFirst.add(idOf(delivery.message));
        }
      }
      await first.close();
      const second = h.consumer(h.broker(), queue, 10);
      const ackedBySecond = new Set<string>();
      while (ackedByFirst.size + ackedBySecond.size < total) {
        const delivery = await second.next(h.redeliveryMs);
        const id = idOf(delivery.message);
        expect(ackedByFirst.has(id), `${id} was acked before close and delivered again`).toBe(false);
        expect(ackedBySecond.has(id), `${id} delivered twice after close`).toBe(false);
        ackedBySecond.add(id);
        await delivery.ack();
      }
      for (const d of unacked) expect(ackedBySecond.has(idOf(d.message)), `unacked ${idOf(d.message)} did not come back`).toBe(true);
      expect(await second.poll(quietMs), 'more messages than were published').toBeUndefined();
    }, 60_000);

    it.skipIf(window === null)(
      `close() gives unacked deliveries back well inside the redelivery window ${needs.capability('redeliveryWindowMs')}`,
      async () => {
        const queue = h.queue('close-prompt');
        const publisher = h.broker();
        for (let i = 0; i < 3; i++) await publisher.publish(queue, kitMessage(`held-${i}`));
        const first = h.broker();
        const held = await h.consumer(first, queue, 3).take(3, deliveryMs);
        expect(held).toHaveLength(3);
        await first.close();
        const back = await h.consumer(h.broker(), queue, 3).take(3, promptMs);
        expect(back.map((d) => idOf(d.message)).sort()).toEqual(['held-0', 'held-1', 'held-2']);
        await Promise.all(back.map((d) => d.ack()));
      },
    );

    it('close is idempotent', async () => {
      const broker = h.broker();
      await broker.connect();
      await broker.inner.close();
      await broker.inner.close();
      await broker.close();
    });
  });
}
