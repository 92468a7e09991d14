import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { sleep, withTimeout } from '../support/timing.js';
import { needs } from '../support/titles.js';

const encoder = new TextEncoder();

/** Control-channel fan-out: every subscriber gets every broadcast, byte for byte. */
export function describeBroadcast(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('broadcast', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs } = h.options.timeouts;
    const claimed = h.capabilities.broadcast;

    it.skipIf(!claimed)(`every subscriber receives each broadcast ${needs.capability('broadcast')}`, async () => {
      const channel = h.queue('broadcast');
      const controller = new AbortController();
      const subscribers = [h.broker(), h.broker()].map((b) => b.subscribe(channel, controller.signal)[Symbol.asyncIterator]());
      const firsts = subscribers.map((s) => s.next());
      const publisher = h.broker();
      // Subscriptions have no "ready" signal: repeat a warm-up until both subscribers hear it.
      const warmUp = encoder.encode('warm-up');
      let heard = false;
      void Promise.all(firsts).then(() => (heard = true));
      const deadline = Date.now() + deliveryMs;
      while (!heard && Date.now() < deadline) {
        await publisher.broadcast(channel, warmUp);
        await sleep(100);
      }
      const first = await withTimeout(Promise.all(firsts), 1_000, 'both subscribers to hear the warm-up broadcast');
      for (const result of first) expect(Buffer.from(result.value!).toString()).toBe('warm-up');
      // Drain extra warm-ups, then the real message must reach both, exactly.
      const body = new Uint8Array([0, 1, 2, 255, ...encoder.encode('revoke 🐢')]);
      await publisher.broadcast(channel, body);
      for (const subscriber of subscribers) {
        for (;;) {
          const next = await withTimeout(subscriber.next(), deliveryMs, 'the broadcast after the warm-ups');
          expect(next.done).toBe(false);
          if (Buffer.from(next.value!).toString() === 'warm-up') continue;
          expect(Buffer.from(next.value!).equals(Buffer.from(body))).toBe(true);
          break;
        }
      }
      controller.abort();
      await Promise.all(subscribers.map((s) => s.return?.()));
    });

    it.skipIf(!claimed)(`subscribe ends when its signal aborts ${needs.capability('broadcast')}`, async () => {
      const controller = new AbortController();
      const subscription = h.broker().subscribe(h.queue('broadcast-abort'), controller.signal)[Symbol.asyncIterator]();
      const pending = subscription.next();
      setTimeout(() => controller.abort(), 200).unref();
      expect((await withTimeout(pending, 5_000, 'subscribe to end after abort')).done).toBe(true);
    });
  });
}
