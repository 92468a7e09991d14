import type { Delivery } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { idOf, kitMessage } from '../support/messages.js';

/** Several consumers on one queue share the work: every message once, none lost, none twice. */
export function describeCompetingConsumers(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('competing consumers', () => {
    const h = new BrokerHarness(factory, options);
    const { competingMessages: total, competingConsumers: consumers } = h.options.scale;
    const { quietMs } = h.options.timeouts;

    it(`${consumers} consumers get distinct messages (${total} messages, none lost, none duplicated)`, async () => {
      const queue = h.queue('competing');
      const seen = new Map<string, number>();
      const perConsumer = Array.from({ length: consumers }, () => 0);
      const started = Date.now();
      const streams = Array.from({ length: consumers }, () => h.consumer(h.broker(), queue, 20));
      let done!: () => void;
      const allSeen = new Promise<void>((resolve) => (done = resolve));
      const readers = streams.map(async (stream, index) => {
        for (;;) {
          const delivery: Delivery | undefined = await stream.poll(60_000);
          if (!delivery) return;
          const id = idOf(delivery.message);
          seen.set(id, (seen.get(id) ?? 0) + 1);
          perConsumer[index]!++;
          await delivery.ack();
          if (seen.size === total) done();
        }
      });
      const publisher = h.broker();
      const batch = 200;
      for (let i = 0; i < total; i += batch) {
        await Promise.all(Array.from({ length: Math.min(batch, total - i) }, (_, j) => publisher.publish(queue, kitMessage(`m-${i + j}`))));
      }
      const published = Date.now();
      await Promise.race([allSeen, Promise.all(readers)]);
      const finished = Date.now();
      // Give duplicates a moment to show up before counting.
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      await Promise.all(streams.map((s) => s.stop()));
      await Promise.all(readers);
      const duplicates = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
      expect(seen.size, 'distinct messages received').toBe(total);
      expect(duplicates, 'messages delivered more than once').toEqual([]);
      expect(perConsumer.reduce((a, b) => a + b, 0)).toBe(total);
      console.info(
        `[conformance] competing consumers: ${total} messages in ${finished - started} ms ` +
          `(publish ${published - started} ms), per consumer ${perConsumer.join('/')}`,
      );
    }, 120_000);
  });
}
