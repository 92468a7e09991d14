import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { kitMessage } from '../support/messages.js';
import { needs } from '../support/titles.js';

/**
 * queueStats(queue): the counts a broker keeps, for `tq queues`, autoscalers and dashboards.
 * Ready is required; unacked, dead and consumers may be null (the broker cannot tell), never
 * wrong.
 */
export function describeQueueStats(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('queue stats', () => {
    const h = new BrokerHarness(factory, options);
    const claimed = h.capabilities.queueStats;
    const { deliveryMs } = h.options.timeouts;

    it.skipIf(!claimed)(`counts ready, unacked and dead-lettered messages of one queue ${needs.capability('queueStats')}`, async () => {
      const queue = h.queue('stats');
      const broker = h.broker();
      await broker.connect();
      expect((await broker.queueStats!(h.queue('stats-never-used'))).ready, 'a queue never used').toBe(0);
      for (let i = 0; i < 4; i++) await broker.publish(queue, kitMessage(`stats-${i}`));
      await broker.publish(h.queue('stats-other'), kitMessage('elsewhere'));
      await expect.poll(async () => (await broker.queueStats!(queue)).ready, { timeout: deliveryMs }).toBe(4);

      const consumer = h.consumer(h.broker(), queue, 1);
      const held = await consumer.next(deliveryMs);
      await expect.poll(async () => (await broker.queueStats!(queue)).ready, { timeout: deliveryMs }).toBe(3);
      const holding = await broker.queueStats!(queue);
      if (holding.unacked !== null) expect(holding.unacked, 'unacked while one delivery is held').toBe(1);
      if (holding.consumers !== null) expect(holding.consumers).toBeGreaterThanOrEqual(1);

      // Rejected for good: the consumer's window (prefetch 1) takes the next message.
      await held.reject(false);
      await expect.poll(async () => (await broker.queueStats!(queue)).ready, { timeout: deliveryMs }).toBe(2);
      const afterReject = await broker.queueStats!(queue);
      if (afterReject.unacked !== null) expect(afterReject.unacked, 'unacked after the window refilled').toBe(1);
      if (h.capabilities.deadLetter && afterReject.dead !== null) {
        await expect.poll(async () => (await broker.queueStats!(queue)).dead, { timeout: deliveryMs }).toBe(1);
      }
    });

    it.skipIf(!claimed)(`the age of the oldest waiting message, where reported, grows from its publish ${needs.capability('queueStats')}`, async () => {
      const queue = h.queue('stats-age');
      const broker = h.broker();
      await broker.connect();
      const empty = await broker.queueStats!(queue);
      if (empty.oldestAgeMs !== undefined) expect(empty.oldestAgeMs, 'an empty queue has no oldest message').toBeNull();
      const before = Date.now();
      await broker.publish(queue, kitMessage('age-1'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await broker.publish(queue, kitMessage('age-2'));
      const stats = await broker.queueStats!(queue);
      if (stats.oldestAgeMs === undefined || stats.oldestAgeMs === null) return;
      expect(stats.oldestAgeMs, 'the first message is the oldest').toBeGreaterThanOrEqual(250);
      expect(stats.oldestAgeMs).toBeLessThanOrEqual(Date.now() - before + 1_000);
      if (stats.delayed !== undefined && stats.delayed !== null) expect(stats.delayed).toBe(0);
    });
  });
}
