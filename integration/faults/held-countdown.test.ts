/**
 * A countdown task held by a worker while its connection to RabbitMQ drops: the broker
 * redelivers the unacked message on the new connection, so the held copy must be dropped the
 * moment its delivery is lost, or the task runs twice (issue #14). And a countdown longer than
 * the worker's hold horizon leaves the worker for the broker's delay queues, so the drop of
 * the connection cannot duplicate it either. Runs are counted in this process.
 */
import { randomUUID } from 'node:crypto';
import { createApp, encodeTaskMessage, jsonSerializer, type App, type Worker } from '@tq/core';
import { FaultProxy, sleep, uniqueName } from '@tq/conformance';
import amqpAdapter from '@tq/amqp';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deleteAmqpQueues } from '../harness/amqp-cleanup.js';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const amqp = await resolveBroker('amqp');
afterAll(() => amqp.stop(), 60_000);

describe('a held countdown task when the AMQP connection drops', () => {
  if (!amqp.url) {
    if (brokersRequired()) it('broker', () => expect.fail(`required under CI=true: ${amqp.detail}`));
    else it.skip(`amqp missing: ${amqp.detail}`, () => undefined);
    return;
  }
  const amqpUrl = new URL(amqp.url);
  const apps: App[] = [];
  const workers: Worker[] = [];
  const queues: string[] = [];
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await Promise.allSettled(workers.splice(0).map((w) => w.stop({ force: true })));
    await Promise.allSettled(apps.splice(0).map((a) => a.close()));
    await proxy?.close();
    await deleteAmqpQueues(amqp.url!, queues.splice(0));
  }, 30_000);

  /** A worker app whose broker connection goes through a FaultProxy, and a producer beside it. */
  async function setUp(etaHorizonMs: number) {
    proxy = await FaultProxy.start({ host: amqpUrl.hostname, port: Number(amqpUrl.port || 5672) });
    const proxiedUrl = new URL(amqpUrl);
    proxiedUrl.host = `127.0.0.1:${proxy.port}`;
    const queue = uniqueName('faults.held');
    queues.push(queue);
    const runs = new Map<string, number>();
    const app = createApp({ broker: amqpAdapter.createBroker!(proxiedUrl, amqp.adapterOptions), resultBackend: null, defaultQueue: queue, logLevel: 'silent' });
    apps.push(app);
    app.task('faults.count', (id: string) => void runs.set(id, (runs.get(id) ?? 0) + 1));
    const producer = createApp({ broker: amqpAdapter.createBroker!(amqpUrl, amqp.adapterOptions), resultBackend: null, defaultQueue: queue, logLevel: 'silent' });
    apps.push(producer);
    const worker = app.worker({ concurrency: 2, etaHorizonMs });
    workers.push(worker);
    await worker.start();
    return { producer, worker, runs, proxy };
  }

  it('a countdown within the hold horizon runs exactly once after a connection drop', async () => {
    const { producer, worker, runs, proxy } = await setUp(10_000);
    // As Python Celery sends a countdown: an eta header on an ordinary message, so the worker
    // receives it at once and holds it (its due time is within the horizon).
    const message = encodeTaskMessage({ id: randomUUID(), task: 'faults.count', args: ['held'], kwargs: {}, eta: new Date(Date.now() + 3_000) }, jsonSerializer);
    await (await producer.broker()).publish(worker.queues[0]!, message);
    await waitFor(() => worker.inspect('scheduled').length === 1, 2_000, 'the worker never held the countdown task');
    proxy.cut();
    // The redelivered copy arrives on the new connection and is held; the lost one must be gone.
    await waitFor(() => (runs.get('held') ?? 0) >= 1, 10_000, 'the task never ran');
    // Time for a second copy to run, had the lost one been kept.
    await sleep(1_500);
    expect(runs.get('held'), 'runs of the held task').toBe(1);
  }, 30_000);

  it('a countdown beyond the hold horizon goes to the broker and runs exactly once after a connection drop', async () => {
    const { producer, worker, runs, proxy } = await setUp(1_000);
    await producer.sendTask('faults.count', ['deferred'], {}, { countdown: 4 });
    await sleep(1_000);
    expect(worker.inspect('scheduled'), 'the worker holds a task due beyond its horizon').toEqual([]);
    proxy.cut();
    await waitFor(() => (runs.get('deferred') ?? 0) >= 1, 12_000, 'the task never ran');
    await sleep(1_500);
    expect(runs.get('deferred'), 'runs of the deferred task').toBe(1);
  }, 30_000);
});

async function waitFor(condition: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(message);
    await sleep(25);
  }
}
