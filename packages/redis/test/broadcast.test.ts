/** broadcast/subscribe (capability broadcast) over Redis pub/sub, on kombu's fanout channel names. */
import { afterAll, expect, it } from 'vitest';
import type { RedisBroker } from '../src/redis-broker.js';
import { openBroker, rawClient, uniqueName, urlWith } from './support/test-redis.js';

const client = rawClient();
const brokers: RedisBroker[] = [];

afterAll(async () => {
  for (const broker of brokers) await broker.close();
  client.disconnect();
});

async function broker(prefix = ''): Promise<RedisBroker> {
  const b = await openBroker(urlWith(prefix));
  brokers.push(b);
  return b;
}

async function read(iterable: AsyncIterable<Uint8Array>, count: number): Promise<string[]> {
  const out: string[] = [];
  for await (const bytes of iterable) {
    out.push(Buffer.from(bytes).toString());
    if (out.length === count) break;
  }
  return out;
}

it('every subscriber on every connection gets each broadcast, bytes intact; none after abort', async () => {
  const [sender, a, b] = [await broker(), await broker(), await broker()];
  const channel = uniqueName('bc');
  const ca = new AbortController();
  const cb = new AbortController();
  const readA = read(a.subscribe(channel, ca.signal), 2);
  const readB = read(b.subscribe(channel, cb.signal), 2);
  // Wait until both SUBSCRIBEs reached the server (pub/sub has no backlog).
  const db = new URL(urlWith('').href).pathname.slice(1) || '0';
  for (let i = 0; i < 100; i++) {
    const counts = (await client.call('PUBSUB', 'NUMSUB', `/${db}.${channel}`)) as [string, number];
    if (Number(counts[1]) === 2) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await sender.broadcast(channel, new TextEncoder().encode('{"method": "revoke"}'));
  await sender.broadcast(channel, new Uint8Array([0xe2, 0x82, 0xac]));
  expect(await readA).toEqual(['{"method": "revoke"}', '€']);
  expect(await readB).toEqual(['{"method": "revoke"}', '€']);
  ca.abort();
  cb.abort();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const counts = (await client.call('PUBSUB', 'NUMSUB', `/${db}.${channel}`)) as [string, number];
  expect(Number(counts[1])).toBe(0);
});

it("the channel is kombu's fanout name, prefixed like every key: <prefix>/<db>.<channel>", async () => {
  const prefix = `${uniqueName('bcp')}:`;
  const sender = await broker(prefix);
  const channel = uniqueName('bc');
  const db = new URL(urlWith('').href).pathname.slice(1) || '0';
  const subscriber = client.duplicate();
  const got = new Promise<string>((resolve) => subscriber.on('message', (_c: string, m: string) => resolve(m)));
  await subscriber.subscribe(`${prefix}/${db}.${channel}`);
  await sender.broadcast(channel, new TextEncoder().encode('ping'));
  expect(await got).toBe('ping');
  subscriber.disconnect();
});
