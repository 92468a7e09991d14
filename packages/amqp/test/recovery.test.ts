/** Reconnection with topology recovery: connections killed by the network and by the server. */
import { encodeTaskMessage, jsonSerializer, type Delivery } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import { adminConnection } from './support/env.js';
import { trackResources, urlVia } from './support/brokers.js';
import { closeConnectionByName } from './support/rabbitmqctl.js';
import { TcpTap } from './support/tcp-tap.js';

const message = (id: string) => encodeTaskMessage({ id, task: 'tq.add', args: [1, 2], kwargs: {} }, jsonSerializer);

async function next(iterator: AsyncIterator<Delivery>, timeoutMs = 10_000): Promise<Delivery> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    iterator.next(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no delivery within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (result.done) throw new Error('the consume stream ended');
  return result.value;
}

describe('connection recovery', () => {
  const t = trackResources();

  async function tappedConsumer(queue: string) {
    const tap = await TcpTap.start({ host: '127.0.0.1', port: Number(urlVia(undefined).port || 5672) });
    t.onCleanup(() => tap.close());
    const broker = t.broker(urlVia(tap.port));
    await broker.connect();
    const controller = new AbortController();
    t.onCleanup(async () => controller.abort());
    const iterator = broker.consume(queue, { prefetch: 4, signal: controller.signal })[Symbol.asyncIterator]();
    return { tap, broker, iterator };
  }

  it('after a network cut, the same stream redelivers the unacked message; the dead delivery\'s ack is a no-op', async () => {
    const queue = t.queue('cut');
    const producer = t.broker();
    await producer.connect();
    const { tap, broker, iterator } = await tappedConsumer(queue);
    await producer.publish(queue, message('cut-1'));
    const before = await next(iterator);
    expect(before.message.headers.id).toBe('cut-1');
    expect(before.redelivered).toBe(false);

    tap.cut();
    const after = await next(iterator);
    expect(after.message.headers.id).toBe('cut-1');
    expect(after.redelivered).toBe(true);

    // Both deliveries have delivery tag 1 on their channels: acking the dead one must not ack the live one.
    await expect(before.ack()).resolves.toBeUndefined();
    await broker.close();
    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    const channel = await admin.createChannel();
    await expect.poll(async () => (await channel.checkQueue(queue)).messageCount, { timeout: 5_000 }).toBe(1);
  });

  it('a queue deleted while the connection was down is declared again and consumed', async () => {
    const queue = t.queue('redeclare');
    const { tap, iterator } = await tappedConsumer(queue);
    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    const channel = await admin.createChannel();
    await expect.poll(async () => (await channel.checkQueue(queue)).consumerCount).toBe(1);

    tap.cut();
    await channel.deleteQueue(queue);
    await channel.deleteExchange(queue);
    // No publisher declares it: only the recovering consumer can bring it back.
    await expect.poll(async () => {
      const probe = await admin.createChannel();
      probe.on('error', () => undefined);
      try {
        const { consumerCount } = await probe.checkQueue(queue);
        await probe.close();
        return consumerCount;
      } catch {
        return -1;
      }
    }, { timeout: 10_000 }).toBe(1);
    await channel.checkExchange(queue);

    channel.publish(queue, queue, Buffer.from('[[], {}, {}]'), { contentType: 'application/json', contentEncoding: 'utf-8', headers: { id: 'after' } });
    expect((await next(iterator)).message.headers.id).toBe('after');
  });

  it('after the server closes the connection (rabbitmqctl close_connection), consuming resumes', async () => {
    const queue = t.queue('forced');
    const producer = t.broker();
    const consumer = t.broker();
    await Promise.all([producer.connect(), consumer.connect()]);
    const controller = new AbortController();
    t.onCleanup(async () => controller.abort());
    const iterator = consumer.consume(queue, { prefetch: 1, signal: controller.signal })[Symbol.asyncIterator]();
    await producer.publish(queue, message('forced-1'));
    await (await next(iterator)).ack();

    await closeConnectionByName(consumer.connectionName);
    await producer.publish(queue, message('forced-2'));
    const delivery = await next(iterator, 15_000);
    expect(delivery.message.headers.id).toBe('forced-2');
    await delivery.ack();
  });

  it('publish waits for a reconnect in progress instead of failing at once', async () => {
    const queue = t.queue('pubwait');
    const tap = await TcpTap.start({ host: '127.0.0.1', port: Number(urlVia(undefined).port || 5672) });
    t.onCleanup(() => tap.close());
    const broker = t.broker(urlVia(tap.port));
    await broker.connect();
    await broker.publish(queue, message('pw-1'));
    tap.cut();
    await expect(broker.publish(queue, message('pw-2'))).resolves.toBeUndefined();
    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    const channel = await admin.createChannel();
    expect((await channel.checkQueue(queue)).messageCount).toBe(2);
  });

  it('close() settles even when the connection dies during the close handshake', async () => {
    const tap = await TcpTap.start({ host: '127.0.0.1', port: Number(urlVia(undefined).port || 5672) });
    t.onCleanup(() => tap.close());
    const broker = t.broker(urlVia(tap.port));
    await broker.connect();
    tap.pauseServer(); // close-ok will never arrive
    const closing = broker.close();
    setTimeout(() => tap.cut(), 100);
    const started = Date.now();
    await closing;
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
