/**
 * Celery events, both directions, on Redis and RabbitMQ, against Celery's own consumer:
 * - tq → Python: a tq worker (-E) and producer (task-sent) publish; Celery's EventReceiver and
 *   State (what Flower and `celery events` run) show the tq worker online, then offline, and
 *   each tq task with its name, args, result or exception and traceback, runtime and worker.
 * - Python → tq: a Celery worker (-E) publishes (task events batched as task.multi);
 *   app.events() sees its heartbeats and each task's received/started/succeeded.
 * - RabbitMQ: celeryev is Celery's durable topic exchange, so a Celery worker starts on a vhost
 *   where tq workers with events have run, even one where an older tq left a fanout celeryev.
 */
import { createApp, type App, type TaskEvent, type Worker } from '@tq/core';
import amqpAdapter from '@tq/amqp';
import redisAdapter from '@tq/redis';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addVhost,
  backendUrl,
  brokers,
  deleteVhost,
  describeExchange,
  ensureAmqp,
  EventsMonitor,
  PythonPeer,
  startCeleryWorker,
  deleteNamedQueues,
  uniqueName,
  type MonitoredBroker,
} from './peers.js';

const adapters = [redisAdapter, amqpAdapter];

function tqApp(broker: MonitoredBroker | string, queue: string, extra: { sendSentEvent?: boolean } = {}): App {
  const url = typeof broker === 'string' ? broker : broker.url;
  return createApp({ broker: url, resultBackend: backendUrl, adapters, defaultQueue: queue, resultTtlMs: 600_000, ...extra });
}

afterAll(async () => {
  for (const broker of brokers) await deleteNamedQueues(broker);
});

for (const broker of brokers) {
  describe(`tq events seen by Celery's EventReceiver and State (${broker.name})`, () => {
    const queue = uniqueName(`ev-${broker.name}`);
    let app: App;
    let worker: Worker;
    let monitor: EventsMonitor;

    beforeAll(async () => {
      if (broker.name === 'amqp') await ensureAmqp(broker.url);
      monitor = await EventsMonitor.start(broker.url);
      app = tqApp(broker, queue, { sendSentEvent: true });
      app.task('mon.add', (a: number, b: number) => a + b);
      app.task('mon.fail', (message: string) => {
        throw new RangeError(message);
      });
      worker = app.worker({ queues: [queue], concurrency: 2, events: true, heartbeatIntervalMs: 1000 });
      await worker.start();
    });

    afterAll(async () => {
      await worker?.stop();
      await app?.close();
      await monitor?.stop();
    });

    it('shows the tq worker online with heartbeats, its tasks, and the worker offline after it stops', async () => {
      const hostname = worker.hostname;
      // Heartbeats repeat: the first one after the receiver's subscription is live is enough.
      await monitor.waitForEvent('a tq heartbeat', (e) => e.type === 'worker-heartbeat' && e.hostname === hostname);
      const added = await app.sendTask<number>('mon.add', [2, 3]);
      const failed = await app.sendTask('mon.fail', ['no such page']);
      expect(await added.get({ timeout: 10_000 })).toBe(5);
      await expect(failed.get({ timeout: 10_000 })).rejects.toThrow(/no such page/);
      await monitor.waitForEvent('task-succeeded', (e) => e.type === 'task-succeeded' && e.uuid === added.id);
      await monitor.waitForEvent('task-failed', (e) => e.type === 'task-failed' && e.uuid === failed.id);
      const online = (await monitor.snapshot()).workers[hostname]!;
      expect(online).toMatchObject({ alive: true, sw_ident: 'tq', sw_sys: 'Linux', freq: 1 });
      expect(online['heartbeats']).toBeGreaterThan(0);
      expect(online['loadavg']).toHaveLength(3);
      await worker.stop();
      await monitor.waitForEvent('worker-offline', (e) => e.type === 'worker-offline' && e.hostname === hostname);

      const state = await monitor.state();
      const success = state.tasks[added.id]!;
      expect(success).toMatchObject({ state: 'SUCCESS', name: 'mon.add', args: '(2, 3)', kwargs: '{}', result: '5', worker: hostname });
      expect(success['runtime']).toEqual(expect.any(Number));
      expect(success['sent']).toEqual(expect.any(Number));
      expect(success['received']).toEqual(expect.any(Number));
      expect(success['started']).toEqual(expect.any(Number));
      const failure = state.tasks[failed.id]!;
      expect(failure).toMatchObject({ state: 'FAILURE', name: 'mon.fail', args: "('no such page',)", exception: "RangeError('no such page')", worker: hostname });
      expect(String(failure['traceback'])).toContain('no such page');
      expect(state.workers[hostname]).toMatchObject({ alive: false, processed: 2 });
    });

    it('celery events --dump prints the tq worker and its tasks', { timeout: 60_000 }, async () => {
      const dumpQueue = uniqueName(`dump-${broker.name}`);
      const dumpApp = tqApp(broker, dumpQueue);
      dumpApp.task('mon.add', (a: number, b: number) => a + b);
      const dumpWorker = dumpApp.worker({ queues: [dumpQueue], events: true, heartbeatIntervalMs: 500 });
      const dump = new PythonPeer(['-m', 'celery', '-A', 'celery_app', 'events', '--dump'], broker.url);
      try {
        await dump.waitFor('celery events --dump to start', (out) => out.includes('starting capture'));
        await dumpWorker.start();
        // Its subscription has no ready signal: the worker's heartbeats show when it listens.
        await dump.waitFor('a tq heartbeat in the dump', (out) => out.includes(`${dumpWorker.hostname} [`) && out.includes('heartbeat'));
        const result = await dumpApp.sendTask<number>('mon.add', [4, 5]);
        expect(await result.get({ timeout: 10_000 })).toBe(9);
        const line = await dump.waitFor('the task in the dump', (out) => out.split('\n').find((l) => l.includes('task succeeded') && l.includes(result.id)));
        expect(line).toContain(`${dumpWorker.hostname} [`);
        expect(line).toContain(`mon.add(${result.id}) args=(4, 5) kwargs={}`);
        expect(line).toContain('result=9');
      } finally {
        await dumpWorker.stop();
        await dumpApp.close();
        await dump.stop();
      }
    });
  });

  describe(`Celery worker events seen by tq (${broker.name})`, () => {
    const queue = uniqueName(`py-${broker.name}`);
    const controller = new AbortController();
    const events: TaskEvent[] = [];
    let app: App;
    let listening: Promise<void>;

    beforeAll(async () => {
      if (broker.name === 'amqp') await ensureAmqp(broker.url);
      app = tqApp(broker, queue);
      listening = (async () => {
        for await (const event of app.events({ signal: controller.signal })) events.push(event);
      })();
    });

    afterAll(async () => {
      controller.abort();
      await listening.catch(() => undefined);
      await app?.close();
    });

    const waitFor = async (what: string, match: (e: TaskEvent) => boolean, timeoutMs = 20_000): Promise<TaskEvent> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`${what} not seen in ${timeoutMs} ms; saw ${JSON.stringify(events.map((e) => e.type))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    it("app.events() receives a Python worker's heartbeats and its task events (task.multi batches unpacked)", async () => {
      const python = await startCeleryWorker(broker.url, queue);
      try {
        const heartbeat = await waitFor('a Python heartbeat', (e) => e.type === 'worker-heartbeat' && e.hostname === python.hostname);
        expect(heartbeat).toMatchObject({ sw_ident: 'py-celery', freq: 2 });
        const result = await app.sendTask<number>('mon.add', [20, 22]);
        expect(await result.get({ timeout: 15_000 })).toBe(42);
        const received = await waitFor('task-received', (e) => e.type === 'task-received' && e['uuid'] === result.id);
        expect(received).toMatchObject({ hostname: python.hostname, name: 'mon.add', args: '(20, 22)' });
        await waitFor('task-started', (e) => e.type === 'task-started' && e['uuid'] === result.id);
        const succeeded = await waitFor('task-succeeded', (e) => e.type === 'task-succeeded' && e['uuid'] === result.id);
        expect(succeeded).toMatchObject({ hostname: python.hostname, result: '42' });
        expect(succeeded['runtime']).toEqual(expect.any(Number));
      } finally {
        await python.stop();
      }
      await waitFor('worker-offline', (e) => e.type === 'worker-offline' && e.hostname === python.hostname);
    });
  });
}

describe('RabbitMQ: celeryev is the exchange Celery declares', () => {
  const vhost = uniqueName('vhost');
  const url = `amqp://guest:guest@127.0.0.1:5672/${vhost}`;

  beforeAll(() => addVhost(vhost));
  afterAll(() => deleteVhost(vhost));

  it('an older tq fanout celeryev still bound to a queue is reported with what to do', async () => {
    const connection = await connect(url);
    const channel = await connection.createChannel();
    await channel.assertExchange('celeryev', 'fanout', { durable: false, autoDelete: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'celeryev', '');
    const app = tqApp(url, uniqueName('legacy'));
    const bus = await app.broadcastBus();
    try {
      await expect(bus!.broadcast('celeryev', new TextEncoder().encode('{}'), { kind: 'topic', routingKey: 'worker.heartbeat' })).rejects.toThrow(
        /exchange "celeryev" exists on this vhost declared otherwise than Celery declares it \(topic\).*rabbitmqadmin delete exchange name=celeryev/s,
      );
    } finally {
      await app.close();
      await connection.close();
    }
  });

  it('replaces an unused fanout celeryev left by an older tq, and a Celery worker then starts beside tq workers with events', async () => {
    // The auto-delete fanout an older tq declared: gone with its last binding, unless never bound.
    const connection = await connect(url);
    const channel = await connection.createChannel();
    await channel.assertExchange('celeryev', 'fanout', { durable: false, autoDelete: true });
    await connection.close();
    expect(describeExchange(vhost, 'celeryev')).toMatchObject({ type: 'fanout' });

    const queue = uniqueName('vhost-q');
    const app = tqApp(url, queue);
    app.task('mon.add', (a: number, b: number) => a + b);
    const worker = app.worker({ queues: [queue], events: true, heartbeatIntervalMs: 500 });
    await worker.start();
    try {
      const deadline = Date.now() + 10_000;
      while (describeExchange(vhost, 'celeryev')?.type !== 'topic' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(describeExchange(vhost, 'celeryev')).toEqual({ type: 'topic', durable: true, autoDelete: false });
      // The Celery worker declares celeryev (and its pidbox exchanges) at start: it must come up.
      const python = await startCeleryWorker(url, queue);
      try {
        expect(python.output).not.toMatch(/PRECONDITION_FAILED|PreconditionFailed/);
        expect(await (await app.sendTask<number>('mon.add', [1, 2])).get({ timeout: 15_000 })).toBe(3);
      } finally {
        await python.stop();
      }
      expect(python.output).not.toMatch(/PRECONDITION_FAILED|PreconditionFailed/);
    } finally {
      await worker.stop();
      await app.close();
    }
  });
});
