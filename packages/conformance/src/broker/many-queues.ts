import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { idOf, kitMessage } from '../support/messages.js';

/** Runs `work` over `items` with at most `limit` in flight. */
async function inBatches<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Many queues on one connection stay separate. */
export function describeManyQueues(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('many queues', () => {
    const h = new BrokerHarness(factory, options);
    const count = h.options.scale.queues;
    const { deliveryMs } = h.options.timeouts;

    it(`${count} queues each deliver only their own message`, async () => {
      const queues = Array.from({ length: count }, (_, i) => h.queue(`many-${i}`));
      const broker = h.broker();
      await inBatches(queues, 50, (queue) => broker.publish(queue, kitMessage(`for-${queue}`)));
      const wrong: string[] = [];
      await inBatches(queues, 50, async (queue) => {
        const consumer = h.consumer(broker, queue, 1);
        const delivery = await consumer.next(deliveryMs);
        if (idOf(delivery.message) !== `for-${queue}`) wrong.push(`${queue} got ${idOf(delivery.message)}`);
        await delivery.ack();
        await consumer.stop();
      });
      expect(wrong).toEqual([]);
    }, 120_000);
  });
}
