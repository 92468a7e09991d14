/**
 * Queue administration on a real broker, end to end: app.queues.pause/resume with several
 * workers on Redis, and the `tq queue` and `tq dead` commands run as a user would.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createApp, type App, type Worker } from '@tq/core';
import { uniqueName } from '@tq/conformance';
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';

const endpoint = await resolveBroker('redis');
const prefix = `tq-admin-${process.pid}-${Date.now().toString(36)}:`;
const bin = fileURLToPath(new URL('../../packages/core/bin/tq.js', import.meta.url));
const tasks = fileURLToPath(new URL('../../packages/core/test/fixtures/tasks.mjs', import.meta.url));

function url(): string {
  const u = new URL(endpoint.url!);
  u.searchParams.set('global_keyprefix', prefix);
  return u.href;
}

function tq(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, TQ_BROKER_URL: url(), TQ_RESULT_BACKEND: url() } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

afterAll(async () => {
  if (endpoint.url) {
    const client = new Redis(endpoint.url);
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await client.del(...keys);
    } while (cursor !== '0');
    client.disconnect();
  }
  await endpoint.stop();
});

describe('queue administration on redis', () => {
  if (!endpoint.url) {
    if (brokersRequired()) it('broker', () => expect.fail(`required under CI=true: ${endpoint.detail}`));
    else it.skip(`redis missing: ${endpoint.detail}`, () => undefined);
    return;
  }
  const apps: App[] = [];
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.allSettled(workers.splice(0).map((w) => w.stop({ force: true })));
    await Promise.allSettled(apps.splice(0).map((a) => a.close()));
  }, 30_000);

  function app(): App {
    const a = createApp({ broker: url(), resultBackend: url(), adapters: [redisAdapter], logLevel: 'silent' });
    apps.push(a);
    return a;
  }

  it('three workers stop taking a paused queue within a second; a restarted worker stays paused; resume', async () => {
    const queue = uniqueName('pause');
    const admin = app();
    const ran: string[] = [];
    const start = async () => {
      const a = app();
      a.task('t.note', (label: string) => void ran.push(label));
      const w = a.worker({ queues: [queue], concurrency: 1 });
      workers.push(w);
      await w.start();
      return w;
    };
    const [first] = await Promise.all([start(), start(), start()]);
    await admin.queues.pause(queue);
    await new Promise((r) => setTimeout(r, 1_000));
    for (let i = 0; i < 6; i++) await admin.sendTask('t.note', [`p${i}`], {}, { queue });
    await first!.stop();
    const restarted = await start();
    expect(restarted.queues).toEqual([]);
    await new Promise((r) => setTimeout(r, 800));
    expect(ran).toEqual([]);
    expect((await admin.queueStats(queue)).ready).toBe(6);
    await admin.queues.resume(queue);
    await expect.poll(() => ran.length, { timeout: 3_000 }).toBe(6);
  });

  it("rateLimitScope 'cluster': two workers together keep one rate; 'process' lets each run at it", async () => {
    const runs = async (scope: 'cluster' | 'process') => {
      const admin = app();
      const times: number[] = [];
      // One queue per worker, so each surely has work: which worker takes what from a shared
      // queue is up to the broker, and one worker could take almost everything.
      for (let i = 0; i < 2; i++) {
        const queue = uniqueName(`rate-${scope}-${i}`);
        const a = app();
        a.task('t.limited', () => void times.push(Date.now()), { rateLimit: '5/s', rateLimitScope: scope });
        const w = a.worker({ queues: [queue], concurrency: 2 });
        workers.push(w);
        await w.start();
        for (let n = 0; n < 6; n++) await admin.sendTask('t.limited', [], {}, { queue });
      }
      await expect.poll(() => times.length, { timeout: 10_000 }).toBe(12);
      times.sort((x, y) => x - y);
      // The most runs that started within any one second.
      return Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + 1_000).length));
    };
    // At 5/s with a 1-token bucket, one second holds at most 5 runs (6 with clock jitter at the
    // edge) when the limit is shared; per process, each of the two workers runs up to 5.
    expect(await runs('cluster')).toBeLessThanOrEqual(6);
    expect(await runs('process')).toBeGreaterThanOrEqual(7);
  });

  it('app.queues.scheduled lists countdown tasks the broker holds (not the worker), soonest first; purge removes them', async () => {
    const queue = uniqueName('scheduled');
    const admin = app();
    const ran: string[] = [];
    const a = app();
    a.task('t.later', (label: string) => void ran.push(label));
    const w = a.worker({ queues: [queue], concurrency: 1 });
    workers.push(w);
    await w.start();
    const far = await admin.sendTask('t.later', ['far'], {}, { queue, countdown: 120 });
    const near = await admin.sendTask('t.later', ['near'], {}, { queue, countdown: 60 });
    const listed = await admin.queues.scheduled(queue);
    expect(listed.map((m) => m.id)).toEqual([near.id, far.id]);
    expect(listed[0]).toMatchObject({ task: 't.later', argsrepr: "('near',)" });
    expect(Date.parse(listed[0]!.eta) - Date.now()).toBeGreaterThan(50_000);
    expect(await admin.queues.scheduled(queue, { limit: 1 })).toHaveLength(1);
    expect(w.inspect('scheduled'), 'the worker holds them').toEqual([]);
    expect((await admin.queueStats(queue)).delayed).toBe(2);
    expect(await admin.purge(queue)).toBe(2);
    expect(await admin.queues.scheduled(queue)).toEqual([]);
    expect(ran).toEqual([]);
  });

  it('tq queue pause/status/resume and tq dead list/replay/purge', async () => {
    const queue = uniqueName('cli');
    expect((await tq(['queue', 'pause', queue])).stdout).toBe(`${queue}: paused\n`);
    expect((await tq(['queue', 'status', queue])).stdout).toMatch(new RegExp(`^${queue}: paused since \\S+ \\(by api\\)\\n$`));
    expect((await tq(['queue', 'resume', queue])).stdout).toBe(`${queue}: resumed\n`);
    expect((await tq(['queue', 'status', queue])).stdout).toBe(`${queue}: active\n`);

    const id = (await tq(['call', 'tq.reject', '--args', '["nope"]', '--queue', queue])).stdout.trim();
    const worker = spawn(process.execPath, [bin, 'worker', '--app', tasks, '--queues', queue, '--concurrency', '1'], {
      env: { ...process.env, TQ_BROKER_URL: url(), TQ_RESULT_BACKEND: url() },
    });
    try {
      const listed = async () => (await tq(['dead', 'list', '--queue', queue, '--json'])).stdout.trim();
      await expect.poll(listed, { timeout: 10_000, interval: 300 }).toContain(id);
      const [row] = (await listed()).split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(row).toMatchObject({ id, task: 'tq.reject', queue, code: 'TQ_REJECTED', reason: 'nope', replays: 0 });
      const shown = JSON.parse((await tq(['dead', 'show', id, '--queue', queue])).stdout) as Record<string, unknown>;
      expect(shown['body']).toEqual([['nope'], {}, expect.any(Object)]);

      const unknown = await tq(['dead', 'replay', 'no-such-id', '--queue', queue]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('no dead letter no-such-id');
      expect((await tq(['dead', 'replay', '--queue', queue, '--task', 'tq.reject'])).stdout).toContain(id);
      await expect.poll(async () => ((await listed()) ? (JSON.parse((await listed()).split('\n')[0]!) as { replays: number }).replays : -1), { timeout: 10_000, interval: 300 }).toBe(1);

      expect((await tq(['dead', 'purge', '--queue', queue])).code).toBe(2);
      expect((await tq(['dead', 'purge', '--queue', queue, '--since', '1h', '--force'])).stderr).toContain('purged 1 dead letter(s)');
      expect(await listed()).toBe('');
    } finally {
      worker.kill('SIGKILL');
    }
  });
});
