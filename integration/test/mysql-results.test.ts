/**
 * The MySQL/MariaDB result backend as an admin page sees it: a worker's records fill
 * django-celery-results' columns (name, arguments, worker, state times); expired rows are
 * invisible at once and deleted in bounded batches; watch sees a later record by polling.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createApp, createMemoryAdapter } from '@tq/core';
import { MysqlResultBackend, migrationsTableOf, mysqlAdapter, parseMysqlOptions } from '@tq/mysql';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const table = `tqr_int_${randomBytes(4).toString('hex')}`;
const endpoint = await resolveBroker('mysql');
const url = endpoint.url ? `${endpoint.url}${endpoint.url.includes('?') ? '&' : '?'}results_table=${table}` : undefined;
const encoder = new TextEncoder();
const record = (id: string, status: string) => encoder.encode(JSON.stringify({ status, result: status === 'SUCCESS' ? 42 : null, traceback: null, children: [], date_done: null, task_id: id }));

async function connection(): Promise<mysql.Connection> {
  const parsed = new URL(endpoint.url!);
  return mysql.createConnection({ host: parsed.hostname, port: Number(parsed.port || 3306), user: decodeURIComponent(parsed.username) || 'root', password: decodeURIComponent(parsed.password), database: parsed.pathname.slice(1), timezone: 'Z' });
}

describe.skipIf(!url && !brokersRequired())('mysql result backend: the task table (MariaDB)', () => {
  let backend: MysqlResultBackend;
  beforeAll(async () => {
    if (!url) throw new Error(`mysql/mariadb is required under CI=true: ${endpoint.detail}`);
    backend = new MysqlResultBackend(parseMysqlOptions(new URL(url)));
    await backend.connect();
  });
  afterAll(async () => {
    await backend?.close();
    if (endpoint.url) {
      const c = await connection();
      await c.query(`DROP TABLE IF EXISTS \`${table}\`, \`${migrationsTableOf(table)}\``);
      await c.end();
    }
    await endpoint.stop();
  });

  it('a worker stores the task name, arguments, worker and state times in their columns', async () => {
    const memory = createMemoryAdapter();
    const queue = `results-${randomUUID()}`;
    const app = createApp({ broker: memory.createBroker!(new URL(`memory://${queue}`), {}), resultBackend: mysqlAdapter.createResultBackend!(new URL(url!), {}), logLevel: 'silent' });
    app.task('reports.build', async (year: number) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return year + 1;
    });
    const worker = app.worker({ queues: [queue], concurrency: 1 });
    await worker.start();
    try {
      const result = await app.sendTask<number>('reports.build', [2026], { format: 'pdf' }, { queue });
      expect(await result.get({ timeout: 10_000 })).toBe(2027);
      const c = await connection();
      try {
        const [rows] = await c.query(`SELECT * FROM \`${table}\` WHERE task_id = ?`, [result.id]);
        const row = (rows as Record<string, unknown>[])[0]!;
        expect(row['status']).toBe('SUCCESS');
        expect(row['task_name']).toBe('reports.build');
        expect(JSON.parse(row['task_args'] as string)).toEqual([2026]);
        expect(JSON.parse(row['task_kwargs'] as string)).toEqual({ format: 'pdf' });
        expect(row['worker']).toBeTruthy();
        expect(JSON.parse(row['result'] as string)).toBe(2027);
        expect(row['date_started']).toBeInstanceOf(Date);
        expect((row['date_done'] as Date).getTime()).toBeGreaterThanOrEqual((row['date_started'] as Date).getTime());
      } finally {
        await c.end();
      }
    } finally {
      await worker.stop();
      await app.close();
    }
  });

  it('expired rows are invisible at once and deleted in bounded batches', async () => {
    const ids = Array.from({ length: 5 }, () => randomUUID());
    for (const id of ids) await backend.store(id, record(id, 'SUCCESS'), { ttlMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const id of ids) expect(await backend.fetch(id)).toBeNull();
    const small = new MysqlResultBackend(parseMysqlOptions(new URL(`${url!}&cleanup_batch=2`)));
    await small.connect();
    try {
      expect(await small.deleteExpired()).toBe(2);
      expect(await small.deleteExpired()).toBe(2);
      expect(await small.deleteExpired()).toBe(1);
      expect(await small.deleteExpired()).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('six processes starting at once on a new table: one migrates, every one connects, version 1 recorded once', async () => {
    const fresh = `tqr_mig_${randomBytes(4).toString('hex')}`;
    const freshUrl = new URL(`${endpoint.url!}${endpoint.url!.includes('?') ? '&' : '?'}results_table=${fresh}`);
    const backends = Array.from({ length: 6 }, () => new MysqlResultBackend(parseMysqlOptions(freshUrl)));
    const c = await connection();
    try {
      await Promise.all(backends.map((b) => b.connect()));
      const [versions] = await c.query<mysql.RowDataPacket[]>(`SELECT version FROM \`${migrationsTableOf(fresh)}\``);
      expect(versions.map((row) => row['version'])).toEqual([1]);
      const id = randomUUID();
      await backends[5]!.store(id, record(id, 'SUCCESS'), {});
      expect(await backends[0]!.fetch(id)).not.toBeNull();
      // A process started later finds the table at its version and changes nothing.
      const later = new MysqlResultBackend(parseMysqlOptions(freshUrl));
      await later.connect();
      await later.close();
      const [again] = await c.query<mysql.RowDataPacket[]>(`SELECT version FROM \`${migrationsTableOf(fresh)}\``);
      expect(again).toHaveLength(1);
    } finally {
      await Promise.all(backends.map((b) => b.close()));
      await c.query(`DROP TABLE IF EXISTS \`${fresh}\`, \`${migrationsTableOf(fresh)}\``);
      await c.end();
    }
  });
});
