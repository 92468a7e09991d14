/**
 * Priorities across languages: tq declares the queue with maxPriority=10 (x-max-priority 10),
 * a Python worker configured with task_queue_max_priority=10 declares the same queue without a
 * PRECONDITION_FAILED and runs waiting tasks highest priority first.
 */
import amqp from '@tq/amqp';
import { createApp, type App } from '@tq/core';
import { afterAll, describe, expect, it } from 'vitest';
import { amqpUrl, deleteQueues, ensureVhost, rpcUrl, startCeleryWorker, uniqueQueue, type CeleryWorker } from './interop-support.js';

describe('priorities: tq producer (maxPriority=10) → Python worker (task_queue_max_priority=10)', () => {
  const queue = uniqueQueue('prio');
  let worker: CeleryWorker | undefined;
  let app: App | undefined;

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await deleteQueues([queue]);
  });

  it('both sides declare x-max-priority 10; waiting tasks run highest priority first', async () => {
    await ensureVhost();
    const broker = new URL(amqpUrl);
    broker.searchParams.set('maxPriority', '10');
    app = createApp({ broker: broker.toString(), resultBackend: rpcUrl, adapters: [amqp], logLevel: 'warn' });
    // Queued before any worker runs, lowest priority first.
    const sent = [];
    for (const priority of [1, 5, 9]) sent.push({ priority, result: await app.sendTask('py.now', [], {}, { queue, priority }) });
    worker = await startCeleryWorker([queue], { maxPriority: 10 });
    const ran = await Promise.all(sent.map(async ({ priority, result }) => ({ priority, time: ((await result.get({ timeout: 15_000 })) as { time: number }).time })));
    const order = ran.sort((a, b) => a.time - b.time).map((r) => r.priority);
    expect(order, worker.output()).toEqual([9, 5, 1]);
  });
});
