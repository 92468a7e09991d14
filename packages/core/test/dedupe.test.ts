import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, UnsupportedError, type App } from '../src/index.js';
import { createMemoryAdapter } from '../src/memory/index.js';
import { memoryApp, sleep } from './helpers.js';

let apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
});

/** Several producers (each its own app and clients) on one memory namespace. */
function producers(count: number): App[] {
  const name = `d${randomUUID().slice(0, 8)}`;
  const adapter = createMemoryAdapter();
  const made = Array.from({ length: count }, () => createApp({ broker: `memory://${name}`, resultBackend: `memory://${name}`, adapters: [adapter], logLevel: 'silent' }));
  apps.push(...made);
  return made;
}

describe('deduplication (#15)', () => {
  it('a taskId sent twice is enqueued and run once; both sends return the same result', async () => {
    const [app] = producers(1);
    let runs = 0;
    app!.task('tq.once', () => ++runs);
    const first = await app!.sendTask('tq.once', [], {}, { taskId: 'order-42', queue: 'q-once' });
    const second = await app!.sendTask('tq.once', [], {}, { taskId: 'order-42', queue: 'q-once' });
    expect(second.id).toBe('order-42');
    expect((await app!.queueStats('q-once')).ready).toBe(1);
    const worker = app!.worker({ queues: ['q-once'] });
    await worker.start();
    expect(await first.get({ timeout: 5000 })).toBe(1);
    expect(await second.get({ timeout: 5000 })).toBe(1);
    await sleep(50);
    expect(runs).toBe(1);
    await worker.stop();
  });

  it('brokerDeduplication: the broker drops the repeats, even when the backend claim was lost; needs taskId and a broker that can', async () => {
    const [one, two] = producers(2);
    const sends = [one!, two!, one!].map((app) => app.sendTask('tq.once', [], {}, { taskId: 'tick-7', queue: 'q-broker-once', brokerDeduplication: true }));
    expect((await Promise.all(sends)).map((r) => r.id)).toEqual(['tick-7', 'tick-7', 'tick-7']);
    expect((await one!.queueStats('q-broker-once')).ready).toBe(1);
    // No backend claim was taken: a plain taskId send of that id still claims it and goes out.
    await one!.sendTask('tq.once', [], {}, { taskId: 'tick-7', queue: 'q-broker-once' });
    expect((await one!.queueStats('q-broker-once')).ready).toBe(2);
    await expect(one!.sendTask('tq.once', [], {}, { queue: 'q-broker-once', brokerDeduplication: true })).rejects.toThrow(/brokerDeduplication: needs taskId/);
    const bridge = createMemoryAdapter();
    const plain = createApp({ broker: 'memory://plain', resultBackend: null, adapters: [{ ...bridge, createBroker: (url, options) => Object.assign(bridge.createBroker!(url, options), { capabilities: { ...bridge.createBroker!(url, options).capabilities, publishDeduplicationMs: null } }) }], logLevel: 'silent' });
    apps.push(plain);
    await expect(plain.sendTask('tq.once', [], {}, { taskId: 'x', brokerDeduplication: true })).rejects.toBeInstanceOf(UnsupportedError);
  });

  it('runOnce: every send is enqueued, tq workers run the id once; a redelivery of the claimed copy still runs; needs taskId', async () => {
    const [one, two] = producers(2);
    let runs = 0;
    one!.task('tq.once', () => ++runs);
    for (const app of [one!, two!]) await app.sendTask('tq.once', [], {}, { taskId: 'tick-9', queue: 'q-run-once', runOnce: true });
    expect((await one!.queueStats('q-run-once')).ready, 'no claim at send: both copies are enqueued').toBe(2);
    // A worker takes the first copy and claims the id with its nonce, then dies before running it.
    const stop = new AbortController();
    const taken = (await two!.broker()).consume('q-run-once', { prefetch: 1, signal: stop.signal })[Symbol.asyncIterator]();
    const first = (await taken.next()).value!;
    const nonce = String(first.message.headers['tq_run_once']);
    await expect((await one!.backend())!.claim!('run:tick-9', nonce, 60_000)).resolves.toBeNull();
    stop.abort();
    await two!.close(); // the unacked first copy comes back
    const worker = one!.worker({ queues: ['q-run-once'] });
    await worker.start();
    expect(await one!.asyncResult('tick-9').get({ timeout: 5000 })).toBe(1);
    await sleep(100);
    expect(runs, 'the redelivered first copy ran, the second copy was dropped').toBe(1);
    expect((await one!.queueStats('q-run-once')).ready).toBe(0);
    await worker.stop();
    await expect(one!.sendTask('tq.once', [], {}, { queue: 'q-run-once', runOnce: true })).rejects.toThrow(/runOnce: needs taskId/);
  });

  it('dedupe { key, ttl }: concurrent producers enqueue one task and all get its AsyncResult', async () => {
    const clients = producers(5);
    const sends = clients.flatMap((app) => Array.from({ length: 4 }, () => app.sendTask('tq.report', [], {}, { queue: 'q-dedupe', dedupe: { key: 'report:7', ttl: 60 } })));
    const results = await Promise.all(sends);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect((await clients[0]!.queueStats('q-dedupe')).ready).toBe(1);
  });

  it('after the window a send with the same key is enqueued again; other keys are independent', async () => {
    const [app] = producers(1);
    const a = await app!.sendTask('tq.x', [], {}, { queue: 'q-window', dedupe: { key: 'k', ttl: 0.2 } });
    const b = await app!.sendTask('tq.x', [], {}, { queue: 'q-window', dedupe: { key: 'other', ttl: 0.2 } });
    expect(b.id).not.toBe(a.id);
    await sleep(300);
    const c = await app!.sendTask('tq.x', [], {}, { queue: 'q-window', dedupe: { key: 'k', ttl: 0.2 } });
    expect(c.id).not.toBe(a.id);
    expect((await app!.queueStats('q-window')).ready).toBe(3);
  });

  it('a send whose publish fails releases its claim, so a retry goes through', async () => {
    const [app] = producers(1);
    const broker = await app!.broker();
    const publish = broker.publish.bind(broker);
    let fail = true;
    broker.publish = async (...args) => {
      if (fail) throw new Error('broker down');
      return publish(...args);
    };
    await expect(app!.sendTask('tq.x', [], {}, { queue: 'q-retry', taskId: 'retry-me' })).rejects.toThrow(/broker down/);
    fail = false;
    await app!.sendTask('tq.x', [], {}, { queue: 'q-retry', taskId: 'retry-me' });
    expect((await app!.queueStats('q-retry')).ready).toBe(1);
  });

  it('dedupe without a claim-capable result backend is an UnsupportedError; taskId then sends as before', async () => {
    const app = memoryApp({ resultBackend: null });
    apps.push(app);
    await expect(app.sendTask('tq.x', [], {}, { dedupe: { key: 'k', ttl: 10 } })).rejects.toBeInstanceOf(UnsupportedError);
    await app.sendTask('tq.x', [], {}, { taskId: 'same', queue: 'q-plain' });
    await app.sendTask('tq.x', [], {}, { taskId: 'same', queue: 'q-plain' });
    expect((await app.queueStats('q-plain')).ready).toBe(2);
  });
});
