import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { expectSameMessage, idOf, kitMessage } from '../support/messages.js';
import { sleep } from '../support/timing.js';
import { needs } from '../support/titles.js';

/** Longest redelivery window the kit waits out; longer ones need a test configuration. */
const maxTestableWindowMs = 30_000;

/** Unacked deliveries are not lost: they come back when their consumer dies, or after the window. */
export function describeRedelivery(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('redelivery of unacked messages', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs, quietMs } = h.options.timeouts;
    const window = h.capabilities.redeliveryWindowMs;
    const windowTestable = window !== null && window <= maxTestableWindowMs;

    it.skipIf(!h.capabilities.redeliversUnacked || !h.canCut)(
      `unacked deliveries come back when the consumer's connection is cut ${needs.capability('redeliversUnacked')} ${needs.cut}`,
      async () => {
        const queue = h.queue('cut');
        const sent = [kitMessage('cut-1'), kitMessage('cut-2'), kitMessage('cut-3')];
        const publisher = h.broker();
        for (const message of sent) await publisher.publish(queue, message);
        const victim = await h.cuttableBroker();
        const doomed = h.consumer(victim.broker, queue, sent.length);
        const held = await doomed.take(sent.length, deliveryMs);
        expect(held.map((d) => idOf(d.message)).sort()).toEqual(['cut-1', 'cut-2', 'cut-3']);
        await victim.cut();
        void doomed.stop();
        const survivor = h.consumer(h.broker(), queue, sent.length);
        const back = await survivor.take(sent.length, h.redeliveryMs);
        const byId = new Map(back.map((d) => [idOf(d.message), d]));
        expect([...byId.keys()].sort()).toEqual(['cut-1', 'cut-2', 'cut-3']);
        for (const message of sent) expectSameMessage(byId.get(idOf(message))!.message, message);
        if (h.capabilities.flagsRedeliveryAfterCut)
          for (const delivery of back) expect(delivery.redelivered, `${idOf(delivery.message)} came back after a cut but is not flagged redelivered (declare flagsRedeliveryAfterCut: false if that is best effort)`).toBe(true);
        await Promise.all(back.map((d) => d.ack()));
        expect(await survivor.poll(quietMs), 'a message came back twice').toBeUndefined();
      },
      h.redeliveryMs + 30_000,
    );

    it.skipIf(!windowTestable)(
      `an unacked delivery is redelivered after the redelivery window ${needs.capability(`redeliveryWindowMs <= ${maxTestableWindowMs}`)}`,
      async () => {
        const queue = h.queue('window');
        const sent = kitMessage('window-1');
        await h.broker().publish(queue, sent);
        const holder = h.consumer(h.broker(), queue, 1);
        const held = await holder.next(deliveryMs);
        const heldAt = Date.now();
        const other = h.consumer(h.broker(), queue, 1);
        const again = await other.next(window! + deliveryMs);
        expect(Date.now() - heldAt, 'redelivered before the window elapsed').toBeGreaterThanOrEqual(window! * 0.9);
        expectSameMessage(again.message, sent);
        expect(again.redelivered, 'a delivery that outlived its window must come back flagged redelivered').toBe(true);
        await again.ack();
        await held.ack();
      },
      (window ?? 0) * 2 + deliveryMs + 30_000,
    );

    it.skipIf(!windowTestable)(
      `extend() keeps a delivery from being redelivered ${needs.capability(`redeliveryWindowMs <= ${maxTestableWindowMs}`)}`,
      async () => {
        const queue = h.queue('extend');
        await h.broker().publish(queue, kitMessage('extend-1'));
        const holder = h.consumer(h.broker(), queue, 1);
        const held = await holder.next(deliveryMs);
        expect(typeof held.extend, 'Delivery.extend is required when redeliveryWindowMs is set').toBe('function');
        const other = h.consumer(h.broker(), queue, 1);
        const holdFor = Math.round(window! * 1.5);
        const until = Date.now() + holdFor;
        const step = Math.max(50, Math.floor(window! / 3));
        while (Date.now() < until) {
          await held.extend!();
          expect(await other.poll(Math.min(step, Math.max(1, until - Date.now()))), 'redelivered while extended').toBeUndefined();
        }
        await held.ack();
        await sleep(quietMs);
        expect(await other.poll(Math.max(quietMs, window!)), 'redelivered after ack').toBeUndefined();
      },
      (window ?? 0) * 3 + deliveryMs + 30_000,
    );
  });
}
