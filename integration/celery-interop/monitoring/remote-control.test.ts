/**
 * Remote control over Celery's pidbox, both directions, on Redis and RabbitMQ, with Celery's own
 * CLI as the other side: `celery inspect ping|registered|stats|active|active_queues|query_task`
 * answered by a tq worker, `celery control terminate` stopping a running tq task and
 * `celery control rate_limit` changing one, `celery control shutdown` ending a `tq worker`
 * process; and tq's app.control reaching a Python worker.
 */
import { createApp, type App, type Worker } from '@tq/core';
import amqpAdapter from '@tq/amqp';
import redisAdapter from '@tq/redis';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendUrl, brokers, celeryCli, deleteNamedQueues, ensureAmqp, startCeleryWorker, uniqueName } from './peers.js';

const adapters = [redisAdapter, amqpAdapter];
const tqBin = fileURLToPath(new URL('../../../packages/core/bin/tq.js', import.meta.url));
const cliApp = fileURLToPath(new URL('./tq-cli-app.mjs', import.meta.url));

afterAll(async () => {
  for (const broker of brokers) await deleteNamedQueues(broker);
});

for (const broker of brokers) {
  describe(`Celery's CLI controls a tq worker (${broker.name})`, () => {
    const queue = uniqueName(`rc-${broker.name}`);
    const hostname = `${uniqueName('tq')}@monitoring`;
    let app: App;
    let worker: Worker;
    const started = new Set<(id: string) => void>();

    beforeAll(async () => {
      if (broker.name === 'amqp') await ensureAmqp(broker.url);
      app = createApp({ broker: broker.url, resultBackend: backendUrl, adapters, defaultQueue: queue, resultTtlMs: 600_000 });
      app.task('mon.add', (a: number, b: number) => a + b);
      app.task('mon.block', async function (seconds: number) {
        for (const notify of started) notify(this.id);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, seconds * 1000);
          this.signal.addEventListener('abort', () => (clearTimeout(timer), reject(this.signal.reason)), { once: true });
        });
        return 'finished';
      });
      worker = app.worker({ queues: [queue], concurrency: 2, hostname, events: true });
      await worker.start();
    });

    afterAll(async () => {
      await worker?.stop({ force: true });
      await app?.close();
    });

    const inspect = async (what: string, ...extra: string[]) => {
      const { json, output } = await celeryCli(broker.url, ['inspect', what, ...extra, '-d', hostname, '-t', '5', '-j']);
      expect(json, output).toBeTruthy();
      return (json as Record<string, unknown>)[hostname];
    };

    it('celery inspect ping, registered, stats and active_queues answer from the tq worker', async () => {
      expect(await inspect('ping')).toEqual({ ok: 'pong' });
      expect(await inspect('registered')).toEqual(['mon.add', 'mon.block']);
      const stats = (await inspect('stats')) as Record<string, Record<string, unknown>>;
      expect(stats['pool']).toMatchObject({ 'max-concurrency': 2 });
      expect(stats['broker']).toMatchObject({ transport: broker.name, ssl: false });
      expect(stats['prefetch_count']).toBe(8);
      expect(await inspect('active_queues')).toEqual([expect.objectContaining({ name: queue, routing_key: queue })]);
    });

    it('celery inspect active and query_task show a running tq task; celery control terminate stops it', { timeout: 60_000 }, async () => {
      const runningIds: string[] = [];
      started.add((id) => runningIds.push(id));
      const result = await app.sendTask('mon.block', [30]);
      await expect.poll(() => runningIds.includes(result.id), { timeout: 10_000 }).toBe(true);
      const active = (await inspect('active')) as Record<string, unknown>[];
      expect(active).toEqual([expect.objectContaining({ id: result.id, name: 'mon.block', args: [30], hostname })]);
      expect(await inspect('query_task', result.id)).toEqual({ [result.id]: ['active', expect.objectContaining({ id: result.id })] });

      const listening = new AbortController();
      const revokedEvents: Record<string, unknown>[] = [];
      void (async () => {
        for await (const event of app.events({ signal: listening.signal, pattern: 'task.#' })) if (event['type'] === 'task-revoked') revokedEvents.push(event);
      })();
      await new Promise((resolve) => setTimeout(resolve, 200)); // subscribed before the terminate
      const { json, output } = await celeryCli(broker.url, ['control', 'terminate', 'KILL', result.id, '-d', hostname, '-t', '5', '-j']);
      expect(json, output).toEqual([{ [hostname]: { ok: `terminate: ${result.id}` } }]);
      await expect(result.get({ timeout: 10_000 })).rejects.toThrow(/revoked|terminated/i);
      expect((await inspect('revoked')) as string[]).toContain(result.id);
      // The signal Celery's CLI named, as a Celery worker reports it: its number.
      await expect.poll(() => revokedEvents.find((e) => e['uuid'] === result.id), { timeout: 5_000 }).toMatchObject({ terminated: true, signum: 9, expired: false });
      listening.abort();
    });

    it('celery control add_consumer and cancel_consumer change the queues a tq worker consumes', { timeout: 60_000 }, async () => {
      const extra = uniqueName(`rc-extra-${broker.name}`);
      const added = await celeryCli(broker.url, ['control', 'add_consumer', extra, '-d', hostname, '-t', '5', '-j']);
      expect(added.json, added.output).toEqual([{ [hostname]: { ok: `add consumer ${extra}` } }]);
      expect(await app.sendTask<number>('mon.add', [1, 2], {}, { queue: extra }).then((r) => r.get({ timeout: 10_000 }))).toBe(3);
      expect(((await inspect('active_queues')) as { name: string }[]).map((q) => q.name).sort()).toEqual([queue, extra].sort());

      const cancelled = await celeryCli(broker.url, ['control', 'cancel_consumer', extra, '-d', hostname, '-t', '5', '-j']);
      expect(cancelled.json, cancelled.output).toEqual([{ [hostname]: { ok: `no longer consuming from ${extra}` } }]);
      await app.sendTask('mon.add', [3, 4], {}, { queue: extra });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await app.queueStats(extra)).ready, 'a task on a cancelled queue was consumed').toBe(1);
      await app.purge(extra);
    });

    it('celery control rate_limit changes a tq task, and refuses an unknown one', async () => {
      const { json } = await celeryCli(broker.url, ['control', 'rate_limit', 'mon.add', '120/m', '-d', hostname, '-t', '5', '-j']);
      expect(json).toEqual([{ [hostname]: { ok: 'new rate limit set successfully' } }]);
      expect(app.tasks.get('mon.add')!.options.rateLimit).toBe('120/m');
      const unknown = await celeryCli(broker.url, ['control', 'rate_limit', 'mon.nope', '1/s', '-d', hostname, '-t', '5', '-j']);
      expect(unknown.json).toEqual([{ [hostname]: { error: 'unknown task mon.nope' } }]);
    });
  });

  describe(`celery control shutdown stops a tq worker process (${broker.name})`, () => {
    it('the running task finishes, then the process exits 0', { timeout: 60_000 }, async () => {
      if (broker.name === 'amqp') await ensureAmqp(broker.url);
      const queue = uniqueName(`rcsd-${broker.name}`);
      const hostname = `${uniqueName('tqcli')}@monitoring`;
      const env = { ...process.env };
      for (const key of ['TQ_BROKER_URL', 'TQ_RESULT_BACKEND', 'TQ_CONFIG']) delete env[key];
      const args = [tqBin, 'worker', '--app', cliApp, '--broker', broker.url, '--backend', backendUrl, '--queues', queue, '-n', hostname];
      const child = spawn(process.execPath, args, { env });
      let log = '';
      child.stdout.on('data', (d) => (log += d));
      child.stderr.on('data', (d) => (log += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        await expect.poll(() => log, { timeout: 20_000 }).toContain('consuming');
        const app = createApp({ broker: broker.url, resultBackend: backendUrl, adapters, defaultQueue: queue });
        try {
          const result = await app.sendTask('mon.sleep', [1500]);
          await expect.poll(() => log, { timeout: 10_000 }).toContain(`received mon.sleep[${result.id}]`);
          // A Celery worker sends no reply to shutdown (it raises WorkerShutdown), so Celery's CLI
          // then says "No nodes replied" and exits 69; tq's worker does the same.
          const { output } = await celeryCli(broker.url, ['control', 'shutdown', '-d', hostname, '-t', '2']);
          expect(output).toContain('No nodes replied');
          const exitCode = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running after 15 s'), 15_000))]);
          expect(exitCode, log).toBe(0);
          expect(log).toContain('shutdown requested by remote control');
          expect(await result.get({ timeout: 5_000 })).toBe(1500);
        } finally {
          await app.close();
        }
      } finally {
        child.kill('SIGKILL');
      }
    });
  });

  describe(`tq's app.control reaches a Python Celery worker (${broker.name})`, () => {
    const queue = uniqueName(`rcpy-${broker.name}`);
    let app: App;

    beforeAll(async () => {
      if (broker.name === 'amqp') await ensureAmqp(broker.url);
      app = createApp({ broker: broker.url, resultBackend: backendUrl, adapters, defaultQueue: queue });
    });

    afterAll(async () => {
      await app?.close();
    });

    it('ping, inspect registered/stats/active and revoke', async () => {
      const python = await startCeleryWorker(broker.url, queue, ['--pool=threads', '-c', '2']);
      try {
        const pongs = await app.control.ping({ destination: [python.hostname], timeoutMs: 3000 });
        expect(pongs).toEqual([{ hostname: python.hostname, result: { ok: 'pong' } }]);
        const [registered] = await app.control.inspect('registered', { destination: [python.hostname], timeoutMs: 3000 });
        expect(registered!.result).toEqual(expect.arrayContaining(['mon.add', 'mon.sleep']));
        const [stats] = await app.control.inspect('stats', { destination: [python.hostname], timeoutMs: 3000 });
        expect((stats!.result as Record<string, Record<string, unknown>>)['pool']).toMatchObject({ 'max-concurrency': 2 });

        const sleeping = await app.sendTask('mon.sleep', [20]);
        let active: unknown[] = [];
        for (let i = 0; i < 50 && active.length === 0; i++) {
          const [reply] = await app.control.inspect('active', { destination: [python.hostname], timeoutMs: 2000 });
          active = (reply?.result as unknown[]) ?? [];
        }
        expect(active).toEqual([expect.objectContaining({ id: sleeping.id, name: 'mon.sleep' })]);
        const [revoked] = await app.control.broadcast('revoke', { task_id: sleeping.id, terminate: false }, { destination: [python.hostname], timeoutMs: 3000 });
        expect(revoked!.result).toEqual({ ok: `tasks ${sleeping.id} flagged as revoked` });
      } finally {
        await python.stop();
      }
    });
  });
}
