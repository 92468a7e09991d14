/**
 * tq's AMQP messages and declarations against what Celery 5.2.6 / kombu 5.2.4 / py-amqp 5.1.1
 * put on the wire (captures in test/fixtures, from /work/shared/celery-wire).
 */
import { readFileSync } from 'node:fs';
import { encodeTaskMessage, jsonSerializer, type Delivery } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import { adminConnection } from './support/env.js';
import { trackResources, urlVia } from './support/brokers.js';
import { amqpFrames, headerFieldTypes, TcpTap } from './support/tcp-tap.js';

interface Capture {
  messages: Record<string, { content_header_frame_base64: string; body_base64: string; content_header: { header_field_types: Record<string, string>; properties: { reply_to: string; headers: { origin: string; id: string } } } }[]>;
}

function capture(name: string): Capture {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as Capture;
}

async function first(iterable: AsyncIterable<Delivery>): Promise<Delivery> {
  for await (const delivery of iterable) return delivery;
  throw new Error('consume ended without a delivery');
}

const target = (() => {
  const url = urlVia(undefined);
  return { host: url.hostname, port: Number(url.port || 5672) };
})();

describe('Celery wire compatibility', () => {
  const t = trackResources();

  it('declares the queue as kombu does: durable direct exchange, durable queue without arguments, binding by queue name', async () => {
    const queue = t.queue('decl');
    const broker = t.broker();
    await broker.connect();
    await broker.publish(queue, encodeTaskMessage({ id: 'decl-1', task: 'tq.add', args: [1, 2], kwargs: {} }, jsonSerializer));

    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    const channel = await admin.createChannel();
    // Re-declaring with kombu's exact declaration succeeds only if every attribute matches.
    await channel.assertExchange(queue, 'direct', { durable: true, autoDelete: false, internal: false, arguments: {} });
    const declared = await channel.assertQueue(queue, { durable: true, autoDelete: false, exclusive: false, arguments: {} });
    expect(declared.messageCount).toBe(1);
    // The binding: a message sent to exchange <queue> with routing key <queue> lands in the queue.
    channel.publish(queue, queue, Buffer.from('via-exchange'));
    await expect.poll(async () => (await channel.checkQueue(queue)).messageCount).toBe(2);

    // And the check can fail: a different declaration is refused (406 closes the channel).
    const strict = await admin.createChannel();
    strict.on('error', () => undefined);
    await expect(strict.assertQueue(queue, { durable: true, arguments: { 'x-max-priority': 10 } })).rejects.toMatchObject({ code: 406 });
  });

  it('a task message has the same content header, byte for byte, as Celery\'s (properties, header order and AMQP field types)', async () => {
    const plain = capture('amqp-send-plain.json').messages.celery![0]!;
    const headers = plain.content_header.properties.headers;
    const message = encodeTaskMessage(
      {
        id: headers.id,
        task: 'tq.add',
        args: [2, 3],
        kwargs: { z: 1 },
        origin: headers.origin,
        replyTo: plain.content_header.properties.reply_to,
        priority: 0,
      },
      jsonSerializer,
    );
    const tap = await TcpTap.start(target);
    t.onCleanup(() => tap.close());
    const queue = t.queue('wire');
    const producer = t.broker();
    const consumer = t.broker(urlVia(tap.port));
    await producer.publish(queue, message).catch(async () => {
      await producer.connect();
      await producer.publish(queue, message);
    });
    await consumer.connect();
    const controller = new AbortController();
    const delivery = await first(consumer.consume(queue, { prefetch: 1, signal: controller.signal }));
    await delivery.ack();
    controller.abort();

    const contentHeaders = [...amqpFrames(tap.serverBytes)].filter((f) => f.type === 2);
    const bodies = [...amqpFrames(tap.serverBytes)].filter((f) => f.type === 3);
    expect(contentHeaders).toHaveLength(1);
    expect(contentHeaders[0]!.payload.toString('base64')).toBe(plain.content_header_frame_base64);
    expect(headerFieldTypes(contentHeaders[0]!.payload)).toEqual(plain.content_header.header_field_types);
    expect(Buffer.concat(bodies.map((b) => b.payload)).toString('base64')).toBe(plain.body_base64);
  });

  it('a message that arrived with a "!" header can be sent on (dead-lettered, handed back): only nested tables cannot have that key', async () => {
    const queue = t.queue('bang');
    const broker = t.broker();
    await broker.connect();
    const message = encodeTaskMessage({ id: 'bang-1', task: 'tq.add', args: [1, 2], kwargs: {} }, jsonSerializer);
    await broker.publish(queue, { ...message, headers: { ...message.headers, '!': 'boom' } });
    const controller = new AbortController();
    const delivery = await first(broker.consume(queue, { prefetch: 1, signal: controller.signal }));
    expect(delivery.message.headers['!']).toBe('boom');
    expect(delivery.message.headers['id']).toBe('bang-1');
    await delivery.ack();
    controller.abort();
  });

  it('integer time limits travel as signed 32-bit integers (I), as py-amqp writes them', async () => {
    const limited = capture('amqp-send-time-limit.json').messages.celery![0]!;
    const tap = await TcpTap.start(target);
    t.onCleanup(() => tap.close());
    const queue = t.queue('types');
    const broker = t.broker(urlVia(tap.port));
    await broker.connect();
    await broker.publish(
      queue,
      encodeTaskMessage({ id: 'types-1', task: 'tq.add', args: [1, 1], kwargs: {}, timeLimit: { hard: 30, soft: 20 }, retries: 3 }, jsonSerializer),
    );
    const controller = new AbortController();
    const delivery = await first(broker.consume(queue, { prefetch: 1, signal: controller.signal }));
    expect(delivery.message.headers.timelimit).toEqual([30, 20]);
    expect(delivery.message.headers.retries).toBe(3);
    await delivery.ack();
    controller.abort();
    const header = [...amqpFrames(tap.serverBytes)].filter((f) => f.type === 2).at(-1)!;
    const types = headerFieldTypes(header.payload);
    expect(types.timelimit).toBe(limited.content_header.header_field_types.timelimit);
    expect(types.retries).toBe('I');
  });

  it("an event has the same content header, byte for byte, as Celery's on the durable celeryev topic exchange", async () => {
    const heartbeat = (JSON.parse(readFileSync(new URL('./fixtures/amqp-events-examples.json', import.meta.url), 'utf8')) as {
      worker_heartbeat: { content_header_frame_base64: string; body_base64: string; delivery_info: { routing_key: string } };
    }).worker_heartbeat;
    const tap = await TcpTap.start(target);
    t.onCleanup(() => tap.close());
    const publisher = t.broker();
    const listener = t.broker(urlVia(tap.port));
    await Promise.all([publisher.connect(), listener.connect()]);
    const controller = new AbortController();
    t.onCleanup(async () => controller.abort());
    const subscription = listener.subscribe('celeryev', controller.signal, { kind: 'topic', pattern: 'worker.#' })[Symbol.asyncIterator]();
    const received = subscription.next();
    const body = new Uint8Array(Buffer.from(heartbeat.body_base64, 'base64'));
    // The binding has no ready signal: repeat until the listener hears one.
    const timer = setInterval(() => {
      void publisher.broadcast('celeryev', body, { kind: 'topic', routingKey: heartbeat.delivery_info.routing_key, headers: { hostname: 'wire@capture' } });
    }, 100);
    try {
      expect(Buffer.from((await received).value!).equals(Buffer.from(body))).toBe(true);
    } finally {
      clearInterval(timer);
    }
    const header = [...amqpFrames(tap.serverBytes)].find((f) => f.type === 2)!;
    expect(header.payload.toString('base64')).toBe(heartbeat.content_header_frame_base64);

    // celeryev is exactly the exchange every Celery worker declares at start: re-declaring it so succeeds.
    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    const channel = await admin.createChannel();
    channel.on('error', () => undefined);
    await expect(channel.assertExchange('celeryev', 'topic', { durable: true, autoDelete: false, internal: false, arguments: {} })).resolves.toBeDefined();
  });
});
