/** broadcast/subscribe on fanout exchanges (capabilities.broadcast), and consume misuse. */
import { randomBytes } from 'node:crypto';
import { isTqError } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import { adminConnection } from './support/env.js';
import { trackResources, urlVia } from './support/brokers.js';
import { TcpTap } from './support/tcp-tap.js';

async function firstWithin<T>(iterator: AsyncIterator<T>, ms: number, poke: () => Promise<void>): Promise<T> {
  // Subscribing binds in the background: keep broadcasting until the subscriber hears one.
  const timer = setInterval(() => void poke().catch(() => undefined), 100);
  try {
    const result = await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms)),
    ]);
    if (result.done) throw new Error('the subscription ended');
    return result.value;
  } finally {
    clearInterval(timer);
  }
}

describe('broadcast', () => {
  const t = trackResources();

  it('every subscriber receives each broadcast; aborting ends the subscription', async () => {
    const channelName = `tqamqp-bcast-${randomBytes(4).toString('hex')}`;
    const sender = t.broker();
    const [a, b] = [t.broker(), t.broker()];
    await Promise.all([sender.connect(), a.connect(), b.connect()]);
    const controller = new AbortController();
    const subA = a.subscribe(channelName, controller.signal)[Symbol.asyncIterator]();
    const subB = b.subscribe(channelName, controller.signal)[Symbol.asyncIterator]();
    const body = new TextEncoder().encode('{"method": "ping"}');
    const poke = () => sender.broadcast(channelName, body);
    const [gotA, gotB] = await Promise.all([firstWithin(subA, 10_000, poke), firstWithin(subB, 10_000, poke)]);
    expect(Buffer.from(gotA).toString()).toBe('{"method": "ping"}');
    expect(Buffer.from(gotB).toString()).toBe('{"method": "ping"}');

    controller.abort();
    // Broadcasts already buffered are still read, then the stream ends.
    for (const sub of [subA, subB]) {
      let leftovers = 0;
      while (!(await sub.next()).done) expect(++leftovers, 'the subscription did not end').toBeLessThan(1_000);
    }
    // The exchange outlives a broadcast sent after the last subscriber left (auto-delete fires
    // on the last unbind only, as with kombu's pidbox exchanges): remove it.
    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    await (await admin.createChannel()).deleteExchange(channelName);
  });

  it('a subscription comes back after its connection is cut', async () => {
    const channelName = `tqamqp-bcast-${randomBytes(4).toString('hex')}`;
    const tap = await TcpTap.start({ host: '127.0.0.1', port: Number(urlVia(undefined).port || 5672) });
    t.onCleanup(() => tap.close());
    const sender = t.broker();
    const listener = t.broker(urlVia(tap.port));
    await Promise.all([sender.connect(), listener.connect()]);
    const controller = new AbortController();
    t.onCleanup(async () => controller.abort());
    const sub = listener.subscribe(channelName, controller.signal)[Symbol.asyncIterator]();
    await firstWithin(sub, 10_000, () => sender.broadcast(channelName, new TextEncoder().encode('before')));
    tap.cut();
    const after = await firstWithin(sub, 10_000, () => sender.broadcast(channelName, new TextEncoder().encode('after')));
    // Broadcasts sent during the cut are lost by design; the first one heard after is "after".
    expect(['before', 'after']).toContain(Buffer.from(after).toString());
    const next = await firstWithin(sub, 10_000, () => sender.broadcast(channelName, new TextEncoder().encode('after')));
    expect(Buffer.from(next).toString()).toBe('after');
  });
});

describe('misuse', () => {
  const t = trackResources();

  it('consuming from a broker that was never connected fails the stream with BrokerConnectionError', async () => {
    const broker = t.broker();
    const iterator = broker.consume(t.queue('unconnected'), { prefetch: 1, signal: new AbortController().signal })[Symbol.asyncIterator]();
    const error = await iterator.next().catch((e: unknown) => e);
    expect(isTqError(error, 'TQ_BROKER_UNAVAILABLE')).toBe(true);
  });

  it('a queue that exists with other arguments is a ConfigError naming the mismatch', async () => {
    const queue = t.queue('mismatch');
    const plain = t.broker();
    await plain.connect();
    await plain.purge(queue); // declares it Celery's way: no x-max-priority
    const prioritised = t.broker(urlVia(undefined, { maxPriority: '10' }));
    await prioritised.connect();
    const error = await prioritised.purge(queue).catch((e: unknown) => e);
    expect(isTqError(error, 'TQ_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/x-max-priority/);
    expect((error as Error).message).not.toContain(':guest@');
  });
});
