/**
 * Third-party adapters by name, as a user of the tq CLI loads them: @tq/postgres (not in
 * core's first-party map) through --adapter, TQ_ADAPTERS and "adapters" in tq.config.json;
 * an unknown scheme says how to load one.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const bin = fileURLToPath(new URL('../../packages/core/bin/tq.js', import.meta.url));
const schema = `tqa_int_${randomBytes(4).toString('hex')}`;
const postgres = await resolveBroker('postgres');
const brokerUrl = postgres.url ? `${postgres.url}${postgres.url.includes('?') ? '&' : '?'}schema=${schema}` : undefined;

function tq(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = { ...process.env };
    for (const key of ['TQ_BROKER_URL', 'TQ_RESULT_BACKEND', 'TQ_ADAPTERS', 'TQ_CONFIG']) delete clean[key];
    execFile(process.execPath, [bin, ...args], { env: { ...clean, TQ_RESULT_BACKEND: 'none', ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function rowsFor(taskId: string): Promise<number> {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".messages WHERE task_id = $1`, [taskId]);
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}

describe.skipIf(!brokerUrl && !brokersRequired())('tq CLI: adapters by package name', () => {
  afterAll(async () => {
    if (postgres.url) {
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
    await postgres.stop();
  });

  it('an unknown scheme fails with a message saying how to load an adapter', async () => {
    const { code, stderr } = await tq(['call', 'tq.add', '--broker', 'mybroker://localhost/x']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('unknown broker URL scheme "mybroker://"');
    expect(stderr).toContain('--adapter');
    expect(stderr).toContain('TQ_ADAPTERS');
  });

  it('--adapter @tq/postgres: tq call and tq queues reach a postgres:// broker', async () => {
    if (!brokerUrl) throw new Error(`postgres is required under CI=true: ${postgres.detail}`);
    const queue = `cli-${randomUUID()}`;
    const sent = await tq(['call', 'tq.add', '--args', '[2, 3]', '--queue', queue, '--broker', brokerUrl, '--adapter', '@tq/postgres']);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    const taskId = sent.stdout.trim();
    expect(await rowsFor(taskId)).toBe(1);
    const queues = await tq(['queues', '-Q', queue, '--broker', brokerUrl, '--adapter=@tq/postgres']);
    expect(queues.code, queues.stderr).toBe(0);
    expect(queues.stdout).toContain(queue);
  });

  it('TQ_ADAPTERS and "adapters" in tq.config.json load it the same way', async () => {
    if (!brokerUrl) throw new Error(`postgres is required under CI=true: ${postgres.detail}`);
    const viaEnv = await tq(['call', 'tq.add', '--args', '[1, 1]', '--queue', `cli-${randomUUID()}`, '--broker', brokerUrl], { TQ_ADAPTERS: '@tq/postgres' });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(await rowsFor(viaEnv.stdout.trim())).toBe(1);
    const dir = mkdtempSync(join(tmpdir(), 'tq-adapters-'));
    const config = join(dir, 'tq.config.json');
    writeFileSync(config, JSON.stringify({ broker: brokerUrl, resultBackend: null, adapters: ['@tq/postgres'] }));
    const viaFile = await tq(['call', 'tq.add', '--args', '[4, 4]', '--queue', `cli-${randomUUID()}`], { TQ_CONFIG: config });
    expect(viaFile.code, viaFile.stderr).toBe(0);
    expect(await rowsFor(viaFile.stdout.trim())).toBe(1);
  });

  it('a package that is not installed is named in the error', async () => {
    const { code, stderr } = await tq(['call', 'tq.add', '--broker', 'mybroker://localhost/x', '--adapter', 'tq-not-installed-adapter']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('npm install tq-not-installed-adapter');
  });
});
