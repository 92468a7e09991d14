/** broadcast/subscribe (capability broadcast) over Redis pub/sub, on kombu's fanout channel names. */
import { readFileSync } from 'node:fs';
import { pythonJsonStringify } from '@tq/core/adapter';
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
  const envelope = JSON.parse(await got) as { body: string; properties: { delivery_info: unknown } };
  expect(Buffer.from(envelope.body, 'base64').toString()).toBe('ping');
  expect(envelope.properties.delivery_info).toEqual({ exchange: channel, routing_key: '' });
  subscriber.disconnect();
});

interface CapturedPublish {
  channel: string;
  envelope: { body: string; headers: Record<string, string>; properties: { delivery_info: { routing_key: string }; delivery_tag: string } };
}
const captured = JSON.parse(readFileSync(new URL('./fixtures/redis-events-examples.json', import.meta.url), 'utf8')) as {
  worker_online: CapturedPublish;
  task_multi: CapturedPublish;
};

it("a topic broadcast is kombu's: the same envelope text Celery PUBLISHes on /<db>.celeryev/<routing key>", async () => {
  const { worker_online: online } = captured;
  const sender = await broker();
  const db = new URL(urlWith('').href).pathname.slice(1) || '0';
  const subscriber = client.duplicate();
  const got = new Promise<[string, string]>((resolve) => subscriber.on('pmessage', (_p: string, c: string, m: string) => resolve([c, m])));
  await subscriber.psubscribe(`/${db}.celeryev/*`);
  const body = new Uint8Array(Buffer.from(online.envelope.body, 'base64'));
  await sender.broadcast('celeryev', body, { kind: 'topic', routingKey: 'worker.online', headers: online.envelope.headers });
  const [channel, text] = await got;
  subscriber.disconnect();
  expect(channel).toBe(`/${db}.celeryev/worker.online`);
  expect(online.channel).toBe('/13.celeryev/worker.online');
  // Byte for byte what kombu wrote, but for the random delivery tag.
  const tag = (JSON.parse(text) as CapturedPublish['envelope']).properties.delivery_tag;
  expect(text).toBe(pythonJsonStringify({ ...online.envelope, properties: { ...online.envelope.properties, delivery_tag: tag } }));
});

it("a subscriber of a topic pattern reads Celery's task.multi PUBLISH, and only keys its pattern matches", async () => {
  const { task_multi: multi } = captured;
  const listener = await broker();
  const db = new URL(urlWith('').href).pathname.slice(1) || '0';
  const controller = new AbortController();
  const tasks = listener.subscribe('celeryev', controller.signal, { kind: 'topic', pattern: 'task.*' })[Symbol.asyncIterator]();
  const next = tasks.next();
  // A key wider than task.* (Redis's glob would take it) goes first each round: it must be dropped.
  const wrong = { ...multi.envelope, body: Buffer.from('"wrong"').toString('base64') };
  const timer = setInterval(() => {
    void client.publish(`/${db}.celeryev/task.multi.extra`, JSON.stringify(wrong));
    void client.publish(`/${db}.celeryev/task.multi`, JSON.stringify(multi.envelope));
  }, 100);
  const { value } = await next.finally(() => clearInterval(timer));
  expect(Buffer.from(value!).equals(Buffer.from(multi.envelope.body, 'base64'))).toBe(true);
  expect(JSON.parse(Buffer.from(value!).toString())).toHaveLength(2);
  controller.abort();
});
