/** publish() resolves on the broker's confirm, and rejects when the broker refuses the message. */
import { encodeTaskMessage, isTqError, jsonSerializer } from '@tq/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminConnection } from './support/env.js';
import { trackResources, uniqueQueue, urlVia } from './support/brokers.js';
import { rabbitmqctl } from './support/rabbitmqctl.js';
import { TcpTap } from './support/tcp-tap.js';

const vhost = decodeURIComponent(urlVia(undefined).pathname.slice(1)) || '/';
const message = (id: string) => encodeTaskMessage({ id, task: 'tq.add', args: [1, 2], kwargs: {} }, jsonSerializer);

describe('publisher confirms', () => {
  const t = trackResources();
  const policy = `tqamqp-reject-${process.pid}`;
  const rejectPrefix = `tqamqp-reject-${process.pid}-`;

  beforeAll(async () => {
    // A policy (not a queue argument, so tq's declaration still matches): the queue holds
    // nothing and refuses new messages, which makes RabbitMQ nack every publish to it.
    await rabbitmqctl('set_policy', '-p', vhost, '--apply-to', 'queues', policy, `^${rejectPrefix}`, '{"max-length":0,"overflow":"reject-publish"}');
  });
  afterAll(async () => {
    await rabbitmqctl('clear_policy', '-p', vhost, policy);
  });

  it('publish resolves only once the confirm arrives, not when the bytes are written', async () => {
    const queue = t.queue('confirm');
    const tap = await TcpTap.start({ host: '127.0.0.1', port: Number(urlVia(undefined).port || 5672) });
    t.onCleanup(() => tap.close());
    const broker = t.broker(urlVia(tap.port));
    await broker.connect();
    await broker.publish(queue, message('warm-up')); // opens the confirm channel, declares the queue

    tap.pauseServer();
    let settled = false;
    const publishing = broker.publish(queue, message('held')).finally(() => {
      settled = true;
    });
    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    const channel = await admin.createChannel();
    // RabbitMQ has the message…
    await expect.poll(async () => (await channel.checkQueue(queue)).messageCount).toBe(2);
    // …but the confirm is held back, so publish has not resolved.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    tap.resumeServer();
    await expect(publishing).resolves.toBeUndefined();
  });

  it('publish rejects when the broker nacks the message', async () => {
    const queue = `${rejectPrefix}${uniqueQueue('nack')}`;
    const broker = t.broker();
    t.onCleanup(async () => {
      const admin = await adminConnection();
      const channel = await admin.createChannel();
      await channel.deleteQueue(queue);
      await channel.deleteExchange(queue);
      await admin.close();
    });
    await broker.connect();
    const error = await broker.publish(queue, message('refused')).catch((e: unknown) => e);
    expect(isTqError(error)).toBe(true);
    expect((error as Error).message).toMatch(/publish to queue/);
  });
});
