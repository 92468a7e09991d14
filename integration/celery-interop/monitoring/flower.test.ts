/**
 * Flower 2.0.1 (shared/flower, run from source on Debian's Celery) works with tq, on Redis and
 * RabbitMQ, through its HTTP API: it lists the tq worker with its stats and registered tasks,
 * shows tq tasks with state, args, result, runtime and traceback, and its revoke and rate-limit
 * actions act on the tq worker.
 */
import { createApp, type App, type Worker } from '@tq/core';
import amqpAdapter from '@tq/amqp';
import redisAdapter from '@tq/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendUrl, brokers, deleteNamedQueues, ensureAmqp, Flower, uniqueName } from './peers.js';

const adapters = [redisAdapter, amqpAdapter];
type FlowerTask = Record<string, unknown> & { state?: string };

afterAll(async () => {
  for (const broker of brokers) await deleteNamedQueues(broker);
});

for (const broker of brokers) {
  describe(`Flower shows and controls tq (${broker.name})`, () => {
    const queue = uniqueName(`fl-${broker.name}`);
    const hostname = `${uniqueName('tq')}@flower`;
    const running: string[] = [];
    let app: App;
    let worker: Worker;
    let flower: Flower;

    beforeAll(async () => {
      if (broker.name === 'amqp') await ensureAmqp(broker.url);
      flower = await Flower.start(broker.url);
      app = createApp({ broker: broker.url, resultBackend: backendUrl, adapters, defaultQueue: queue, resultTtlMs: 600_000 });
      app.task('mon.add', (a: number, b: number) => a + b);
      app.task('mon.fail', (message: string) => {
        throw new TypeError(message);
      });
      app.task('mon.block', async function (seconds: number) {
        running.push(this.id);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, seconds * 1000);
          this.signal.addEventListener('abort', () => (clearTimeout(timer), reject(this.signal.reason)), { once: true });
        });
        return 'finished';
      });
      worker = app.worker({ queues: [queue], concurrency: 3, hostname, events: true });
      await worker.start();
    }, 60_000);

    afterAll(async () => {
      await worker?.stop({ force: true });
      await app?.close();
      await flower?.stop();
    });

    const flowerTask = async (id: string, state: string): Promise<FlowerTask> => {
      let task: FlowerTask = {};
      await expect
        .poll(async () => {
          task = (await flower.get<Record<string, FlowerTask>>('/api/tasks'))[id] ?? {};
          return task.state;
        }, { timeout: 20_000, interval: 300 })
        .toBe(state);
      return task;
    };

    it('lists the tq worker with its stats, pool and registered tasks', async () => {
      let workers: Record<string, Record<string, unknown>> = {};
      await expect
        .poll(async () => {
          workers = await flower.get('/api/workers?refresh=1');
          return Object.keys(workers);
        }, { timeout: 20_000, interval: 500 })
        .toContain(hostname);
      const info = workers[hostname]!;
      expect(info['registered']).toEqual(['mon.add', 'mon.block', 'mon.fail']);
      expect(info['stats']).toMatchObject({ pool: { 'max-concurrency': 3 }, prefetch_count: 12 });
      expect(info['active_queues']).toEqual([expect.objectContaining({ name: queue })]);
    });

    it('shows tq tasks with their state, args, result, runtime, worker and traceback', async () => {
      const added = await app.sendTask<number>('mon.add', [2, 3]);
      const failed = await app.sendTask('mon.fail', ['bad input']);
      expect(await added.get({ timeout: 10_000 })).toBe(5);
      await expect(failed.get({ timeout: 10_000 })).rejects.toThrow(/bad input/);
      const success = await flowerTask(added.id, 'SUCCESS');
      expect(success).toMatchObject({ name: 'mon.add', args: '(2, 3)', result: '5', worker: hostname });
      expect(success['runtime']).toEqual(expect.any(Number));
      const failure = await flowerTask(failed.id, 'FAILURE');
      expect(failure).toMatchObject({ name: 'mon.fail', exception: "TypeError('bad input')" });
      expect(String(failure['traceback'])).toContain('bad input');
      const info = await flower.get<FlowerTask>(`/api/task/info/${added.id}`);
      expect(info).toMatchObject({ uuid: added.id, state: 'SUCCESS', name: 'mon.add', worker: hostname });
    });

    it("Flower's revoke (terminate) stops a running tq task", async () => {
      const blocked = await app.sendTask('mon.block', [30]);
      await expect.poll(() => running.includes(blocked.id), { timeout: 10_000 }).toBe(true);
      const response = await flower.post(`/api/task/revoke/${blocked.id}?terminate=true`);
      expect(response.status, response.body).toBe(200);
      await expect(blocked.get({ timeout: 10_000 })).rejects.toThrow(/revoked|terminated/i);
      await flowerTask(blocked.id, 'REVOKED');
    });

    it("Flower's rate limit changes the tq worker's task", async () => {
      await expect.poll(async () => Object.keys(await flower.get('/api/workers')), { timeout: 10_000 }).toContain(hostname);
      const response = await flower.post('/api/task/rate-limit/mon.add', { workername: hostname, ratelimit: '30/m' });
      expect(response.status, response.body).toBe(200);
      expect(JSON.parse(response.body)).toEqual({ message: 'new rate limit set successfully' });
      expect(app.tasks.get('mon.add')!.options.rateLimit).toBe('30/m');
    });
  });
}
