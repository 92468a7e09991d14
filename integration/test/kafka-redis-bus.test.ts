/**
 * Kafka has no broadcast channel; a Redis result backend lends its own (pub/sub). Through it a
 * worker on Kafka answers remote control, honours revocations without reading the backend
 * before each task, and sends events — as on a broker with broadcast.
 */
import { createApp, type App, type ResultBackend, type Worker } from '@tq/core';
import kafkaAdapter from '@tq/kafka';
import redisAdapter from '@tq/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const kafka = await resolveBroker('kafka');
const redis = await resolveBroker('redis');
afterAll(() => Promise.allSettled([kafka.stop(), redis.stop()]), 60_000);

const timings = { sessionTimeoutMs: '6000', heartbeatIntervalMs: '500', maxWaitTimeMs: '50' };
const missing = [kafka, redis].filter((e) => !e.url);

describe('Kafka broker with a Redis result backend as the broadcast bus', () => {
  if (missing.length > 0) {
    const reason = missing.map((e) => e.detail).join('; ');
    if (brokersRequired()) it('brokers', () => expect.fail(`required under CI=true: ${reason}`));
    else it.skip(`brokers missing: ${reason}`, () => undefined);
    return;
  }

  const apps: App[] = [];
  const workers: Worker[] = [];
  afterAll(async () => {
    await Promise.allSettled(workers.map((w) => w.stop({ force: true })));
    await Promise.allSettled(apps.map((a) => a.close()));
  }, 60_000);

  /** Counts the backend reads of task records (not the pause state every worker reads each second). */
  let fetches = 0;
  function open(countFetches = false): App {
    const brokerUrl = new URL(kafka.url!);
    for (const [key, value] of Object.entries(timings)) brokerUrl.searchParams.set(key, value);
    if (kafka.source === 'kafka-mock') brokerUrl.searchParams.set('idempotent', 'false');
    const backend = redisAdapter.createResultBackend!(new URL(redis.url!), {});
    if (countFetches) {
      const fetch = backend.fetch.bind(backend);
      (backend as { fetch: ResultBackend['fetch'] }).fetch = (id) => {
        if (!id.startsWith('tq-queue-paused:')) fetches++;
        return fetch(id);
      };
    }
    const app = createApp({
      broker: kafkaAdapter.createBroker!(brokerUrl, kafka.adapterOptions),
      resultBackend: backend,
      logLevel: 'silent',
    });
    apps.push(app);
    return app;
  }

  const queue = `tq.bus.${process.pid}.${Date.now()}`;
  let release: () => void = () => undefined;
  const blocker = new Promise<void>((resolve) => (release = resolve));
  let blockerStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (blockerStarted = resolve));
  const ran: string[] = [];

  async function startWorker(): Promise<{ client: App; worker: Worker }> {
    const workerApp = open(true);
    workerApp.task('bus.block', async () => {
      blockerStarted();
      await blocker;
      return 'unblocked';
    });
    workerApp.task('bus.echo', (value: string) => {
      ran.push(value);
      return value;
    });
    const worker = workerApp.worker({ queues: [queue], concurrency: 1, events: true, hostname: `bus-${process.pid}` });
    workers.push(worker);
    await worker.start();
    return { client: open(), worker };
  }

  const ready = startWorker();

  it('the bus is the result backend', async () => {
    const { client } = await ready;
    expect((await client.broadcastBus())?.via).toBe('result backend');
  });

  it('the worker answers ping and inspect through Redis', async () => {
    const { client } = await ready;
    // The worker's subscription has no "ready" signal: ping until it answers.
    const hostname = `bus-${process.pid}`;
    let answered: string[] = [];
    for (const deadline = Date.now() + 20_000; !answered.includes(hostname) && Date.now() < deadline; ) {
      answered = (await client.control.ping({ timeoutMs: 500 })).map((p) => p.hostname);
    }
    expect(answered).toContain(hostname);
    const [registered] = await client.control.inspect('registered', { timeoutMs: 2_000 });
    expect(registered?.result).toEqual(['bus.block', 'bus.echo']);
  }, 60_000);

  it('events of a task reach a subscriber; the worker reads no record before running tasks', async () => {
    const { client } = await ready;
    const controller = new AbortController();
    const seen: string[] = [];
    const listening = (async () => {
      for await (const event of client.events({ signal: controller.signal })) {
        if (event['uuid'] === undefined) continue;
        seen.push(event.type);
        if (event.type === 'task-succeeded') controller.abort();
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100)); // subscribed before the task runs
    fetches = 0;
    const results = await Promise.all(['a', 'b', 'c'].map((v) => client.sendTask<string>('bus.echo', [v], {}, { queue, ignoreResult: v !== 'c' })));
    expect(await results[2]!.get({ timeout: 30_000 })).toBe('c');
    await listening;
    expect(seen).toContain('task-received');
    expect(seen).toContain('task-succeeded');
    // Revocations arrive on the bus: no REVOKED lookup in the backend per task.
    expect(fetches).toBe(0);
  }, 60_000);

  it('a revoked task waiting in the worker never runs and is recorded REVOKED', async () => {
    const { client } = await ready;
    const block = await client.sendTask('bus.block', [], {}, { queue });
    await started;
    const victim = await client.sendTask('bus.echo', ['revoked'], {}, { queue });
    await client.control.revoke(victim.id);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the broadcast reaches the worker
    const after = await client.sendTask<string>('bus.echo', ['after'], {}, { queue });
    release();
    expect(await block.get({ timeout: 30_000 })).toBe('unblocked');
    // One partition, one slot: the victim came up before `after` finished.
    expect(await after.get({ timeout: 30_000 })).toBe('after');
    expect(ran).not.toContain('revoked');
    expect(await victim.state()).toBe('REVOKED');
  }, 60_000);
});
