/**
 * Wire compatibility with kombu's Redis transport, checked against messages Python Celery 5.2.6
 * (kombu 5.2.4) wrote (fixtures/ = /work/shared/celery-wire captures): tq writes the same bytes
 * to the same keys, and reads Python's envelopes back exactly.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../src/envelope.js';
import { SEP } from '../src/index.js';
import type { RedisBroker } from '../src/redis-broker.js';
import { deleteKeys, first, openBroker, rawClient, uniqueName, urlWith } from './support/test-redis.js';

interface Capture {
  readonly redis_keys: Record<string, { type: string; value: string[] }>;
}

function capture(name: string): Capture {
  return JSON.parse(readFileSync(new URL(`./fixtures/redis-send-${name}.json`, import.meta.url), 'utf8')) as Capture;
}

/** Python's envelope for queue `from`, as it would read for queue `to` and delivery tag `tag`. */
function retarget(raw: string, from: string, to: string, tag: string): string {
  return raw
    .replace(`"routing_key": "${from}"`, `"routing_key": "${to}"`)
    .replace(/"delivery_tag": "[^"]+"/, `"delivery_tag": "${tag}"`);
}

function tagOf(raw: string): string {
  return /"delivery_tag": "([^"]+)"/.exec(raw)![1]!;
}

const prefix = `${uniqueName('layout')}:`;
const client = rawClient();
let broker: RedisBroker;

beforeAll(async () => {
  broker = await openBroker(urlWith(prefix));
});

afterAll(async () => {
  await broker.close();
  await deleteKeys(client, prefix);
  client.disconnect();
});

describe('tq writes what kombu writes', () => {
  for (const [scenario, queue] of [
    ['plain', 'celery'],
    ['unicode-and-types', 'celery'],
    ['custom-queue', 'tq.custom'],
  ] as const) {
    it(`${scenario}: the list item is byte-for-byte the Python envelope, and the binding set matches`, async () => {
      const python = capture(scenario).redis_keys;
      const pythonRaw = python[queue]!.value[0]!;
      const q = uniqueName(scenario);
      await broker.publish(q, decodeEnvelope(pythonRaw).message);

      const written = await client.lrange(`${prefix}${q}`, 0, -1);
      expect(written).toHaveLength(1);
      expect(written[0]).toBe(retarget(pythonRaw, queue, q, tagOf(written[0]!)));
      expect(tagOf(written[0]!)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

      const pythonBinding = python[`_kombu.binding.${queue}`]!.value;
      expect(await client.smembers(`${prefix}_kombu.binding.${q}`)).toEqual(pythonBinding.map((m) => m.split(queue).join(q)));
    });
  }

  it('priority: each message lands in the list of its kombu step ("q", "q\\x06\\x163", "q\\x06\\x169") with Python\'s bytes', async () => {
    const python = capture('priority').redis_keys;
    const q = uniqueName('priority');
    const lists = ['celery', `celery${SEP}3`, `celery${SEP}9`];
    for (const list of lists) for (const raw of [...python[list]!.value].reverse()) await broker.publish(q, decodeEnvelope(raw).message);
    for (const list of lists) {
      const ours = await client.lrange(`${prefix}${list.replace('celery', q)}`, 0, -1);
      const theirs = python[list]!.value;
      expect(ours).toHaveLength(theirs.length);
      ours.forEach((raw, i) => expect(raw).toBe(retarget(theirs[i]!, 'celery', q, tagOf(raw))));
    }
    expect(Buffer.from(`celery${SEP}3`).toString('hex')).toBe('63656c657279061633');
  });
});

describe('tq reads what kombu writes', () => {
  it('a Python envelope pushed onto a queue arrives with its body, headers and properties', async () => {
    const pythonRaw = capture('unicode-and-types').redis_keys['celery']!.value[0]!;
    const q = uniqueName('read');
    await client.lpush(`${prefix}${q}`, pythonRaw);
    const controller = new AbortController();
    const delivery = await first(broker.consume(q, { prefetch: 1, signal: controller.signal }));
    const envelope = JSON.parse(pythonRaw);
    expect(Buffer.from(delivery.message.body).toString('base64')).toBe(envelope.body);
    expect(delivery.message.headers).toEqual(envelope.headers);
    expect(delivery.message.properties).toEqual({
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      correlationId: envelope.properties.correlation_id,
      replyTo: envelope.properties.reply_to,
      deliveryMode: 2,
      priority: 9, // kombu's 0 (served first) is tq's 9
    });
    expect(delivery.redelivered).toBe(false);
    await delivery.ack();
    controller.abort();
  });

  it('Python priorities keep their meaning: kombu 0 (most urgent) is served before 3, 5 and 9, and reads as tq 9, 6, 4, 0', async () => {
    const python = capture('priority').redis_keys;
    const q = uniqueName('pyprio');
    for (const list of ['celery', `celery${SEP}3`, `celery${SEP}9`]) {
      for (const raw of python[list]!.value) await client.rpush(`${prefix}${list.replace('celery', q)}`, raw);
    }
    const controller = new AbortController();
    const seen: Array<[unknown, number | undefined]> = [];
    for await (const delivery of broker.consume(q, { prefetch: 4, signal: controller.signal })) {
      seen.push([JSON.parse(Buffer.from(delivery.message.body).toString())[0][0], delivery.message.properties.priority]);
      await delivery.ack();
      if (seen.length === 4) break;
    }
    // 3 and 5 share kombu's step 3; within a step, FIFO (the capture's list is [5, 3] from the left).
    expect(seen).toEqual([
      [0, 9],
      [3, 6],
      [5, 4],
      [9, 0],
    ]);
  });
});
