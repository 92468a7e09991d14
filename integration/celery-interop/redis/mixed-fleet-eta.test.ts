/**
 * A mixed fleet on Redis (issue #14): a Python Celery 5.2 worker holds an ETA task (kombu keeps
 * it unacked, never extending its lease) while a tq worker with a short visibility timeout
 * consumes the same queue. tq restores a foreign delivery only after foreignVisibilityTimeoutMs
 * (kombu's 1 h by default), so the task runs once; with that rule shortened to tq's own timeout,
 * the same scene runs it several times, which shows what the rule prevents. Runs are counted in Redis
 * by both sides. Keys live under a prefix of their own and are deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { createApp, encodeTaskMessage, jsonSerializer, type App, type Worker } from '@tq/core';
import redisAdapter, { RedisBroker, parseRedisOptions } from '@tq/redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startCeleryWorker, type CeleryWorker, type InteropEnv } from './python.js';

const url = process.env.TQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const etaMs = 6_000;

describe('a Python worker holding an ETA task beside a tq worker (Redis)', () => {
  const client = new Redis(url);
  const prefixes: string[] = [];
  let python: CeleryWorker | undefined;
  const apps: App[] = [];
  const workers: Worker[] = [];
  const brokers: RedisBroker[] = [];

  afterEach(async () => {
    await Promise.allSettled(workers.splice(0).map((w) => w.stop()));
    await Promise.allSettled(apps.splice(0).map((a) => a.close()));
    await Promise.allSettled(brokers.splice(0).map((b) => b.close()));
    await python?.stop();
    python = undefined;
  }, 30_000);

  afterAll(async () => {
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await client.del(...keys);
      } while (cursor !== '0');
    }
    client.disconnect();
  });

  /** Python takes an ETA task first, then a tq worker joins the queue; returns the run count at ETA + 3 s. */
  async function scene(foreignVisibilitySeconds: string | null): Promise<number> {
    const run = randomUUID().slice(0, 8);
    const env: InteropEnv = { url, queue: `tqi-eta-${run}`, customQueue: `tqi-eta-${run}.custom`, prefix: `tqi-eta-${run}:` };
    prefixes.push(env.prefix!);
    const runsKey = `${env.prefix}runs`;
    python = await startCeleryWorker(env);
    const tqUrl = new URL(url);
    tqUrl.searchParams.set('global_keyprefix', env.prefix!);
    // tq's own deliveries are restored after 1 s here, to make a wrong restore show at once.
    tqUrl.searchParams.set('visibility_timeout', '1');
    if (foreignVisibilitySeconds) tqUrl.searchParams.set('foreign_visibility_timeout', foreignVisibilitySeconds);
    // As Python Celery sends a countdown: an eta header on an ordinary message in the list.
    const producer = new RedisBroker(parseRedisOptions(tqUrl));
    brokers.push(producer);
    await producer.connect();
    const message = encodeTaskMessage({ id: randomUUID(), task: 'tq.count', args: [runsKey], kwargs: {}, eta: new Date(Date.now() + etaMs) }, jsonSerializer);
    await producer.publish(env.queue, message);
    const deadline = Date.now() + 10_000;
    while ((await client.hlen(`${env.prefix}unacked`)) === 0 || (await client.llen(`${env.prefix}${env.queue}`)) > 0) {
      if (Date.now() > deadline) throw new Error(`the Python worker never took the ETA task:\n${python.output().slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const app = createApp({ broker: tqUrl.toString(), resultBackend: null, adapters: [redisAdapter], defaultQueue: env.queue, logLevel: 'silent' });
    apps.push(app);
    app.task('tq.count', async (key: string) => void (await client.incr(key)));
    const worker = app.worker({ concurrency: 2 });
    workers.push(worker);
    await worker.start();
    await new Promise((resolve) => setTimeout(resolve, etaMs + 3_000));
    return Number((await client.get(runsKey)) ?? 0);
  }

  it("with tq's defaults the task a Python worker holds for its ETA runs once", async () => {
    expect(await scene(null)).toBe(1);
  }, 40_000);

  it('restoring foreign deliveries on tq\'s own short timeout would run it more than once (what the rule prevents)', async () => {
    // Each restore hands the held message out again (to Python or tq): several runs, not one.
    expect(await scene('1')).toBeGreaterThan(1);
  }, 40_000);
});
