/**
 * A Python Celery producer (producer.py, Celery's own send_task and AsyncResult.get) sends by
 * name to tq workers over RabbitMQ; tq answers through Celery's rpc:// backend: each result is
 * published to the Python client's reply queue with correlation_id = task id.
 */
import amqp from '@tq/amqp';
import { createApp, type App, type TaskContext, type Worker } from '@tq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, deleteQueues, ensureVhost, rpcUrl, runCeleryProducer, uniqueQueue } from './interop-support.js';

describe('Python Celery producer → tq worker (RabbitMQ, rpc:// results)', () => {
  const queues = { queue: uniqueQueue('tq'), customQueue: uniqueQueue('tq-custom') };
  let app: App;
  const workers: Worker[] = [];

  beforeAll(async () => {
    await ensureVhost();
    app = createApp({ broker: amqpUrl, resultBackend: rpcUrl, adapters: [amqp], logLevel: 'warn' });
    app.task('tq.add', (a: number, b: number, kwargs?: { z?: number }) => a + b + (kwargs?.z ?? 0));
    app.task('tq.fail', (message: string) => {
      const error = new Error(message);
      error.name = 'ValueError';
      throw error;
    });
    app.task('tq.now', () => ({ time: Date.now() / 1000 }));
    app.task('tq.retry_once', function (this: TaskContext) {
      if (this.retries < 1) this.retry({ countdown: 1 });
      return this.retries;
    });
    app.task('tq.where', function (this: TaskContext) {
      return { hostname: this.hostname };
    });
    // One worker per queue, so the answer says which queue the message came through.
    workers.push(app.worker({ queues: [queues.queue], concurrency: 2, hostname: 'tq-main@interop' }));
    workers.push(app.worker({ queues: [queues.customQueue], concurrency: 1, hostname: 'tq-custom@interop' }));
    await Promise.all(workers.map((w) => w.start()));
  });

  afterAll(async () => {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await app?.close();
    await deleteQueues([queues.queue, queues.customQueue]);
  });

  it('args and kwargs reach the tq task; Celery reads its result', async () => {
    const outcome = await runCeleryProducer<{ value: number; state: string }>('add', queues);
    expect(outcome).toEqual({ value: 6, state: 'SUCCESS' });
  });

  it('a tq failure reaches Celery as the named Python exception, with state FAILURE and a traceback', async () => {
    const outcome = await runCeleryProducer<{ type: string; module: string; message: string; state: string; traceback: string | null }>('fail', queues);
    expect(outcome).toMatchObject({ type: 'ValueError', module: 'builtins', message: 'boom from tq', state: 'FAILURE' });
    expect(outcome.traceback).toContain('boom from tq');
    expect(outcome.traceback).toMatch(/celery-to-tq\.test\.ts/);
  });

  it('countdown: the tq worker runs the task no earlier than its ETA', async () => {
    const outcome = await runCeleryProducer<{ sent: number; ran: { time: number } }>('countdown', queues);
    expect(outcome.ran.time - outcome.sent).toBeGreaterThanOrEqual(1.95);
    expect(outcome.ran.time - outcome.sent).toBeLessThan(8);
  });

  it('retry: the tq task retries once through the broker, then Celery gets the final result', async () => {
    const outcome = await runCeleryProducer<{ value: number; state: string }>('retry', queues);
    expect(outcome).toEqual({ value: 1, state: 'SUCCESS' });
  });

  it('a custom queue: Celery routes by queue name to the tq worker consuming it', async () => {
    const outcome = await runCeleryProducer<{ value: { hostname: string } }>('custom_queue', queues);
    expect(outcome.value).toEqual({ hostname: 'tq-custom@interop' });
  });
});
