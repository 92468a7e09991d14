import { describe, expect, it } from 'vitest';
import type { BrokerMessage, Delivery } from '../src/adapter.js';
import { MemoryBroker } from '../src/memory/memory-broker.js';
import { MemoryHub } from '../src/memory/memory-hub.js';
import { sleep } from './helpers.js';

const message = (n: number, priority = 0): BrokerMessage => ({
  body: new TextEncoder().encode(String(n)),
  headers: { n },
  properties: { contentType: 'application/json', contentEncoding: 'utf-8', priority },
});
const bodyOf = (d: Delivery) => Number(new TextDecoder().decode(d.message.body));

async function take(iterable: AsyncIterable<Delivery>, count: number): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const iterator = iterable[Symbol.asyncIterator]();
  while (out.length < count) {
    const next = await iterator.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

describe('memory broker semantics', () => {
  it('deliveries read but unsettled by a stopped consumer return to the queue when its broker closes', async () => {
    const hub = new MemoryHub();
    const broker = new MemoryBroker(hub);
    for (let i = 0; i < 3; i++) await broker.publish('q', message(i));
    const controller = new AbortController();
    const read = await take(broker.consume('q', { prefetch: 2, signal: controller.signal }), 1);
    expect(read.map(bodyOf)).toEqual([0]);
    controller.abort(); // the unread second delivery goes back now, the read one stays the reader's
    expect(hub.queue('q').size).toBe(2);
    await broker.close(); // a connection dying: the read one comes back too
    expect(hub.queue('q').size).toBe(3);
  });

  it('prefetch bounds unacked deliveries; acking lets the next one through', async () => {
    const hub = new MemoryHub();
    const broker = new MemoryBroker(hub);
    for (let i = 0; i < 10; i++) await broker.publish('q', message(i));
    const controller = new AbortController();
    const stream = broker.consume('q', { prefetch: 3, signal: controller.signal });
    const first = await take(stream, 3);
    expect(first.map(bodyOf)).toEqual([0, 1, 2]);
    expect(hub.queue('q').size).toBe(7); // nothing beyond the prefetch left the queue
    await first[0]!.ack();
    expect(hub.queue('q').size).toBe(6);
    expect((await take(stream, 1)).map(bodyOf)).toEqual([3]);
    controller.abort();
    await broker.close();
  });

  it('unacked deliveries return when the consuming connection dies', async () => {
    const hub = new MemoryHub();
    const worker = new MemoryBroker(hub);
    const producer = new MemoryBroker(hub);
    for (let i = 0; i < 3; i++) await producer.publish('q', message(i));
    const got = await take(worker.consume('q', { prefetch: 3, signal: new AbortController().signal }), 3);
    await got[0]!.ack();
    await worker.close(); // no reject: a dead connection
    await got[1]!.ack(); // too late: a no-op
    const again = await take(producer.consume('q', { prefetch: 5, signal: new AbortController().signal }), 2);
    expect(again.map(bodyOf).sort()).toEqual([1, 2]);
    expect(again.every((d) => d.redelivered)).toBe(true);
    await producer.close();
  });

  it('reject(true) redelivers, reject(false) dead-letters and never returns', async () => {
    const hub = new MemoryHub();
    const broker = new MemoryBroker(hub);
    await broker.publish('q', message(1));
    await broker.publish('q', message(2));
    const stream = broker.consume('q', { prefetch: 1, signal: new AbortController().signal });
    const iterator = stream[Symbol.asyncIterator]();
    const one = (await iterator.next()).value as Delivery;
    await one.reject(true);
    const again = (await iterator.next()).value as Delivery;
    expect(bodyOf(again)).toBe(1);
    expect(again.redelivered).toBe(true);
    await again.reject(false);
    const two = (await iterator.next()).value as Delivery;
    expect(bodyOf(two)).toBe(2);
    await two.ack();
    expect(hub.queue('q').size).toBe(0);
    expect(hub.queue('q.dead').size).toBe(1);
    await broker.close();
  });

  it('delivers higher priority first and holds delayed messages until due', async () => {
    const broker = new MemoryBroker(new MemoryHub());
    await broker.publish('q', { ...message(99), notBefore: Date.now() + 150 });
    await broker.publish('q', message(1, 0));
    await broker.publish('q', message(9, 9));
    await broker.publish('q', message(5, 5));
    const stream = broker.consume('q', { prefetch: 1, signal: new AbortController().signal });
    const iterator = stream[Symbol.asyncIterator]();
    const order: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 4; i++) {
      const d = (await iterator.next()).value as Delivery;
      order.push(bodyOf(d));
      await d.ack();
    }
    expect(order).toEqual([9, 5, 1, 99]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await broker.close();
  });

  it('competing consumers each get distinct messages, none lost', async () => {
    const hub = new MemoryHub();
    const producer = new MemoryBroker(hub);
    const total = 2000;
    for (let i = 0; i < total; i++) await producer.publish('q', message(i));
    const seen: number[] = [];
    const consumers = Array.from({ length: 4 }, () => new MemoryBroker(hub));
    const controller = new AbortController();
    await Promise.all(
      consumers.map(async (broker) => {
        for await (const d of broker.consume('q', { prefetch: 8, signal: controller.signal })) {
          seen.push(bodyOf(d));
          await d.ack();
          if (seen.length === total) controller.abort();
          await sleep(0);
        }
      }),
    );
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
  });
});
