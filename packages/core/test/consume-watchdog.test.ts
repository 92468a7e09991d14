import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createApp, type App, type Delivery, type Worker } from '../src/index.js';
import type { ConsumeOptions, Consumer } from '../src/adapter.js';
import { createMemoryAdapter, MemoryBroker, MemoryHub } from '../src/memory/index.js';
import { ConsumeWatchdog } from '../src/worker/consume-watchdog.js';
import { sleep } from './helpers.js';

/**
 * A memory broker whose first `stalls` consume streams are wedged: they never yield, never
 * fail and ignore their abort signal (a client that lost its subscription without noticing).
 */
class StallingBroker extends MemoryBroker {
  stalls: number;
  consumes = 0;

  constructor(stalls: number) {
    super(new MemoryHub());
    this.stalls = stalls;
  }

  override consume(queue: string, options: ConsumeOptions): Consumer {
    this.consumes++;
    if (this.stalls-- <= 0) return super.consume(queue, options);
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<Delivery>>(() => undefined),
        return: () => Promise.resolve({ done: true, value: undefined }),
      }),
    };
  }
}

let app: App | undefined;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop({ force: true });
  await app?.close();
  worker = app = undefined;
});

function appOn(broker: MemoryBroker): App {
  const created = createApp({ broker, resultBackend: `memory://w${randomUUID().slice(0, 8)}`, adapters: [createMemoryAdapter()], logLevel: 'silent' });
  created.task('wd.add', (a: number, b: number) => a + b);
  created.task('wd.sleep', (ms: number) => sleep(ms).then(() => ms));
  return created;
}

describe('consuming watchdog (consume-watchdog.ts)', () => {
  it('restarts a consumer whose stream neither yields nor fails while its queue holds ready messages, and the task runs', async () => {
    const broker = new StallingBroker(1);
    app = appOn(broker);
    worker = app.worker({ concurrency: 2, consumerStallMs: 800 });
    const restarts: { queue: string; ready: number }[] = [];
    worker.on('consumer-restarted', (stall) => restarts.push(stall));
    await worker.start();
    const sent = await app.sendTask('wd.add', [2, 3]);
    expect(await sent.get({ timeout: 15_000 })).toBe(5);
    expect(restarts).toEqual([expect.objectContaining({ queue: 'celery', ready: 1 })]);
    expect(broker.consumes).toBe(2);
  });

  it('never restarts the consumer of an idle queue, however long it waits', async () => {
    const broker = new StallingBroker(1);
    app = appOn(broker);
    worker = app.worker({ concurrency: 1, consumerStallMs: 300 });
    let restarts = 0;
    worker.on('consumer-restarted', () => restarts++);
    await worker.start();
    await sleep(2000);
    expect(restarts).toBe(0);
    expect(broker.consumes).toBe(1);
  });

  it('does not restart a consumer that waits for a free executor while a backlog waits in the queue', async () => {
    const broker = new StallingBroker(0);
    app = appOn(broker);
    worker = app.worker({ concurrency: 1, prefetchMultiplier: 1, consumerStallMs: 300 });
    let restarts = 0;
    worker.on('consumer-restarted', () => restarts++);
    await worker.start();
    const first = await app.sendTask('wd.sleep', [2000]);
    for (let i = 0; i < 5; i++) await app.sendTask('wd.add', [i, i]);
    expect(await first.get({ timeout: 15_000 })).toBe(2000);
    expect(restarts).toBe(0);
    expect(broker.consumes).toBe(1);
  });

  it('is off with consumerStallMs: 0, and the option is checked', async () => {
    const broker = new StallingBroker(1);
    app = appOn(broker);
    expect(() => app!.worker({ consumerStallMs: -1 })).toThrow(ConfigError);
    worker = app.worker({ concurrency: 1, consumerStallMs: 0 });
    await worker.start();
    await app.sendTask('wd.add', [1, 1]);
    await sleep(1500);
    expect(broker.consumes).toBe(1);
    expect((await app.queueStats('celery')).ready).toBe(1);
  });

  it('listens to a stream signal once, not once per delivery, and its abort still ends a wait', async () => {
    const watch = new ConsumeWatchdog(null).watch('q');
    const stream = new AbortController();
    let listeners = 0;
    const add = stream.signal.addEventListener.bind(stream.signal);
    stream.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
      listeners++;
      add(...args);
    }) as AbortSignal['addEventListener'];
    let n = 0;
    const yielding: AsyncIterator<Delivery> = { next: async () => ({ done: false, value: { n: n++ } as unknown as Delivery }) };
    for (let i = 0; i < 50; i++) expect((await watch.next(yielding, stream.signal, () => undefined)).done).toBe(false);
    expect(listeners).toBe(1);
    const wedged: AsyncIterator<Delivery> = { next: () => new Promise<IteratorResult<Delivery>>(() => undefined) };
    const waiting = watch.next(wedged, stream.signal, () => undefined);
    stream.abort();
    expect((await waiting).done).toBe(true);
    expect(listeners).toBe(1);
    watch.close();
  });
});
