import { createApp, isTqError, type App } from '@tq/core';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthServer } from '../src/index.js';

let app: App | undefined;
let server: HealthServer | undefined;

afterEach(async () => {
  await server?.close();
  await app?.close();
});

/** The value of one sample line of the exposition text, or undefined. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('worker metrics and health endpoints', () => {
  it('after a known workload, /metrics counts it by task; /healthz and /readyz follow the worker', async () => {
    app = createApp({ broker: `memory://metrics-${Date.now()}` });
    app.task('m.ok', (n: number) => n);
    app.task('m.fail', () => {
      throw new Error('no');
    });
    app.task('m.flaky', function () {
      if (this.retries < 1) this.retry({ countdown: 0.05 });
      return 'ok';
    });
    const worker = app.worker({ concurrency: 3 });
    server = await HealthServer.start(worker, { port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    await worker.start();
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');

    const results = await Promise.all([1, 2, 3].map((n) => app!.sendTask('m.ok', [n])));
    for (const result of results) await result.get({ timeout: 5000 });
    await (await app.sendTask('m.fail')).get({ timeout: 5000 }).catch(() => undefined);
    expect(await (await app.sendTask('m.flaky')).get({ timeout: 5000 })).toBe('ok');

    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(sample(text, 'tq_tasks_received_total', 'task="m.ok",queue="celery"')).toBe(3);
    expect(sample(text, 'tq_tasks_received_total', 'task="m.flaky",queue="celery"')).toBe(2);
    expect(sample(text, 'tq_tasks_succeeded_total', 'task="m.ok"')).toBe(3);
    expect(sample(text, 'tq_tasks_succeeded_total', 'task="m.flaky"')).toBe(1);
    expect(sample(text, 'tq_tasks_failed_total', 'task="m.fail"')).toBe(1);
    expect(sample(text, 'tq_tasks_retried_total', 'task="m.flaky"')).toBe(1);
    expect(sample(text, 'tq_task_runtime_seconds_count', 'task="m.ok"')).toBe(3);
    expect(sample(text, 'tq_task_wait_seconds_count', 'task="m.ok"')).toBe(3);
    expect(sample(text, 'tq_tasks_active', '')).toBe(0);
    expect(sample(text, 'tq_worker_concurrency', '')).toBe(3);
    expect(sample(text, 'tq_worker_prefetch', '')).toBe(12);
    expect(text).toContain('process_cpu_user_seconds_total');

    // The watchdog's restarts (consume-watchdog.test.ts in core makes a real one) are counted per queue.
    worker.emit('consumer-restarted', { queue: 'celery', waitedMs: 60_000, ready: 4 });
    expect(sample(await (await fetch(`${base}/metrics`)).text(), 'tq_consumer_restarts_total', 'queue="celery"')).toBe(1);

    await worker.stop();
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('a metrics port already in use is a ConfigError that names --metrics-port', async () => {
    app = createApp({ broker: `memory://metrics-busy-${Date.now()}` });
    const worker = app.worker();
    server = await HealthServer.start(worker, { port: 0, host: '127.0.0.1' });
    const error = await HealthServer.start(worker, { port: server.port, host: '127.0.0.1' }).catch((e: unknown) => e);
    expect(isTqError(error, 'TQ_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toContain('--metrics-port');
  });
});
