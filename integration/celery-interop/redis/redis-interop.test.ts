/**
 * Celery interop on Redis, both directions, with real Python Celery 5 (Debian's /usr/bin/python3)
 * and a real Redis: a Python producer calls tasks by name on a tq worker, and a tq producer
 * calls tasks on a Python Celery worker. Each direction covers args + kwargs, the result read
 * back through the peer's result backend client, a failure with its traceback, countdown, retry
 * and a custom queue. Then the ack bookkeeping both share: kombu restores what a tq consumer
 * left unacked, and tq restores what a crashed kombu consumer left. Queue names are unique per
 * run; keys are deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { createApp, TaskError, type App, type Delivery, type Worker } from '@tq/core';
import redisAdapter, { RedisBroker, parseRedisOptions } from '@tq/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProducer, runScript, startCeleryWorker, type CeleryWorker, type InteropEnv } from './python.js';

const url = process.env.TQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const SEP = '\x06\x16';

function interopEnv(label: string): InteropEnv {
  const run = randomUUID().slice(0, 8);
  return { url, queue: `tqi-${label}-${run}`, customQueue: `tqi-${label}-${run}.custom` };
}

/** Every key a queue may leave behind: its priority lists, its binding set, its dead-letter list. */
async function deleteQueues(client: Redis, queues: readonly string[]): Promise<void> {
  const keys = queues.flatMap((q) => [q, `${q}${SEP}3`, `${q}${SEP}6`, `${q}${SEP}9`, `_kombu.binding.${q}`, `${q}.dead`]);
  await client.del(...keys);
}

function tqApp(env: InteropEnv, queue: string, config: { resultExtended?: boolean } = {}): App {
  return createApp({ broker: url, resultBackend: url, adapters: [redisAdapter], defaultQueue: queue, resultTtlMs: 3_600_000, ...config });
}

describe('Python Celery producer → tq worker (Redis)', () => {
  const env = interopEnv('py2tq');
  const order: number[] = [];
  let main: App;
  let custom: App;
  let workers: Worker[] = [];
  const client = new Redis(url);

  beforeAll(async () => {
    main = tqApp(env, env.queue, { resultExtended: true }); // Celery's result_extended: records name the task, its arguments, worker and queue
    custom = tqApp(env, env.customQueue);
    for (const app of [main, custom]) {
      app.task('tq.add', (a: number, b: number, kwargs?: { z?: number }) => {
        order.push(a);
        return a + b + (kwargs?.z ?? 0);
      });
      app.task('tq.fail', (message: string) => {
        throw new TypeError(message);
      });
      app.task('tq.flaky', function (succeedAfter: number) {
        if (this.retries < succeedAfter) this.retry({ countdown: 0.2 });
        return this.retries;
      });
    }
    main.task('tq.wait', function () {
      return new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason), { once: true }));
    });
    main.task(
      'tq.never',
      function () {
        this.retry({ countdown: 0.05 });
      },
      { maxRetries: 1 },
    );
    main.task('tq.describe', (...values: unknown[]) => values.map((value) => `${typeof value} ${String(value)}`));
    main.task('tq.where', () => env.queue);
    custom.task('tq.where', () => env.customQueue);
    workers = [main.worker({ queues: [env.queue], concurrency: 2 }), custom.worker({ queues: [env.customQueue], concurrency: 1 })];
    await Promise.all(workers.map((w) => w.start()));
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all([main?.close(), custom?.close()]);
    await deleteQueues(client, [env.queue, env.customQueue]);
    client.disconnect();
  });

  it('args + kwargs: send_task by name, AsyncResult.get() in Python reads the tq result', async () => {
    expect(await runProducer(env, 'args-kwargs')).toMatchObject({ result: 15 });
  });

  it('failure: Python sees FAILURE, the exception type and message, and the traceback', async () => {
    const out = await runProducer(env, 'failure');
    expect(out['state']).toBe('FAILURE');
    expect(out['raised']).toBe('TypeError');
    expect(out['message']).toContain('boom from python');
    expect(String(out['traceback'])).toContain('boom from python');
  });

  it("result_extended: Python's AsyncResult reads the task's name, args, kwargs, worker, retries and queue from a tq worker's record", async () => {
    const out = await runProducer(env, 'extended');
    expect(out).toMatchObject({ name: 'tq.add', args: [2, 3], kwargs: { z: 10 }, retries: 0, queue: env.queue, result: 15 });
    expect(String(out['worker'])).toContain('@');
  });

  it("compression='gzip' (kombu's zlib stream): the tq worker inflates the body and runs the task", async () => {
    expect(await runProducer(env, 'gzip')).toMatchObject({ result: 15 });
  });

  it("float('nan'), float('inf') and -inf arrive as NaN, Infinity and -Infinity (json.dumps writes them bare)", async () => {
    expect(await runProducer(env, 'non-finite')).toMatchObject({ result: ['number NaN', 'number Infinity', 'number -Infinity'] });
  });

  it("soft_time_limit: Python's except billiard.exceptions.SoftTimeLimitExceeded catches the tq task's", async () => {
    expect(await runProducer(env, 'soft-limit')).toMatchObject({ caught: 'billiard.exceptions.SoftTimeLimitExceeded' });
  });

  it("retry() past max retries: Python's except celery.exceptions.MaxRetriesExceededError catches it", async () => {
    expect(await runProducer(env, 'max-retries')).toMatchObject({ caught: 'celery.exceptions.MaxRetriesExceededError', message: expect.stringContaining('max retries (1) exceeded') });
  });

  it('countdown: the task runs no earlier than its ETA', async () => {
    const out = await runProducer(env, 'countdown');
    expect(out['result']).toBe(2);
    expect(Number(out['elapsed'])).toBeGreaterThanOrEqual(1.5);
  });

  it('retry: the tq task retries once and Python gets the final result', async () => {
    expect(await runProducer(env, 'retry')).toMatchObject({ result: 1 });
  });

  it('custom queue: a task sent to another queue is run by the worker consuming it', async () => {
    expect(await runProducer(env, 'custom-queue')).toMatchObject({ result: env.customQueue });
  });

  it("priority: Python's 0 (most urgent on Redis) is served first and reads as tq priority 9", async () => {
    const queue = `${env.queue}.prio`;
    const { ids } = (await runProducer({ ...env, queue }, 'priority')) as { ids: string[] }; // sent with priority 9, 5, 0
    const broker = new RedisBroker(parseRedisOptions(new URL(url)));
    await broker.connect();
    const controller = new AbortController();
    const seen: Array<[unknown, unknown]> = [];
    for await (const delivery of broker.consume(queue, { prefetch: 1, signal: controller.signal })) {
      seen.push([delivery.message.headers['id'], delivery.message.properties.priority]);
      await delivery.ack();
      if (seen.length === 3) break;
    }
    await broker.close();
    await deleteQueues(client, [queue]);
    expect(seen).toEqual([
      [ids[2], 9],
      [ids[1], 4],
      [ids[0], 0],
    ]);
  });
});

describe('tq producer → Python Celery worker (Redis)', () => {
  const env = interopEnv('tq2py');
  let app: App;
  let worker: CeleryWorker | undefined;
  const client = new Redis(url);

  beforeAll(async () => {
    app = tqApp(env, env.queue);
    worker = await startCeleryWorker(env);
  }, 30_000);

  afterAll(async () => {
    await worker?.stop();
    await app?.close();
    await deleteQueues(client, [env.queue, env.customQueue]);
    client.disconnect();
  });

  it('args + kwargs: the Python task receives both and tq reads its result', async () => {
    const result = await app.sendTask('tq.add', [2, 3], { z: 10 });
    expect(await result.get({ timeout: 15_000 })).toBe(15);
  });

  it('failure: tq rethrows TaskError with the Python exception type, message and traceback', async () => {
    const result = await app.sendTask('tq.fail', ['boom from tq']);
    const error = await result.get({ timeout: 15_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskError);
    const failure = error as TaskError;
    expect(failure.excType).toBe('ValueError');
    expect(failure.excMessage).toContain('boom from tq');
    expect(failure.traceback).toContain('Traceback (most recent call last)');
    expect(failure.traceback).toContain('raise ValueError(message)');
  });

  // Celery 5.2's parse_iso8601 reads the fraction of "…:26.970Z" as 970 microseconds: an ETA
  // written with milliseconds runs up to 1 s early. Python writes isoformat(), "…:26.970000+00:00".
  it('countdown: Python runs the task no earlier than the ETA tq wrote', async () => {
    const started = Date.now();
    const result = await app.sendTask('tq.add', [1, 1], {}, { countdown: 1.5 });
    expect(await result.get({ timeout: 15_000 })).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  });

  it('retry: the Python task retries (re-publishing on Redis) and tq gets the final result', async () => {
    const result = await app.sendTask('tq.flaky', [2]);
    expect(await result.get({ timeout: 15_000 })).toBe(2);
  });

  it('custom queue: a task tq sends to another queue arrives there', async () => {
    const result = await app.sendTask('tq.where', [], {}, { queue: env.customQueue });
    expect(await result.get({ timeout: 15_000 })).toBe(env.customQueue);
  });

  it('priority: kombu serves tq priority 9 before 5 before 0, as kombu priorities 0, 4 and 9', async () => {
    const queue = `${env.queue}.prio`;
    const sent: string[] = [];
    for (const priority of [0, 5, 9]) sent.push((await app.sendTask('tq.add', [priority, 0], {}, { queue, priority })).id);
    const { order } = (await runScript(env, 'kombu_unacked.py', ['drain', queue])) as { order: Array<[string, number]> };
    await deleteQueues(client, [queue]);
    expect(order).toEqual([
      [sent[2], 0],
      [sent[1], 4],
      [sent[0], 9],
    ]);
  });
});

describe('ack bookkeeping shared with kombu (unacked hash + unacked_index)', () => {
  // A key prefix of its own: kombu's restore_visible with a 1 s timeout must only see this block's deliveries.
  const env: InteropEnv = { ...interopEnv('acks'), prefix: `tqi-acks-${randomUUID().slice(0, 8)}:` };
  const client = new Redis(url);
  const brokers: RedisBroker[] = [];

  async function broker(visibilitySeconds: string, foreignVisibilitySeconds?: string): Promise<RedisBroker> {
    const u = new URL(url);
    u.searchParams.set('global_keyprefix', env.prefix!);
    u.searchParams.set('visibility_timeout', visibilitySeconds);
    if (foreignVisibilitySeconds) u.searchParams.set('foreign_visibility_timeout', foreignVisibilitySeconds);
    const b = new RedisBroker(parseRedisOptions(u));
    await b.connect();
    brokers.push(b);
    return b;
  }

  async function takeOne(b: RedisBroker, queue: string): Promise<Delivery> {
    const controller = new AbortController();
    for await (const delivery of b.consume(queue, { prefetch: 1, signal: controller.signal })) {
      controller.abort();
      return delivery;
    }
    throw new Error('no delivery');
  }

  afterAll(async () => {
    for (const b of brokers) await b.close();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${env.prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await client.del(...keys);
    } while (cursor !== '0');
    client.disconnect();
  });

  it("kombu's restore_visible returns a delivery a tq consumer took and never acked", async () => {
    const tq = await broker('3600'); // tq's own restorer stays out of the way
    await tq.publish(env.queue, {
      body: new TextEncoder().encode('[[1, 2], {}, {}]'),
      headers: { id: 'held-by-tq', task: 'tq.add' },
      properties: { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: 'held-by-tq' },
    });
    const held = await takeOne(tq, env.queue);
    expect(held.message.headers['id']).toBe('held-by-tq');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await runScript(env, 'kombu_unacked.py', ['restore', '1'])).toEqual({ restored: 1 });
    const again = await takeOne(tq, env.queue);
    expect([again.message.headers['id'], again.redelivered]).toEqual(['held-by-tq', true]);
    await again.ack();
  });

  it('tq restores a delivery a crashed kombu consumer took and never acked', async () => {
    const queue = `${env.queue}.crash`;
    const sent = await runScript(env, 'kombu_unacked.py', ['send', queue]);
    expect(await runScript(env, 'kombu_unacked.py', ['take', queue])).toEqual({ id: sent['id'] });
    expect(await client.llen(`${env.prefix}${queue}`)).toBe(0);
    expect(await client.hlen(`${env.prefix}unacked`)).toBe(1);
    // A kombu delivery is restored after the foreign timeout (kombu's 1 h by default), shortened here.
    const tq = await broker('1', '1');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await tq.restoreExpired();
    const restored = await takeOne(tq, queue);
    expect([restored.message.headers['id'], restored.message.headers['task'], restored.redelivered]).toEqual([sent['id'], 'tq.add', true]);
    await restored.ack();
    expect(await client.hlen(`${env.prefix}unacked`)).toBe(0);
  });
});
