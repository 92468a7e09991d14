/** rpc:// as Celery's rpc backend: the reply queue declaration and the reply message format. */
import { encodeRecord } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import { resultQueueName } from '../src/result-queues.js';
import { adminConnection } from './support/env.js';
import { trackResources } from './support/brokers.js';

const record = (taskId: string, status = 'SUCCESS') =>
  encodeRecord({ status: status as 'SUCCESS', result: 5, traceback: null, children: [], date_done: null, task_id: taskId });

describe('rpc:// result backend', () => {
  const t = trackResources();

  it('declares its reply queue non-durable with x-expires, not auto-deleted (it outlives a cut), and deletes it on close()', async () => {
    const backend = t.backend();
    await backend.connect();
    const queue = await backend.replyAddress();
    expect(queue).toMatch(/^[0-9a-f-]{36}$/);
    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    const channel = await admin.createChannel();
    const declared = await channel.assertQueue(queue, { durable: false, autoDelete: false, arguments: { 'x-expires': 600_000 } });
    expect(declared.consumerCount).toBe(1);
    const strict = await admin.createChannel();
    strict.on('error', () => undefined);
    await expect(strict.assertQueue(queue, { durable: false, autoDelete: true, arguments: { 'x-expires': 600_000 } })).rejects.toMatchObject({ code: 406 });
    await backend.close();
    const check = await admin.createChannel();
    check.on('error', () => undefined);
    await expect(check.checkQueue(queue)).rejects.toMatchObject({ code: 404 });
  });

  it('a worker\'s store goes to the producer\'s reply queue with correlation_id = task id, transient, JSON', async () => {
    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    const channel = await admin.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    const worker = t.backend();
    await worker.connect();
    const bytes = record('task-1');
    await worker.store('task-1', bytes, { replyTo: queue, correlationId: 'task-1' });
    const reply = await channel.get(queue, { noAck: true });
    expect(reply).not.toBe(false);
    if (reply === false) return;
    expect(reply.properties).toMatchObject({ correlationId: 'task-1', contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1 });
    expect(reply.fields.exchange).toBe('');
    expect(Buffer.from(reply.content).equals(Buffer.from(bytes))).toBe(true);
  });

  it('the producer reads and watches the replies sent to its address; another client does not see them', async () => {
    const producer = t.backend();
    const worker = t.backend();
    const stranger = t.backend();
    await Promise.all([producer.connect(), worker.connect(), stranger.connect()]);
    const replyTo = await producer.replyAddress();
    const controller = new AbortController();
    const watch = producer.watch('task-2', controller.signal)[Symbol.asyncIterator]();
    await worker.store('task-2', record('task-2', 'STARTED'), { replyTo, correlationId: 'task-2' });
    await worker.store('task-2', record('task-2', 'SUCCESS'), { replyTo, correlationId: 'task-2' });
    const statuses: string[] = [];
    while (statuses.at(-1) !== 'SUCCESS') {
      const { value } = await watch.next();
      statuses.push((JSON.parse(Buffer.from(value!).toString()) as { status: string }).status);
    }
    controller.abort();
    expect(statuses).toEqual(['STARTED', 'SUCCESS']);
    expect(JSON.parse(Buffer.from((await producer.fetch('task-2'))!).toString())).toMatchObject({ status: 'SUCCESS', task_id: 'task-2' });
    expect(await stranger.fetch('task-2')).toBeNull();
  });

  it('a record stored without reply_to goes to a per-task queue any client reads; forget deletes it', async () => {
    const writer = t.backend();
    const reader = t.backend();
    const taskId = `task-${Date.now()}`;
    await writer.store(taskId, record(taskId), {}).catch(async () => {
      await writer.connect();
      await writer.store(taskId, record(taskId), {});
    });
    await reader.connect();
    expect(await reader.fetch(taskId)).not.toBeNull();
    expect(await reader.fetch(taskId), 'a read does not consume the record').not.toBeNull();
    await reader.forget(taskId);
    const admin = await adminConnection();
    t.onCleanup(() => admin.close());
    const channel = await admin.createChannel();
    channel.on('error', () => undefined);
    await expect(channel.checkQueue(resultQueueName(taskId))).rejects.toMatchObject({ code: 404 });
  });
});
