/**
 * Redis-specific broker behaviour the kit does not see: the unacked bookkeeping kombu shares
 * with Python workers, the visibility-timeout restore, lease extension, malformed list items.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Delivery } from '@tq/core/adapter';
import { decodeEnvelope } from '../src/envelope.js';
import { RedisKeys } from '../src/keys.js';
import { UnackedStore } from '../src/unacked-store.js';
import { parseRedisOptions } from '../src/options.js';
import { RedisBroker } from '../src/redis-broker.js';
import type { RedisDelivery } from '../src/redis-delivery.js';
import { deleteKeys, first, openBroker, rawClient, uniqueName, urlWith } from './support/test-redis.js';

const client = rawClient();
const prefixes: string[] = [];
const brokers: RedisBroker[] = [];

/** A broker on its own key prefix, so its visibility timeout only sees this test's deliveries. */
async function isolatedBroker(prefix: string, visibilitySeconds = '3600'): Promise<RedisBroker> {
  const broker = await openBroker(urlWith(prefix, { visibility_timeout: visibilitySeconds }));
  brokers.push(broker);
  return broker;
}

function newPrefix(label: string): string {
  const prefix = `${uniqueName(label)}:`;
  prefixes.push(prefix);
  return prefix;
}

const message = (id: string) => ({
  body: new TextEncoder().encode(`["${id}"]`),
  headers: { id, task: 'tq.test' },
  properties: { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: id },
});

afterAll(async () => {
  for (const broker of brokers) await broker.close();
  for (const prefix of prefixes) await deleteKeys(client, prefix);
  client.disconnect();
});

describe('unacked bookkeeping (kombu QoS)', () => {
  it('a delivery is recorded in "unacked" as [envelope, exchange, routing_key] and scored in "unacked_index"; ack removes both', async () => {
    const prefix = newPrefix('unacked');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    await broker.publish(q, message('m1'));
    const [raw] = await client.lrange(`${prefix}${q}`, 0, -1);
    const controller = new AbortController();
    const before = Date.now() / 1000;
    const delivery = await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
    const [tag] = await client.hkeys(`${prefix}unacked`);

    expect(await client.llen(`${prefix}${q}`)).toBe(0);
    // kombu's entry, the envelope's exact text; keyed by a tag fresh to this delivery (see redis-consumer.ts).
    expect(await client.hget(`${prefix}unacked`, tag!)).toBe(`[${raw}, "", "${q}"]`);
    expect(tag).not.toBe(JSON.parse(raw!).properties.delivery_tag);
    const score = Number(await client.zscore(`${prefix}unacked_index`, tag!));
    expect(score).toBeGreaterThanOrEqual(before - 1);
    expect(score).toBeLessThanOrEqual(Date.now() / 1000 + 1);

    await delivery.ack();
    expect(await client.hexists(`${prefix}unacked`, tag!)).toBe(0);
    expect(await client.zscore(`${prefix}unacked_index`, tag!)).toBeNull();
    controller.abort();
  });

  it('extend() pushes the unacked_index score forward', async () => {
    const prefix = newPrefix('extend');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    await broker.publish(q, message('m1'));
    const controller = new AbortController();
    const delivery = await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
    const [tag] = await client.hkeys(`${prefix}unacked`);
    const before = Number(await client.zscore(`${prefix}unacked_index`, tag!));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await delivery.extend!();
    const after = Number(await client.zscore(`${prefix}unacked_index`, tag!));
    expect(after - before).toBeGreaterThanOrEqual(0.04);
    await delivery.ack();
    controller.abort();
  });

  it("a dead consumer's delivery is restored to the front of its queue after the visibility timeout, flagged redelivered", async () => {
    const prefix = newPrefix('restore');
    const q = uniqueName('q');
    // The "dead" consumer: takes the message, never settles it, and its process would be gone.
    const dead = await isolatedBroker(prefix, '1');
    await dead.publish(q, message('lost'));
    await dead.publish(q, message('next'));
    const deadController = new AbortController();
    const taken = await first(dead.consume(q, { prefetch: 1, signal: deadController.signal }));
    expect(taken.message.headers['id']).toBe('lost');
    deadController.abort();

    const survivor = await isolatedBroker(prefix, '1');
    const started = Date.now();
    const controller = new AbortController();
    const received: Delivery[] = [];
    // Restore before consuming: "lost" is older than 1 s by then and goes to the front. (The
    // dead broker's own restorer timer may have done it first: either process may restore.)
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await survivor.restoreExpired();
    for await (const delivery of survivor.consume(q, { prefetch: 2, signal: controller.signal })) {
      received.push(delivery);
      await delivery.ack();
      if (received.length === 2) break;
    }
    expect(received.map((d) => [d.message.headers['id'], d.redelivered])).toEqual([
      ['lost', true],
      ['next', false],
    ]);
    // kombu's marker is transport state: it does not leak into the task headers.
    expect(received[0]!.message.headers).not.toHaveProperty('redelivered');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
  });

  it('restored envelopes carry kombu\'s redelivered flags in headers and delivery_info', async () => {
    const prefix = newPrefix('flags');
    const broker = await isolatedBroker(prefix, '1');
    const q = uniqueName('q');
    await broker.publish(q, message('m'));
    const controller = new AbortController();
    await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // Stop the restorer timer racing us: restore explicitly, then read the list directly.
    await broker.restoreExpired();
    const [raw] = await client.lrange(`${prefix}${q}`, 0, -1);
    const envelope = JSON.parse(raw!);
    expect(envelope.headers.redelivered).toBe(true);
    expect(envelope.properties.delivery_info).toEqual({ exchange: '', routing_key: q, redelivered: true });
    expect(decodeEnvelope(raw!).redelivered).toBe(true);
  });

  it('an extended delivery is not restored even when its first score is older than the timeout', async () => {
    const prefix = newPrefix('lease');
    const broker = await isolatedBroker(prefix, '1');
    const q = uniqueName('q');
    await broker.publish(q, message('m'));
    const controller = new AbortController();
    const delivery = await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await delivery.extend!();
    }
    expect(await broker.restoreExpired()).toBe(0);
    expect(await client.llen(`${prefix}${q}`)).toBe(0);
    await delivery.ack();
    controller.abort();
  });

  it('reject(true) puts the message behind the queue (kombu requeues leftmost)', async () => {
    const prefix = newPrefix('requeue');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    await broker.publish(q, message('a'));
    await broker.publish(q, message('b'));
    const controller = new AbortController();
    const order: string[] = [];
    for await (const delivery of broker.consume(q, { prefetch: 1, signal: controller.signal })) {
      const id = String(delivery.message.headers['id']);
      order.push(`${id}${delivery.redelivered ? '*' : ''}`);
      if (id === 'a' && !delivery.redelivered) await delivery.reject(true);
      else await delivery.ack();
      if (order.length === 3) break;
    }
    expect(order).toEqual(['a', 'b', 'a*']);
  });

  it('reject(false) moves the envelope unchanged to the "<queue>.dead" list', async () => {
    const prefix = newPrefix('dead');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    await broker.publish(q, message('d'));
    const [raw] = await client.lrange(`${prefix}${q}`, 0, -1);
    const controller = new AbortController();
    const delivery = await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
    await delivery.reject(false);
    expect(await client.lrange(`${prefix}${q}.dead`, 0, -1)).toEqual([raw]);
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
    controller.abort();
  });

  it('an envelope too deeply nested to write again is dead-lettered, requeued and restored as the text it came with', async () => {
    const prefix = newPrefix('deep');
    const q = uniqueName('q');
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`; // JSON.parse reads it; writing it again overflows the stack
    const raw =
      `{"body": "${Buffer.from('[[], {}, null]').toString('base64')}", "content-encoding": "utf-8", "content-type": "application/json", ` +
      `"headers": {"id": "deep", "task": "tq.test", "deep": ${deep}}, "properties": {"delivery_info": {"exchange": "", "routing_key": "${q}"}, ` +
      `"priority": 0, "body_encoding": "base64", "delivery_tag": "deep-tag"}}`;
    const broker = await isolatedBroker(prefix, '1');
    const take = async () => {
      const controller = new AbortController();
      const delivery = await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
      controller.abort();
      expect(delivery.message.headers['id']).toBe('deep');
      return delivery;
    };
    await client.lpush(`${prefix}${q}`, raw);
    await (await take()).reject(false);
    expect(await client.lrange(`${prefix}${q}.dead`, 0, -1)).toEqual([raw]);

    await client.lpush(`${prefix}${q}`, raw);
    await (await take()).reject(true);
    expect(await client.lrange(`${prefix}${q}`, 0, -1)).toEqual([raw]);

    await take(); // never settled: its consumer is gone
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await broker.restoreExpired();
    expect(await client.lrange(`${prefix}${q}`, 0, -1)).toEqual([raw]);
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
  });

  it("an expired delivery no binding routes is restored to kombu's ae.undeliver, not left to hold a place in every restore pass", async () => {
    const prefix = newPrefix('undeliver');
    const broker = await isolatedBroker(prefix, '1');
    const envelope = `{"body": "W10=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"id": "orphan", "task": "tq.test"}, "properties": {"delivery_info": {"exchange": "gone", "routing_key": "rk"}, "body_encoding": "base64", "delivery_tag": "0d9d7f0e-1d2c-4c47-a2a5-0a0b0c0d0e0f"}}`;
    const tag = '0d9d7f0e-1d2c-4c47-a2a5-0a0b0c0d0e0f'; // kombu's own tag: the foreign timeout applies
    await client.hset(`${prefix}unacked`, tag, `[${envelope}, "gone", "rk"]`);
    await client.zadd(`${prefix}unacked_index`, Date.now() / 1000 - 7200, tag);
    expect(await broker.restoreExpired()).toBe(1);
    const [restored] = await client.lrange(`${prefix}ae.undeliver`, 0, -1);
    expect(decodeEnvelope(restored!).redelivered).toBe(true);
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
  });

  it('says once at connect when Redis keeps nothing on disk (this server runs with save "" and appendonly no)', async () => {
    const [, save] = (await client.config('GET', 'save')) as [string, string];
    const [, appendonly] = (await client.config('GET', 'appendonly')) as [string, string];
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
    const prefix = newPrefix('persist');
    const broker = new RedisBroker(parseRedisOptions(urlWith(prefix), { logger }));
    brokers.push(broker);
    await broker.connect();
    const expected = save.trim() === '' && appendonly === 'no' ? 1 : 0;
    await expect.poll(() => warnings.length).toBe(expected);
    if (expected) expect(warnings[0]).toMatch(/keeps nothing on disk .*appendonly yes/);
    // A second broker on the same server in the same process (a CLI command opens more than one): said once.
    const again = new RedisBroker(parseRedisOptions(urlWith(prefix), { logger }));
    brokers.push(again);
    await again.connect();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(warnings).toHaveLength(expected);
  });

  it('a list item that is not a kombu envelope goes to "<queue>.dead" with a log line, and consumption goes on', async () => {
    const prefix = newPrefix('malformed');
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
    const broker = new RedisBroker(parseRedisOptions(urlWith(prefix, { visibility_timeout: '3600' }), { logger }));
    await broker.connect();
    brokers.push(broker);
    const q = uniqueName('q');
    await client.lpush(`${prefix}${q}`, 'not json at all');
    await broker.publish(q, message('good'));
    const controller = new AbortController();
    const delivery = await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
    expect(delivery.message.headers['id']).toBe('good');
    await delivery.ack();
    expect(await client.lrange(`${prefix}${q}.dead`, 0, -1)).toEqual(['not json at all']);
    expect(warnings.filter((w) => w.includes('kombu envelope'))).toEqual([expect.stringContaining(`redis: a message on ${q} is not a kombu envelope`)]);
    controller.abort();
  });

  it('close() hands unacked deliveries back to the front of their queue at once (kombu restore_at_shutdown)', async () => {
    const prefix = newPrefix('shutdown');
    const broker = await openBroker(urlWith(prefix));
    const q = uniqueName('q');
    await broker.publish(q, message('held'));
    await broker.publish(q, message('waiting'));
    const controller = new AbortController();
    await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
    await broker.close();
    const ids = (await client.lrange(`${prefix}${q}`, 0, -1)).map((raw) => JSON.parse(raw).headers.id);
    expect(ids).toEqual(['waiting', 'held']); // rightmost is served next
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
  });

  it('a consumer blocked in BRPOP stops at once on abort, and a message published after is left in the queue', async () => {
    const prefix = newPrefix('abort');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    const controller = new AbortController();
    const iteration = first(broker.consume(q, { prefetch: 1, signal: controller.signal })).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    controller.abort();
    expect(await iteration).toBeInstanceOf(Error); // ended without an item
    // Well under BRPOP's 5 s server timeout: the abort unblocked it (slack for a loaded machine).
    expect(Date.now() - started).toBeLessThan(3000);
    await broker.publish(q, message('after'));
    expect(await client.llen(`${prefix}${q}`)).toBe(1);
  });

  it('waiting messages are taken in one atomic batch of the free prefetch room, each recorded as unacked', async () => {
    const prefix = newPrefix('batch');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    for (const id of ['a', 'b', 'c', 'd', 'e']) await broker.publish(q, message(id));
    const controller = new AbortController();
    const iterator = broker.consume(q, { prefetch: 3, signal: controller.signal })[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value!.message.headers['id']).toBe('a');
    expect(await client.llen(`${prefix}${q}`)).toBe(2);
    expect(await client.hlen(`${prefix}unacked`)).toBe(3);
    expect(await client.zcard(`${prefix}unacked_index`)).toBe(3);
    // Abort with b and c taken but never read: they go back to the front, in order.
    controller.abort();
    await iterator.return?.();
    expect((await client.lrange(`${prefix}${q}`, 0, -1)).map((raw) => JSON.parse(raw).headers.id)).toEqual(['e', 'd', 'c', 'b']);
    expect(await client.hlen(`${prefix}unacked`)).toBe(1); // a: read, still owned by the caller
    await first.value!.ack();
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
  });

  it('a take re-sent with the same tags (ioredis resends what was in flight on a dropped connection) takes nothing and keeps the first batch recorded', async () => {
    const prefix = newPrefix('resend');
    const keys = new RedisKeys(prefix, 0);
    const store = new UnackedStore(client, keys, [0], 3_600_000);
    const q = uniqueName('q');
    for (const id of ['a', 'b', 'c', 'd']) await client.lpush(keys.queue(q, 0), JSON.stringify({ id }));
    const firstRun = await store.popAndRecord(q, [keys.queue(q, 0)], 'tagX.', 0, 2);
    const resent = await store.popAndRecord(q, [keys.queue(q, 0)], 'tagX.', 0, 2);
    expect(firstRun.map(([, raw]) => JSON.parse(raw).id)).toEqual(['a', 'b']);
    expect(resent).toEqual([]);
    expect(await client.llen(keys.queue(q, 0))).toBe(2);
    const recorded = await client.hgetall(`${prefix}unacked`);
    expect(Object.keys(recorded).sort()).toEqual(['tagX.0', 'tagX.1']);
    expect(JSON.parse(recorded['tagX.0']!)[0]).toEqual({ id: 'a' });
    // A fresh tag range takes again.
    expect((await store.popAndRecord(q, [keys.queue(q, 0)], 'tagX.', 2, 2)).map(([, raw]) => JSON.parse(raw).id)).toEqual(['c', 'd']);
  });

  it('acks given to a take are applied before it pops, and again harmlessly when the take is re-sent', async () => {
    const prefix = newPrefix('ackride');
    const keys = new RedisKeys(prefix, 0);
    const store = new UnackedStore(client, keys, [0], 3_600_000);
    const q = uniqueName('q');
    for (const id of ['a', 'b', 'c']) await client.lpush(keys.queue(q, 0), JSON.stringify({ id }));
    await store.popAndRecord(q, [keys.queue(q, 0)], 'tagY.', 0, 2);
    expect(Object.keys(await client.hgetall(`${prefix}unacked`)).sort()).toEqual(['tagY.0', 'tagY.1']);
    const taken = await store.popAndRecord(q, [keys.queue(q, 0)], 'tagY.', 2, 1, ['tagY.0', 'tagY.1']);
    expect(taken.map(([, raw]) => JSON.parse(raw).id)).toEqual(['c']);
    expect(Object.keys(await client.hgetall(`${prefix}unacked`))).toEqual(['tagY.2']);
    expect(await client.zrange(`${prefix}unacked_index`, '0', '-1')).toEqual(['tagY.2']);
    // The same command again (a resend after a dropped connection): no pop, the record stands.
    expect(await store.popAndRecord(q, [keys.queue(q, 0)], 'tagY.', 2, 1, ['tagY.0', 'tagY.1'])).toEqual([]);
    expect(Object.keys(await client.hgetall(`${prefix}unacked`))).toEqual(['tagY.2']);
  });

  it('acks made several at once (as result stores return them at concurrency 1 or 2) ride on the next take too, however many wait', async () => {
    const prefix = newPrefix('ackburst');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    const ids = Array.from({ length: 60 }, (_, i) => `m${i}`);
    for (const id of ids) await broker.publish(q, message(id));
    const standalone = vi.spyOn(UnackedStore.prototype, 'ack');
    const tags = new Set<string>();
    const controller = new AbortController();
    const iterator = broker.consume(q, { prefetch: 8, signal: controller.signal })[Symbol.asyncIterator]();
    const seen: string[] = [];
    const acks: Promise<void>[] = [];
    // Six read, then their six acks in one moment: the first acks free half the window and ride
    // on the take that starts; the other four wait for the next one.
    for (let burst = 0; burst < ids.length / 6; burst++) {
      const read: Delivery[] = [];
      for (let i = 0; i < 6; i++) read.push((await iterator.next()).value!);
      for (const delivery of read) {
        seen.push(String(delivery.message.headers['id']));
        tags.add((delivery as RedisDelivery).tag);
        acks.push(delivery.ack());
      }
    }
    await Promise.all(acks);
    expect(seen).toEqual(ids);
    // Only the acks after the queue ran empty go alone (sending 4 or more waiting ones alone would be ~4 a burst).
    expect(standalone.mock.calls.filter(([tag]) => tags.has(tag)).length).toBeLessThanOrEqual(8);
    standalone.mockRestore();
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
    controller.abort();
    await iterator.return?.();
  });

  it("a consumer's acks ride on its takes (no ack command of their own while it keeps taking), and an ack while it waits on an empty queue is not held by the wait", async () => {
    const prefix = newPrefix('ackcount');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    const ids = Array.from({ length: 40 }, (_, i) => `m${i}`);
    for (const id of ids) await broker.publish(q, message(id));
    // Stand-alone acks go through the broker's UnackedStore.ack (its batched ack script); riding ones do not.
    const standalone = vi.spyOn(UnackedStore.prototype, 'ack');
    const tags = new Set<string>();
    const controller = new AbortController();
    const iterator = broker.consume(q, { prefetch: 4, signal: controller.signal })[Symbol.asyncIterator]();
    const seen: string[] = [];
    // One at a time, as a worker at concurrency 1: read, ack (not waiting for Redis's reply), read the next.
    const acks: Promise<void>[] = [];
    for (let i = 0; i < ids.length; i++) {
      const delivery = (await iterator.next()).value!;
      seen.push(String(delivery.message.headers['id']));
      tags.add((delivery as RedisDelivery).tag);
      acks.push(delivery.ack());
    }
    await Promise.all(acks);
    expect(seen).toEqual(ids);
    expect(tags.size).toBe(ids.length);
    // The last few acks may go alone once the queue is empty; the rest rode on takes.
    expect(standalone.mock.calls.filter(([tag]) => tags.has(tag)).length).toBeLessThanOrEqual(4);
    standalone.mockRestore();
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);

    // The queue is empty: the consumer waits in a blocking command on its own connection. An ack
    // made now goes with the broker's ack batch, not behind that wait (up to 5 s).
    await broker.publish(q, message('late'));
    const late = (await iterator.next()).value!;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await late.ack();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
    controller.abort();
    await iterator.return?.();
  });

  it('concurrent publishes share one LPUSH and keep their order; concurrent acks share one script call', async () => {
    const prefix = newPrefix('moment');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    const ids = Array.from({ length: 300 }, (_, i) => `m${i}`);
    const before = await lpushCalls();
    await Promise.all(ids.map((id) => broker.publish(q, message(id))));
    // One LPUSH for the first 500 values of the moment (other tests may publish meanwhile, hence the slack).
    expect((await lpushCalls()) - before).toBeLessThan(10);
    const controller = new AbortController();
    const iterator = broker.consume(q, { prefetch: 300, signal: controller.signal })[Symbol.asyncIterator]();
    const deliveries: Delivery[] = [];
    while (deliveries.length < ids.length) deliveries.push((await iterator.next()).value!);
    expect(deliveries.map((d) => d.message.headers['id'])).toEqual(ids);
    expect(await client.hlen(`${prefix}unacked`)).toBe(300);
    await Promise.all(deliveries.map((d) => d.ack()));
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
    expect(await client.zcard(`${prefix}unacked_index`)).toBe(0);
    controller.abort();
    await iterator.return?.();
  });
});

describe('batched commands stay small', () => {
  it('a burst of ~300 KB of publishes goes out as LPUSHes of about 16 KB, in order', async () => {
    const prefix = newPrefix('chunks');
    const broker = await isolatedBroker(prefix);
    const q = uniqueName('q');
    const filler = 'x'.repeat(1_000);
    const ids = Array.from({ length: 200 }, (_, i) => `c${i}`);
    const before = await lpushCalls();
    await Promise.all(ids.map((id) => broker.publish(q, { ...message(id), body: new TextEncoder().encode(`["${id}", "${filler}"]`) })));
    // ~1.5 KB envelopes: ~300 KB in one moment, at most ~16 KB a command (command-size.ts), so at
    // least 18 commands; other test files may push meanwhile, hence no upper bound that is tight.
    const calls = (await lpushCalls()) - before;
    expect(calls).toBeGreaterThanOrEqual(18);
    expect(calls).toBeLessThan(80);
    const controller = new AbortController();
    const iterator = broker.consume(q, { prefetch: 200, signal: controller.signal })[Symbol.asyncIterator]();
    const deliveries: Delivery[] = [];
    while (deliveries.length < ids.length) deliveries.push((await iterator.next()).value!);
    expect(deliveries.map((d) => d.message.headers['id'])).toEqual(ids);
    await Promise.all(deliveries.map((d) => d.ack()));
    controller.abort();
    await iterator.return?.();
  });
});

async function lpushCalls(): Promise<number> {
  const stats = await client.info('commandstats');
  return Number(/cmdstat_lpush:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}
