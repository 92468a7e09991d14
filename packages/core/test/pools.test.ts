import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App, TaskError, Worker } from '../src/index.js';

// The app from the fixture module, as the executors import it (built @tq/core).
const fixture = new URL('./fixtures/pool-tasks.mjs', import.meta.url);
let app: App;

beforeAll(async () => {
  app = (await import(fixture.href)).default as App;
});
afterAll(async () => {
  await app.close();
});

async function withWorker<T>(pool: 'threads' | 'processes', options: Record<string, unknown>, body: (queue: string, worker: Worker) => Promise<T>): Promise<T> {
  const queue = `pool-${randomUUID().slice(0, 8)}`;
  const worker = app.worker({ pool, appModule: fixture, queues: [queue], concurrency: 2, ...options });
  await worker.start();
  try {
    return await body(queue, worker);
  } finally {
    await worker.stop({ force: true });
  }
}

describe.each(['threads', 'processes'] as const)('%s pool', (pool) => {
  it('runs tasks outside the worker and reports progress', async () => {
    await withWorker(pool, {}, async (queue) => {
      expect(await (await app.sendTask('pool.add', [2, 3], {}, { queue })).get({ timeout: 10_000 })).toBe(5);
      const where = (await (await app.sendTask('pool.where', [], {}, { queue })).get({ timeout: 10_000 })) as { pid: number; threadId: number };
      if (pool === 'processes') expect(where.pid).not.toBe(process.pid);
      else expect(where.threadId).not.toBe(0);
      const progress = await app.sendTask('pool.progress', [3], {}, { queue });
      const seen: string[] = [];
      for await (const record of progress.updates({ timeout: 10_000 })) seen.push(record.status);
      expect(seen.at(-1)).toBe('SUCCESS');
    });
  });

  it('carries errors and retries across the boundary', async () => {
    await withWorker(pool, {}, async (queue) => {
      const error = (await (await app.sendTask('pool.fail', [], {}, { queue })).get({ timeout: 10_000 }).catch((e: unknown) => e)) as TaskError;
      expect(error.excType).toBe('TypeError');
      expect(error.traceback).toContain('bad type in executor');
      expect(await (await app.sendTask('pool.retry', [], {}, { queue })).get({ timeout: 10_000 })).toBe(1);
    });
  });

  it('a hard time limit terminates the executor, which is replaced', async () => {
    await withWorker(pool, { concurrency: 1 }, async (queue) => {
      const spin = await app.sendTask('pool.spin', [], {}, { queue, timeLimit: 0.3 });
      const error = (await spin.get({ timeout: 10_000 }).catch((e: unknown) => e)) as TaskError;
      expect(error.excType).toBe('TimeLimitExceeded');
      expect(await (await app.sendTask('pool.add', [1, 1], {}, { queue })).get({ timeout: 10_000 })).toBe(2);
    });
  });

  it('a crashed executor fails its task with WorkerLostError and is replaced', async () => {
    await withWorker(pool, { concurrency: 1 }, async (queue) => {
      const error = (await (await app.sendTask('pool.crash', [], {}, { queue })).get({ timeout: 10_000 }).catch((e: unknown) => e)) as TaskError;
      expect(error.excType).toBe('WorkerLostError');
      expect(await (await app.sendTask('pool.add', [4, 4], {}, { queue })).get({ timeout: 10_000 })).toBe(8);
    });
  });

  it('a task that keeps killing its executor is dead-lettered after the poison threshold', async () => {
    await withWorker(pool, { concurrency: 1, poisonThreshold: 2 }, async (queue) => {
      const result = await app.sendTask('pool.crashAndRequeue', [], {}, { queue });
      const error = (await result.get({ timeout: 15_000 }).catch((e: unknown) => e)) as TaskError;
      expect(error.excType).toBe('WorkerLostError');
      expect(error.excMessage).toContain('poison');
      const broker = await app.broker();
      expect(await broker.purge(`${queue}.dead`)).toBe(1);
    });
  });

  it('maxTasksPerChild recycles executors', async () => {
    await withWorker(pool, { concurrency: 1, maxTasksPerChild: 1 }, async (queue) => {
      const ids = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const where = (await (await app.sendTask('pool.where', [], {}, { queue })).get({ timeout: 10_000 })) as { pid: number; threadId: number };
        ids.add(`${where.pid}:${where.threadId}`);
      }
      expect(ids.size).toBe(3);
    });
  });

  it('maxMemoryPerChildMb recycles an executor that grew past it', async () => {
    await withWorker(pool, { concurrency: 1, maxMemoryPerChildMb: 20 }, async (queue) => {
      const before = (await (await app.sendTask('pool.where', [], {}, { queue })).get({ timeout: 10_000 })) as { pid: number; threadId: number };
      await (await app.sendTask('pool.grow', [], {}, { queue })).get({ timeout: 10_000 });
      const after = (await (await app.sendTask('pool.where', [], {}, { queue })).get({ timeout: 10_000 })) as { pid: number; threadId: number };
      expect(`${after.pid}:${after.threadId}`).not.toBe(`${before.pid}:${before.threadId}`);
    });
  });

  it('revoke with terminate stops a running task', async () => {
    await withWorker(pool, { concurrency: 1 }, async (queue) => {
      const spin = await app.sendTask('pool.spin', [], {}, { queue });
      await new Promise((r) => setTimeout(r, 300));
      await app.control.revoke(spin.id, { terminate: true });
      await expect(spin.get({ timeout: 10_000 })).rejects.toMatchObject({ code: 'TQ_TASK_REVOKED' });
      expect(await (await app.sendTask('pool.add', [5, 5], {}, { queue })).get({ timeout: 10_000 })).toBe(10);
    });
  });
});

it('the thread and process pools need the app module', () => {
  expect(() => app.worker({ pool: 'threads' })).toThrow(/appModule/);
});
