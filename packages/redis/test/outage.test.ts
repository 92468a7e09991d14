/**
 * A consume stream outlives a Redis outage longer than the command retry budget: its own
 * connection waits for the server and resumes (ioredis reconnects and resends), and the
 * delivery it held before the cut is still acked afterwards. Faults come from the kit's
 * FaultProxy between the broker and the shared server.
 */
import { FaultProxy } from '@tq/conformance';
import { afterAll, expect, it } from 'vitest';
import type { RedisBroker } from '../src/redis-broker.js';
import { baseUrl, deleteKeys, openBroker, rawClient, uniqueName, urlWith } from './support/test-redis.js';

const client = rawClient();
const prefix = `${uniqueName('outage')}:`;
let proxy: FaultProxy | undefined;
const brokers: RedisBroker[] = [];

afterAll(async () => {
  for (const broker of brokers) await broker.close();
  await proxy?.close();
  await deleteKeys(client, prefix);
  client.disconnect();
});

const message = (id: string) => ({
  body: new TextEncoder().encode(`["${id}"]`),
  headers: { id, task: 'tq.test' },
  properties: { contentType: 'application/json', contentEncoding: 'utf-8' },
});

it('a consumer resumes on the same stream after a 4 s outage; messages published meanwhile arrive', async () => {
  const target = new URL(baseUrl);
  proxy = await FaultProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
  const viaProxy = urlWith(prefix);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const consumerSide = await openBroker(viaProxy);
  const direct = await openBroker(urlWith(prefix));
  brokers.push(consumerSide, direct);
  const q = uniqueName('q');

  await direct.publish(q, message('before'));
  const controller = new AbortController();
  const iterator = consumerSide.consume(q, { prefetch: 2, signal: controller.signal })[Symbol.asyncIterator]();
  const before = await iterator.next();
  expect(before.value!.message.headers['id']).toBe('before');

  const waiting = iterator.next(); // blocked in BRPOP when the outage starts
  proxy.setMode('refuse');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await direct.publish(q, message('during'));
  await new Promise((resolve) => setTimeout(resolve, 3000));
  proxy.setMode('forward');

  const during = await waiting;
  expect(during.value!.message.headers['id']).toBe('during');
  await before.value!.ack();
  await during.value!.ack();
  expect(await client.hlen(`${prefix}unacked`)).toBe(0);
  controller.abort();
  await iterator.return?.();
}, 30_000);

it('an ack that fails during a blip is sent again once Redis answers, while the delivery is still ours (not redelivered after the visibility timeout)', async () => {
  const target = new URL(baseUrl);
  const blip = await FaultProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
  try {
    const viaProxy = urlWith(prefix, { socket_timeout: '1', visibility_timeout: '10' });
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(blip.port);
    const consumerSide = await openBroker(viaProxy);
    const direct = await openBroker(urlWith(prefix));
    brokers.push(consumerSide, direct);
    const q = uniqueName('ack-blip');
    await direct.publish(q, message('acked-in-blip'));
    const controller = new AbortController();
    const iterator = consumerSide.consume(q, { prefetch: 1, signal: controller.signal })[Symbol.asyncIterator]();
    const first = await iterator.next();
    const delivery = first.value!;
    expect(delivery.message.headers['id']).toBe('acked-in-blip');

    // The connection goes silent: the ack's first attempt times out after socket_timeout (1 s).
    blip.silence();
    blip.setMode('drop');
    const acking = delivery.ack().then(
      () => 'acked',
      (error: unknown) => `failed: ${String(error)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    blip.setMode('forward');
    expect(await acking).toBe('acked');
    // Settled for good: nothing left in the unacked hash to be restored after the visibility timeout.
    expect(await client.hlen(`${prefix}unacked`)).toBe(0);
    controller.abort();
    await iterator.return?.();
  } finally {
    await blip.close();
  }
}, 30_000);

it('a consumer stopped while Redis is away ends at once (its wait is not left pending on a cancelled reconnect)', async () => {
  const target = new URL(baseUrl);
  const local = await FaultProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
  const viaProxy = urlWith(prefix);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(local.port);
  const consumerSide = await openBroker(viaProxy);
  try {
    const controller = new AbortController();
    const iterator = consumerSide.consume(uniqueName('q'), { prefetch: 2, signal: controller.signal })[Symbol.asyncIterator]();
    const waiting = iterator.next(); // blocked on the empty queue when Redis goes away
    await new Promise((resolve) => setTimeout(resolve, 300));
    local.setMode('refuse');
    // Long enough for ioredis's reconnect backoff (up to 2 s) to be the usual state.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const stoppedAt = Date.now();
    controller.abort();
    const end = await Promise.race([waiting.then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 8000))]);
    expect(end).toBe('ended');
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
  } finally {
    await consumerSide.close();
    await local.close();
  }
}, 30_000);
