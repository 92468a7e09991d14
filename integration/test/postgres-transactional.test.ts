/**
 * Transactional enqueue: sendTask(…, { transaction }) inside the caller's own PostgreSQL
 * transaction. On the postgres:// broker the task row is inserted in that transaction; on
 * another broker (Redis here) it goes to a PostgreSQL outbox that the app's workers relay.
 * Rollback → no task; commit → exactly one run.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createApp, isTqError, type App } from '@tq/core';
import { PostgresOutbox, postgresAdapter } from '@tq/postgres';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const schema = `tqt_int_${randomBytes(4).toString('hex')}`;
const postgres = await resolveBroker('postgres');
const redis = await resolveBroker('redis');
const redisPrefix = `tqt-int-${randomBytes(4).toString('hex')}:`;
const withSchema = (url: string) => `${url}${url.includes('?') ? '&' : '?'}schema=${schema}`;

const available = postgres.url !== undefined && redis.url !== undefined;

describe.skipIf(!available && !brokersRequired())('transactional enqueue', () => {
  /** Closed after each test, last opened first (workers before their app, apps before the outbox). */
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const thing of opened.splice(0).reverse()) await thing.close();
  });
  afterAll(async () => {
    if (!postgres.url) return;
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
    await postgres.stop();
    await redis.stop();
  });

  function required(): { pgUrl: string; redisUrl: string } {
    if (!postgres.url || !redis.url) throw new Error(`postgres and redis are required under CI=true: ${postgres.detail}; ${redis.detail}`);
    const redisUrl = new URL(redis.url);
    redisUrl.searchParams.set('global_keyprefix', redisPrefix);
    return { pgUrl: postgres.url, redisUrl: redisUrl.href };
  }

  /** A business table in the same database, written in the same transaction as the task. */
  async function businessClient(pgUrl: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS "${schema}".orders (id text PRIMARY KEY)`);
    return client;
  }

  async function runTasks(app: App, queue: string): Promise<string[]> {
    const ran: string[] = [];
    app.task('orders.confirm', (orderId: string) => void ran.push(orderId));
    const worker = app.worker({ queues: [queue], concurrency: 1 });
    await worker.start();
    opened.push({ close: () => worker.stop() });
    return ran;
  }

  it('postgres:// broker: rollback leaves no task, commit leaves exactly one', async () => {
    const { pgUrl } = required();
    const queue = `tx-${randomUUID()}`;
    const app = createApp({ broker: withSchema(pgUrl), adapters: [postgresAdapter], resultBackend: null, logLevel: 'silent' });
    opened.push(app);
    const client = await businessClient(pgUrl);
    try {
      await app.broker();
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema}".orders (id) VALUES ('rolled-back')`);
      await app.sendTask('orders.confirm', ['rolled-back'], {}, { queue, transaction: client });
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema}".orders (id) VALUES ('committed')`);
      const sent = await app.sendTask('orders.confirm', ['committed'], {}, { queue, transaction: client });
      // Not visible to anyone before the commit.
      expect((await (await app.broker()).queueStats(queue)).ready).toBe(0);
      await client.query('COMMIT');
      expect((await (await app.broker()).queueStats(queue)).ready).toBe(1);
      const ran = await runTasks(app, queue);
      await expect.poll(() => ran, { timeout: 10_000 }).toEqual(['committed']);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(ran).toEqual(['committed']);
      expect(sent.id).toBeTruthy();
    } finally {
      await client.end();
    }
  });

  it('another broker without an outbox: a clear UnsupportedError, nothing sent', async () => {
    const { redisUrl } = required();
    const app = createApp({ broker: redisUrl, resultBackend: null, logLevel: 'silent' });
    opened.push(app);
    const error = await app.sendTask('orders.confirm', ['x'], {}, { queue: `tx-${randomUUID()}`, transaction: {} }).catch((e: unknown) => e);
    expect(isTqError(error, 'TQ_UNSUPPORTED'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/outbox/);
  });

  it('Redis broker with a PostgreSQL outbox: rollback → nothing relayed, commit → relayed once by the worker, same task id', async () => {
    const { pgUrl, redisUrl } = required();
    const queue = `tx-${randomUUID()}`;
    const outbox = new PostgresOutbox(withSchema(pgUrl));
    opened.push(outbox);
    const app = createApp({ broker: redisUrl, resultBackend: null, logLevel: 'silent', outbox });
    opened.push(app);
    const client = await businessClient(pgUrl);
    try {
      await client.query('BEGIN');
      await app.sendTask('orders.confirm', ['rolled-back'], {}, { queue, transaction: client });
      await client.query('ROLLBACK');
      expect(await outbox.pending()).toBe(0);
      await client.query('BEGIN');
      const sent = await app.sendTask('orders.confirm', ['committed'], {}, { queue, transaction: client });
      await client.query('COMMIT');
      expect(await outbox.pending()).toBe(1);
      const ids: string[] = [];
      app.task('orders.confirm', (orderId: string) => void ids.push(orderId));
      const ranIds: string[] = [];
      const worker = app.worker({ queues: [queue], concurrency: 1 });
      worker.on('task-succeeded', (event) => void ranIds.push(event.id));
      await worker.start();
      opened.push({ close: () => worker.stop() });
      await expect.poll(() => ids, { timeout: 10_000 }).toEqual(['committed']);
      await expect.poll(() => outbox.pending(), { timeout: 10_000 }).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(ids).toEqual(['committed']);
      expect(ranIds).toEqual([sent.id]);
    } finally {
      await client.end();
    }
  });
});
