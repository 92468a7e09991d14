import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../src/adapter.js';
import { createApp, encodeTaskMessage, jsonSerializer, TaskRevokedError, type App } from '../src/index.js';
import { createMemoryAdapter } from '../src/memory/index.js';
import { parseRate, RateLimiter } from '../src/worker/rate-limit.js';
import { memoryApp, sleep } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

describe('rate limits', () => {
  it('parses Celery rate strings', () => {
    expect(parseRate('10/s')).toBeCloseTo(0.01);
    expect(parseRate('60/m')).toBeCloseTo(0.001);
    expect(parseRate('3600/h')).toBeCloseTo(0.001);
    expect(parseRate(5)).toBeCloseTo(0.005);
    expect(() => parseRate('fast')).toThrow(/N\/s/);
  });

  it('a token bucket spaces runs per key', () => {
    const limiter = new RateLimiter();
    expect(limiter.reserve('a', 0.01, 0)).toBe(0);
    expect(limiter.reserve('a', 0.01, 0)).toBe(100);
    expect(limiter.reserve('b', 0.01, 0)).toBe(0);
    expect(limiter.reserve('a', 0.01, 100)).toBe(0);
  });

  it("'10/s' spaces a task's runs by 100 ms, per key when a key is given", async () => {
    app = memoryApp();
    const runs: { key: string; at: number }[] = [];
    app.task('tq.limited', (key: string) => void runs.push({ key, at: Date.now() }), { rateLimit: '10/s', rateLimitKey: (args) => String(args[0]) });
    const worker = app.worker({ concurrency: 4 });
    await worker.start();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await app.sendTask('tq.limited', ['a']));
    results.push(await app.sendTask('tq.limited', ['b']));
    await Promise.all(results.map((r) => r.get({ timeout: 5000 })));
    const a = runs.filter((r) => r.key === 'a').map((r) => r.at);
    expect(a.at(-1)! - a[0]!).toBeGreaterThanOrEqual(290);
    const b = runs.find((r) => r.key === 'b')!.at;
    expect(b - a[0]!).toBeLessThan(90); // another key is not held back
    await worker.stop();
  });
});

describe('prefetch', () => {
  it('a worker reserves concurrency × prefetchMultiplier; anything but a positive integer is a ConfigError', () => {
    app = memoryApp();
    expect(app.worker({ concurrency: 3, prefetchMultiplier: 5 }).prefetch).toBe(15);
    expect(app.worker({ concurrency: 3 }).prefetch).toBe(12); // Celery's default multiplier, 4
    for (const prefetchMultiplier of [0, -1, 1.5, Number.NaN]) {
      expect(() => app.worker({ concurrency: 1, prefetchMultiplier })).toThrow(/prefetchMultiplier: expected a positive integer/);
    }
  });
});

describe('countdown and ETA', () => {
  it('held ETA tasks widen the prefetch window instead of filling it', async () => {
    const name = `eta${randomUUID().slice(0, 6)}`;
    app = createApp({ broker: `memory://${name}?delayedDelivery=false`, resultBackend: `memory://${name}`, adapters: [createMemoryAdapter()], logLevel: 'silent' });
    app.task('tq.now', () => 'now');
    const worker = app.worker({ concurrency: 1, prefetchMultiplier: 1 });
    await worker.start();
    for (let i = 0; i < 3; i++) await app.sendTask('tq.now', [], {}, { countdown: 30 });
    const started = Date.now();
    expect(await (await app.sendTask('tq.now')).get({ timeout: 5000 })).toBe('now');
    expect(Date.now() - started).toBeLessThan(1000);
    expect((worker.inspect('scheduled') as unknown[]).length).toBe(3);
    await worker.stop();
  });

  it('an ETA beyond setTimeout\'s 24.8-day limit waits quietly (no 1 ms re-dispatch loop, no TimeoutOverflowWarning)', async () => {
    for (const delayedDelivery of [false, true]) {
      const name = `eta${randomUUID().slice(0, 6)}`;
      app = createApp({ broker: `memory://${name}?delayedDelivery=${delayedDelivery}`, resultBackend: `memory://${name}`, adapters: [createMemoryAdapter()], logLevel: 'silent' });
      let ran = 0;
      app.task('tq.far', () => void ran++);
      const worker = app.worker({ concurrency: 1 });
      let received = 0;
      worker.on('task-received', () => void received++);
      const warnings: string[] = [];
      const onWarning = (warning: Error) => void warnings.push(warning.name);
      process.on('warning', onWarning);
      try {
        await worker.start();
        await app.sendTask('tq.far', [], {}, { eta: new Date(Date.now() + 30 * 86_400_000) });
        await sleep(400);
        expect(warnings.filter((w) => w === 'TimeoutOverflowWarning'), `delayedDelivery=${delayedDelivery}`).toEqual([]);
        expect(ran).toBe(0);
        // Held once (worker) or not delivered yet (broker): never taken again and again.
        expect(received).toBeLessThanOrEqual(1);
        if (!delayedDelivery) expect((worker.inspect('scheduled') as unknown[]).length).toBe(1);
      } finally {
        process.off('warning', onWarning);
        await worker.stop();
        await app.close();
      }
    }
  });

  it('a task waiting for its SUCCESS record does not hold a prefetch slot', async () => {
    app = memoryApp();
    const starts: number[] = [];
    app.task('tq.quick', () => void starts.push(Date.now()));
    const worker = app.worker({ concurrency: 1, prefetchMultiplier: 1 });
    await worker.start();
    const backend = (await app.backend())!;
    const store = backend.store.bind(backend);
    backend.store = async (id, record, options) => {
      await sleep(300); // a slow backend
      return store(id, record, options);
    };
    const results = [await app.sendTask('tq.quick'), await app.sendTask('tq.quick')];
    await Promise.all(results.map((r) => r.get({ timeout: 5000 })));
    // Window of 1: without the allowance the second task would wait for the first one's record and ack.
    expect(starts[1]! - starts[0]!).toBeLessThan(200);
    await worker.stop();
  });

  it('a redelivered task whose STARTED record was replaced by PROGRESS still counts its starts (poison detection)', async () => {
    app = memoryApp();
    app.task('tq.progressThenHang', async function () {
      await this.updateState('PROGRESS', { step: 1 });
      await new Promise(() => undefined); // never finishes: its worker dies with it (a forced stop here)
    });
    const first = app.worker({ concurrency: 1 });
    await first.start();
    const result = await app.sendTask('tq.progressThenHang');
    const deadline = Date.now() + 5000;
    while ((await result.state()) !== 'PROGRESS' && Date.now() < deadline) await sleep(10);
    await first.stop({ force: true }); // the message goes back, flagged redelivered
    const second = app.worker({ concurrency: 1, poisonThreshold: 1 });
    await second.start();
    const error = (await result.get({ timeout: 5000 }).catch((e: unknown) => e)) as Error & { excMessage?: string };
    expect(error.excMessage).toContain('poison');
    await second.stop();
  });

  it('keeps the lease of a held ETA task so it is not redelivered', async () => {
    const name = `lease${randomUUID().slice(0, 6)}`;
    app = createApp({ broker: `memory://${name}?visibilityTimeoutMs=150&delayedDelivery=false`, resultBackend: `memory://${name}`, adapters: [createMemoryAdapter()], logLevel: 'silent' });
    let runs = 0;
    app.task('tq.later', () => ++runs);
    const worker = app.worker({ concurrency: 2 });
    await worker.start();
    const result = await app.sendTask('tq.later', [], {}, { countdown: 0.6 });
    const slow = app.task('tq.slow', async () => {
      await sleep(500); // runs well past the 150 ms window, extended meanwhile
      return 'slow';
    });
    const slowResult = await slow.delay();
    expect(await result.get({ timeout: 5000 })).toBe(1);
    expect(await slowResult.get({ timeout: 5000 })).toBe('slow');
    await sleep(300);
    expect(runs).toBe(1);
    expect(worker.stats.received).toBe(2);
    await worker.stop();
  });

  it('hands an ETA beyond the hold horizon from another producer back to a broker that can delay', async () => {
    app = memoryApp();
    app.task('tq.eta', () => 'ran');
    const worker = app.worker({ concurrency: 1, etaHorizonMs: 1000 });
    await worker.start();
    const broker = await app.broker();
    // As Python Celery sends it: an eta header, no broker-side delay.
    const id = randomUUID();
    const message = encodeTaskMessage({ id, task: 'tq.eta', args: [], kwargs: {}, eta: new Date(Date.now() + 1500) }, jsonSerializer);
    await broker.publish('celery', message);
    await sleep(200);
    expect(worker.inspect('scheduled')).toEqual([]); // not held in worker memory
    expect(await app.asyncResult(id).get({ timeout: 5000 })).toBe('ran');
    await worker.stop();
  });
});

describe('remote control', () => {
  it('with fewer executors than queues, an idle queue does not keep the others waiting', async () => {
    app = memoryApp();
    app.task('tq.where', () => 'ran');
    const worker = app.worker({ concurrency: 1, queues: ['idle', 'busy'] });
    await worker.start();
    const results = await Promise.all([1, 2, 3].map(() => app.sendTask('tq.where', [], {}, { queue: 'busy' })));
    for (const result of results) expect(await result.get({ timeout: 2000 })).toBe('ran');
    await worker.stop();
  });

  it('pool_grow and pool_shrink resize the async pool and its prefetch; add_consumer and cancel_consumer change its queues', async () => {
    app = memoryApp();
    app.task('tq.where', () => 'here');
    const worker = app.worker({ concurrency: 2, hostname: 'pool@test' });
    await worker.start();
    const ask = async (method: string, args: Record<string, unknown> = {}) => (await app.control.broadcast(method, args, { timeoutMs: 300, destination: ['pool@test'] }))[0]?.result;
    expect(await ask('pool_grow', { n: 2 })).toEqual({ ok: 'pool will grow' });
    expect([worker.concurrency, worker.prefetch]).toEqual([4, 16]);
    expect(await ask('pool_shrink', { n: 3 })).toEqual({ ok: 'pool will shrink' });
    expect(worker.concurrency).toBe(1);
    expect(await ask('pool_shrink')).toEqual({ error: 'pool cannot shrink below one executor' });
    expect(await ask('add_consumer', { queue: 'extra' })).toEqual({ ok: 'add consumer extra' });
    expect(await (await app.sendTask('tq.where', [], {}, { queue: 'extra' })).get({ timeout: 2000 })).toBe('here');
    expect(await ask('cancel_consumer', { queue: 'extra' })).toEqual({ ok: 'no longer consuming from extra' });
    expect(worker.queues).toEqual(['celery']);
    expect(await ask('cancel_consumer', { queue: 'extra' })).toEqual({ error: 'not consuming from extra' });
    await worker.stop();
  });

  it('ping and inspect reach every worker', async () => {
    app = memoryApp();
    app.task('tq.a', () => 1);
    app.task('tq.b', () => 2);
    const w1 = app.worker({ hostname: 'w1' });
    const w2 = app.worker({ hostname: 'w2' });
    await w1.start();
    await w2.start();
    const pongs = await app.control.ping({ timeoutMs: 300 });
    expect(pongs.map((p) => p.hostname).sort()).toEqual(['w1', 'w2']);
    const registered = await app.control.inspect('registered', { timeoutMs: 300 });
    expect(registered.map((r) => r.result)).toEqual([['tq.a', 'tq.b'], ['tq.a', 'tq.b']]);
    await w1.stop();
    await w2.stop();
  });

  it('a revoked task is skipped when it arrives', async () => {
    app = memoryApp();
    let ran = false;
    app.task('tq.skip', () => (ran = true));
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.skip', [], {}, { countdown: 0.3 });
    await app.control.revoke(result.id);
    await expect(result.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
    await sleep(400);
    expect(ran).toBe(false);
    await worker.stop();
  });

  it('inspect active shows running tasks; revoke terminate aborts one', async () => {
    app = memoryApp();
    app.task('tq.wait', async function () {
      await new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)));
    });
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.wait');
    await sleep(50);
    const [active] = await app.control.inspect('active', { timeoutMs: 300 });
    expect((active!.result as { id: string }[]).map((t) => t.id)).toEqual([result.id]);
    await app.control.revoke(result.id, { terminate: true });
    await expect(result.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
    await worker.stop();
  });
});

describe('events', () => {
  /**
   * A worker with events on runs a task that succeeds, one that fails and one terminated with
   * KILL; returns every event app.events() saw, the producer's task-sent included.
   */
  async function eventsOfAWorkload(): Promise<{ events: Record<string, unknown>[]; okId: string; terminatedId: string }> {
    app = memoryApp({ sendSentEvent: true });
    app.task('tq.ok', () => 1);
    app.task('tq.bad', () => {
      throw new Error('nope');
    });
    app.task('tq.wait', async function () {
      await new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)));
    });
    const controller = new AbortController();
    const events: Record<string, unknown>[] = [];
    const listening = (async () => {
      for await (const event of app.events({ signal: controller.signal })) events.push(event);
    })();
    await sleep(20); // subscribed before the worker comes online
    const worker = app.worker({ events: true, heartbeatIntervalMs: 50, hostname: 'ev@test' });
    await worker.start();
    const ok = await app.sendTask('tq.ok');
    await ok.get({ timeout: 5000 });
    await (await app.sendTask('tq.bad')).get({ timeout: 5000 }).catch(() => undefined);
    const waiting = await app.sendTask('tq.wait');
    await sleep(50);
    await app.control.revoke(waiting.id, { terminate: true, signal: 'SIGKILL' });
    await waiting.get({ timeout: 5000 }).catch(() => undefined);
    await sleep(120);
    await worker.stop();
    controller.abort();
    await listening;
    return { events, okId: ok.id, terminatedId: waiting.id };
  }

  it('publishes Celery-format task and worker events when enabled', async () => {
    const { events, okId, terminatedId } = await eventsOfAWorkload();
    const types = events.map((e) => e['type']);
    for (const type of ['worker-online', 'task-sent', 'task-received', 'task-started', 'task-succeeded', 'task-failed', 'task-revoked', 'worker-heartbeat', 'worker-offline']) {
      expect(types).toContain(type);
    }
    const succeeded = events.find((e) => e['type'] === 'task-succeeded')!;
    expect(succeeded).toMatchObject({ uuid: okId, hostname: 'ev@test', result: '1' });
    expect(typeof succeeded['timestamp']).toBe('number');
    expect(typeof succeeded['runtime']).toBe('number');
    expect(events.find((e) => e['type'] === 'task-failed')!['exception']).toBe("Error('nope')");
    // Celery reports the signal a terminate sent as its number.
    expect(events.find((e) => e['type'] === 'task-revoked')).toMatchObject({ uuid: terminatedId, terminated: true, signum: 9, expired: false });
  });

  // Key order as a Celery 5.2 worker and producer write them (../shared/celery-wire captures):
  // monitors parse JSON, but "Celery-compatible" is checked against what Celery sends.
  it('writes every event with its keys in the order Celery 5.2 writes them', async () => {
    const { events } = await eventsOfAWorkload();
    const keysOf = (type: string) => Object.keys(events.find((e) => e['type'] === type) ?? {});
    const common = ['hostname', 'utcoffset', 'pid', 'clock'];
    const workerEvent = [...common, 'freq', 'active', 'processed', 'loadavg', 'sw_ident', 'sw_ver', 'sw_sys', 'timestamp', 'type'];
    expect({
      sent: keysOf('task-sent'),
      received: keysOf('task-received'),
      started: keysOf('task-started'),
      succeeded: keysOf('task-succeeded'),
      failed: keysOf('task-failed'),
      revoked: keysOf('task-revoked'),
      online: keysOf('worker-online'),
      heartbeat: keysOf('worker-heartbeat'),
      offline: keysOf('worker-offline'),
    }).toEqual({
      sent: [...common, 'uuid', 'root_id', 'parent_id', 'name', 'args', 'kwargs', 'retries', 'eta', 'expires', 'queue', 'exchange', 'routing_key', 'timestamp', 'type'],
      received: [...common, 'uuid', 'name', 'args', 'kwargs', 'root_id', 'parent_id', 'retries', 'eta', 'expires', 'timestamp', 'type'],
      started: [...common, 'uuid', 'timestamp', 'type'],
      succeeded: [...common, 'uuid', 'result', 'runtime', 'timestamp', 'type'],
      failed: [...common, 'uuid', 'exception', 'traceback', 'timestamp', 'type'],
      revoked: [...common, 'uuid', 'terminated', 'signum', 'expired', 'timestamp', 'type'],
      online: workerEvent,
      heartbeat: workerEvent,
      offline: workerEvent,
    });
  });
});

describe('broker outages', () => {
  it('consumes again when the stream fails, instead of stopping the worker', async () => {
    const { MemoryBroker } = await import('../src/memory/memory-broker.js');
    const { MemoryHub } = await import('../src/memory/memory-hub.js');
    const { BrokerConnectionError } = await import('../src/errors.js');
    const inner = new MemoryBroker(new MemoryHub());
    let consumes = 0;
    // A broker whose first two streams die: as after a broker restart.
    const flaky: Broker = {
      capabilities: inner.capabilities,
      connect: () => inner.connect(),
      publish: (queue, message) => inner.publish(queue, message),
      purge: (queue) => inner.purge(queue),
      broadcast: (channel, body) => inner.broadcast(channel, body),
      subscribe: (channel, signal) => inner.subscribe(channel, signal),
      close: () => inner.close(),
      consume(queue, options) {
        consumes++;
        if (consumes <= 2) {
          return {
            async *[Symbol.asyncIterator]() {
              throw new BrokerConnectionError('connection reset');
            },
          };
        }
        return inner.consume(queue, options);
      },
    };
    app = createApp({ broker: flaky, resultBackend: `memory://r${randomUUID().slice(0, 6)}`, adapters: [createMemoryAdapter()], logLevel: 'silent' });
    app.task('tq.ok', () => 'ok');
    const worker = app.worker({ concurrency: 1 });
    await worker.start();
    expect(await (await app.sendTask('tq.ok')).get({ timeout: 5000 })).toBe('ok');
    expect(consumes).toBe(3);
    await worker.stop();
  });
});
