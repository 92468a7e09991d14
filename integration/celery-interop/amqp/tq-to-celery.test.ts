/**
 * A tq producer sends by name to a Python Celery worker over RabbitMQ; results come back
 * through Celery's rpc:// backend (the worker publishes to tq's reply queue).
 */
import amqp from '@tq/amqp';
import { createApp, TaskError, type App } from '@tq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, deleteQueues, ensureVhost, rpcUrl, startCeleryWorker, uniqueQueue, type CeleryWorker } from './interop-support.js';

describe('tq producer → Python Celery worker (RabbitMQ, rpc:// results)', () => {
  const queue = uniqueQueue('py');
  const customQueue = uniqueQueue('py-custom');
  let worker: CeleryWorker | undefined;
  let app: App;

  beforeAll(async () => {
    await ensureVhost();
    worker = await startCeleryWorker([queue, customQueue]);
    app = createApp({ broker: amqpUrl, resultBackend: rpcUrl, adapters: [amqp], logLevel: 'warn' });
  });

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await deleteQueues([queue, customQueue]);
  });

  const withLog = (what: string) => `${what}\n--- Celery worker output ---\n${worker?.output() ?? ''}`;

  it('args and kwargs reach the Python task; its result comes back', async () => {
    const result = await app.sendTask('py.add', [2, 3], { z: 1 }, { queue });
    expect(await result.get({ timeout: 15_000 }), withLog('py.add(2, 3, z=1)')).toBe(6);
  });

  it('a Python exception comes back as TaskError with its type, message and traceback', async () => {
    const result = await app.sendTask('py.fail', ['boom from python'], {}, { queue });
    const error = await result.get({ timeout: 15_000 }).catch((e: unknown) => e);
    expect(error, withLog('py.fail')).toBeInstanceOf(TaskError);
    const failure = error as TaskError;
    expect(failure.excType).toBe('ValueError');
    expect(failure.excMessage).toBe('boom from python');
    expect(failure.traceback).toMatch(/Traceback \(most recent call last\)/);
    expect(failure.traceback).toMatch(/raise ValueError\(message\)/);
  });

  it('countdown: the Python worker runs the task no earlier than its ETA', async () => {
    const sent = Date.now() / 1000;
    const result = await app.sendTask('py.now', [], {}, { queue, countdown: 2 });
    const ran = (await result.get({ timeout: 15_000 })) as { time: number; eta: string | null };
    expect(ran.eta, withLog('py.now eta')).not.toBeNull();
    const eta = Date.parse(ran.eta!) / 1000;
    expect(eta - sent).toBeGreaterThanOrEqual(1.9);
    // Measured here: Celery 5.2's worker (solo pool) runs ETA tasks up to ~0.5 s before their ETA
    // (its own timer scheduling, also with Celery producers). Allow that, not more than 1 s.
    expect(ran.time).toBeGreaterThanOrEqual(eta - 1);
    expect(ran.time - sent).toBeLessThan(8);
  });

  it('retry: the Python task retries itself once, then succeeds', async () => {
    const result = await app.sendTask('py.retry_once', [], {}, { queue });
    expect(await result.get({ timeout: 15_000 }), withLog('py.retry_once')).toBe(1);
  });

  it('a custom queue: the message is routed by queue name, as Celery routes it', async () => {
    const result = await app.sendTask('py.where', [], {}, { queue: customQueue });
    const where = (await result.get({ timeout: 15_000 })) as { routing_key: string; hostname: string };
    expect(where, withLog('py.where')).toEqual({ routing_key: customQueue, hostname: worker!.hostname });
  });
});
