import { describe, expect, it } from 'vitest';
import type { BrokerFactory, ConformanceOptions } from '../options.js';
import { BrokerHarness } from '../support/broker-harness.js';
import { celeryTaskMessage, expectSameMessage, idOf, kitMessage } from '../support/messages.js';

const encoder = new TextEncoder();

/** Messages arrive exactly as sent: body bytes, headers and properties; queues do not mix. */
export function describePublishConsume(factory: BrokerFactory, options: ConformanceOptions): void {
  describe('publish and consume', () => {
    const h = new BrokerHarness(factory, options);
    const { deliveryMs, quietMs } = h.options.timeouts;

    it('round trip keeps body, headers and properties exact (published before any consumer)', async () => {
      const queue = h.queue('round-trip');
      const sent = celeryTaskMessage('round-trip-1');
      await h.broker().publish(queue, sent);
      const delivery = await h.consumer(h.broker(), queue, 1).next(deliveryMs);
      expectSameMessage(delivery.message, sent);
      expect(delivery.redelivered).toBe(false);
      await delivery.ack();
    });

    it('a waiting consumer receives a message published after it started', async () => {
      const queue = h.queue('waiting');
      const consumer = h.consumer(h.broker(), queue, 1);
      expect(await consumer.poll(quietMs), 'a new queue delivered something').toBeUndefined();
      const sent = kitMessage('late-1');
      await h.broker().publish(queue, sent);
      const delivery = await consumer.next(deliveryMs);
      expectSameMessage(delivery.message, sent);
      await delivery.ack();
    });

    it('empty body', async () => {
      const queue = h.queue('empty');
      const sent = kitMessage('empty-1', { body: new Uint8Array(0) });
      await h.broker().publish(queue, sent);
      const delivery = await h.consumer(h.broker(), queue, 1).next(deliveryMs);
      expectSameMessage(delivery.message, sent);
      await delivery.ack();
    });

    it('binary body with every byte value', async () => {
      const queue = h.queue('binary');
      const body = new Uint8Array(512).map((_, i) => i % 256);
      const sent = { ...kitMessage('binary-1', { body }), properties: { contentType: 'application/octet-stream', contentEncoding: 'binary' } };
      await h.broker().publish(queue, sent);
      const delivery = await h.consumer(h.broker(), queue, 1).next(deliveryMs);
      expectSameMessage(delivery.message, sent);
      await delivery.ack();
    });

    const largeBytes = Math.min(h.options.scale.largeBodyBytes, h.capabilities.maxMessageBytes ?? Infinity);
    it(`large body (${largeBytes} bytes: 1 MiB or capabilities.maxMessageBytes if smaller)`, async () => {
      const queue = h.queue('large');
      const body = new Uint8Array(largeBytes);
      for (let i = 0; i < body.length; i++) body[i] = (i * 2654435761) >>> 24;
      const sent = kitMessage('large-1', { body });
      await h.broker().publish(queue, sent);
      const delivery = await h.consumer(h.broker(), queue, 1).next(deliveryMs);
      expectSameMessage(delivery.message, sent);
      await delivery.ack();
    });

    it('unicode in body and headers', async () => {
      const queue = h.queue('unicode');
      const text = 'żółw 🐢 — 漢字 — עברית — e\u0301 — \u0000 — \u2028';
      const sent = kitMessage('unicode-1', {
        body: encoder.encode(JSON.stringify([[text], {}, {}])),
        headers: { argsrepr: `('${text}',)`, 'x-ключ': text, 'x-emoji-🔑': ['🐢', { 'ключ': 'значение' }] },
      });
      await h.broker().publish(queue, sent);
      const delivery = await h.consumer(h.broker(), queue, 1).next(deliveryMs);
      expectSameMessage(delivery.message, sent);
      await delivery.ack();
    });

    it('queues are isolated', async () => {
      const first = h.queue('isolation-a');
      const second = h.queue('isolation-b');
      const publisher = h.broker();
      await publisher.publish(first, kitMessage('only-in-a'));
      await publisher.publish(second, kitMessage('only-in-b'));
      const consumerA = h.consumer(h.broker(), first, 2);
      const consumerB = h.consumer(h.broker(), second, 2);
      const a = await consumerA.next(deliveryMs);
      const b = await consumerB.next(deliveryMs);
      expect(idOf(a.message)).toBe('only-in-a');
      expect(idOf(b.message)).toBe('only-in-b');
      await Promise.all([a.ack(), b.ack()]);
      expect(await consumerA.poll(quietMs), `a second message on ${first}`).toBeUndefined();
      expect(await consumerB.poll(0), `a second message on ${second}`).toBeUndefined();
    });
  });
}
