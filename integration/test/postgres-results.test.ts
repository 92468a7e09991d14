/**
 * The PostgreSQL result backend as an admin page sees it: a worker's records carry the task's
 * name, arguments and worker into django-celery-results' columns; Django's own TaskResult
 * model and admin class read tq's rows, and a row Django writes is read back by tq; expired
 * rows are deleted in bounded batches. Fails (not skips) under CI when Postgres or Debian's
 * Django packages are missing.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createApp, createMemoryAdapter } from '@tq/core';
import { decodeRecord } from '@tq/core/adapter';
import { postgresAdapter, PostgresResultBackend, parsePostgresOptions } from '@tq/postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker, type BrokerEndpoint } from '../harness/brokers.js';

const run = promisify(execFile);
const python = process.env['TQ_PYTHON'] ?? '/usr/bin/python3';
const script = fileURLToPath(new URL('../sql-results/django_taskresult.py', import.meta.url));
const schema = `tqr_int_${randomBytes(4).toString('hex')}`;

const endpoint: BrokerEndpoint = await resolveBroker('postgres');
const url = endpoint.url ? `${endpoint.url}${endpoint.url.includes('?') ? '&' : '?'}schema=${schema}` : undefined;

async function dropSchema(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: endpoint.url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  await client.end();
}

async function djangoAvailable(): Promise<boolean> {
  try {
    await run(python, ['-c', 'import django, django_celery_results, psycopg2']);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!url && !brokersRequired())('postgres result backend: the task table', () => {
  let backend: PostgresResultBackend;
  beforeAll(async () => {
    if (!url) throw new Error(`postgres is required under CI=true: ${endpoint.detail}`);
    backend = new PostgresResultBackend(parsePostgresOptions(new URL(url)));
    await backend.connect();
  });
  afterAll(async () => {
    await backend?.close();
    if (!url) return;
    const client = new pg.Client({ connectionString: endpoint.url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
    await endpoint.stop();
  });

  it('a broker and a result backend creating one new schema at once both connect (one app on postgres:// for both)', async () => {
    const fresh = `${endpoint.url}${endpoint.url!.includes('?') ? '&' : '?'}schema=${schema}_both`;
    try {
      for (let round = 0; round < 3; round++) {
        const app = createApp({ broker: fresh, resultBackend: fresh, adapters: [postgresAdapter], logLevel: 'silent' });
        try {
          await Promise.all([app.broker(), app.backend()]);
        } finally {
          await app.close();
        }
        await dropSchema(`${schema}_both`);
      }
    } finally {
      await dropSchema(`${schema}_both`);
    }
  });

  it('a worker stores the task name, arguments, worker and state times in their columns', async () => {
    const memory = createMemoryAdapter();
    const queue = `results-${randomUUID()}`;
    const app = createApp({
      broker: memory.createBroker!(new URL(`memory://${queue}`), {}),
      resultBackend: postgresAdapter.createResultBackend!(new URL(url!), {}),
      logLevel: 'silent',
    });
    // Long enough that the worker's STARTED record is sent (it skips it for instant tasks).
    app.task('reports.build', async (year: number, opts: { format: string }) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return `report ${year} ${opts.format}`;
    });
    const worker = app.worker({ queues: [queue], concurrency: 1 });
    await worker.start();
    try {
      const result = await app.sendTask<string>('reports.build', [2026], { format: 'pdf' }, { queue });
      expect(await result.get({ timeout: 10_000 })).toBe('report 2026 pdf');
      const client = new pg.Client({ connectionString: endpoint.url });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT * FROM "${schema}".django_celery_results_taskresult WHERE task_id = $1`, [result.id]);
        expect(rows).toHaveLength(1);
        const row = rows[0];
        expect(row.status).toBe('SUCCESS');
        expect(row.task_name).toBe('reports.build');
        expect(JSON.parse(row.task_args)).toEqual([2026]);
        expect(JSON.parse(row.task_kwargs)).toEqual({ format: 'pdf' });
        expect(row.worker).toBeTruthy();
        expect(JSON.parse(row.result)).toBe('report 2026 pdf');
        expect(row.date_started, 'STARTED was stored first').toBeInstanceOf(Date);
        expect(row.date_done.getTime()).toBeGreaterThanOrEqual(row.date_started.getTime());
        expect(row.expires_at.getTime()).toBeGreaterThan(Date.now());
      } finally {
        await client.end();
      }
    } finally {
      await worker.stop();
      await app.close();
    }
  });

  it('expired rows are invisible at once and deleted in bounded batches', async () => {
    const ids = Array.from({ length: 5 }, () => randomUUID());
    for (const id of ids) {
      const record = new TextEncoder().encode(JSON.stringify({ status: 'SUCCESS', result: 1, traceback: null, children: [], date_done: null, task_id: id }));
      await backend.store(id, record, { ttlMs: 1 });
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const id of ids) expect(await backend.fetch(id)).toBeNull();
    const small = new PostgresResultBackend(parsePostgresOptions(new URL(`${url!}&cleanup_batch=2`)));
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

  it("django-celery-results' TaskResult model and admin read tq's rows; tq reads a row Django wrote", async () => {
    if (!(await djangoAvailable())) {
      if (brokersRequired()) throw new Error(`${python} lacks Debian's python3-django, python3-django-celery-results, python3-psycopg2 (see .ci/setup.d/postgres.sh)`);
      console.warn('[integration] Django check skipped: python3-django / python3-django-celery-results / python3-psycopg2 missing');
      return;
    }
    expect(existsSync(script)).toBe(true);
    const readId = randomUUID();
    const writeId = randomUUID();
    const record = { status: 'SUCCESS', result: { rows: 3, name: 'żółw 🐢' }, traceback: null, children: [], date_done: '2026-12-03T10:20:30.123456', task_id: readId };
    await backend.store(readId, new TextEncoder().encode(JSON.stringify(record)), {
      ttlMs: 60_000,
      task: { name: 'reports.build', args: [2026], kwargs: { format: 'pdf' }, worker: 'celery@tq', retries: 0 },
    });
    const address = new URL(endpoint.url!);
    const { stdout } = await run(python, [script, schema, readId, writeId], {
      env: { ...process.env, PGHOST: address.hostname, PGPORT: address.port || '5432', PGUSER: decodeURIComponent(address.username) || 'postgres', PGDATABASE: address.pathname.slice(1) || 'test' },
    });
    const seen = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown> & { listed: Record<string, unknown> };
    expect(seen['status']).toBe('SUCCESS');
    expect(seen['task_name']).toBe('reports.build');
    expect(JSON.parse(seen['task_args'] as string)).toEqual([2026]);
    expect(JSON.parse(seen['task_kwargs'] as string)).toEqual({ format: 'pdf' });
    expect(seen['worker']).toBe('celery@tq');
    expect(JSON.parse(seen['result'] as string)).toEqual({ rows: 3, name: 'żółw 🐢' });
    expect(seen['content_type']).toBe('application/json');
    expect(new Date(seen['date_done'] as string).toISOString()).toBe('2026-12-03T10:20:30.123Z');
    expect(seen.listed['task_id']).toBe(readId);
    expect(seen.listed['status']).toBe('SUCCESS');

    const written = await backend.fetch(writeId);
    expect(written, 'the row Django wrote').not.toBeNull();
    const decoded = decodeRecord(written!);
    expect(decoded.status).toBe('SUCCESS');
    expect(decoded.task_id).toBe(writeId);
    expect(decoded.result).toEqual({ written: 'by django' });
  }, 60_000);
});
