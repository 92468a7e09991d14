/**
 * Workflows (canvas) between Python Celery 5 and tq with the Redis result backend (native chord
 * join on Celery's celery-taskset-meta-<gid>.j/.s keys), on the broker given, in both directions:
 * Python builds chain/group/chord/link/link_error/map/starmap/chunks and a tq worker runs them,
 * Python's get() reading the results; tq builds them and a Python worker runs them; a chord
 * whose header runs half on a tq worker and half on a Python worker completes, built by either.
 * Registered by canvas-interop.test.ts (Redis broker) and ../amqp/canvas-interop.test.ts (RabbitMQ).
 */
import { randomUUID } from 'node:crypto';
import { AsyncResult, chain, chord, createApp, group, GroupResult, map, TaskError, type App, type TqAdapter, type Worker } from '@tq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript, startCeleryWorker, type CeleryWorker, type InteropEnv } from './python.js';

export interface CanvasInteropOptions {
  /** Shown in the suite titles, e.g. "Redis". */
  readonly label: string;
  /** The Redis result backend both sides use (Celery's native chord join). */
  readonly redisUrl: string;
  /** The broker both sides use; default: redisUrl. */
  readonly brokerUrl?: string;
  readonly adapters: readonly TqAdapter[];
  /** Removes the queues a suite used. */
  readonly deleteQueues: (queues: readonly string[]) => Promise<void>;
  /** Runs before each suite (e.g. creating a vhost). */
  readonly prepare?: () => Promise<void>;
}

export function describeCanvasInterop(o: CanvasInteropOptions): void {
const url = o.redisUrl;

function interopEnv(label: string): InteropEnv {
  const run = randomUUID().slice(0, 8);
  return { url, queue: `tqc-${label}-${run}`, customQueue: `tqc-${label}-${run}.b`, ...(o.brokerUrl ? { brokerUrl: o.brokerUrl } : {}) };
}

function tqApp(queue: string): App {
  return createApp({ broker: o.brokerUrl ?? url, resultBackend: url, adapters: [...o.adapters], defaultQueue: queue, resultTtlMs: 3_600_000, logLevel: 'silent' });
}

/** The tasks of celery_app.py, same names and behaviour. */
function registerTasks(app: App, ran: string[] = []): void {
  app.task('tq.add', (a: number, b: number) => (ran.push('tq.add'), a + b));
  app.task('tq.mul', (a: number, b: number) => (ran.push('tq.mul'), a * b));
  app.task('tq.xsum', (values: number[]) => (ran.push('tq.xsum'), values.reduce((x, y) => x + y, 0)));
  app.task('tq.listed', (values: number[]) => values);
  app.task('tq.double', (x: number) => x * 2);
  app.task('tq.noted', (taskId: string) => taskId);
  app.task('tq.fail', (message: unknown) => {
    ran.push('tq.fail');
    const error = new Error(String(message));
    error.name = 'ValueError';
    throw error;
  });
}


describe(`Python Celery builds the canvas → tq worker runs it (${o.label})`, () => {
  const env = interopEnv('py2tq');
  const ran: string[] = [];
  let app: App;
  let worker: Worker;

  beforeAll(async () => {
    await o.prepare?.();
    app = tqApp(env.queue);
    registerTasks(app, ran);
    worker = app.worker({ queues: [env.queue, env.customQueue], concurrency: 4 });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await app?.close();
    await o.deleteQueues([env.queue, env.customQueue]);
  });

  const py = (scenario: string) => runScript(env, 'canvas_producer.py', [scenario]);

  it('chain: each step gets the previous result; get() on the last and its parents', async () => {
    expect(await py('chain')).toEqual({ result: 55, parent: 50, root: 5 });
  });

  it('group', async () => {
    expect(await py('group')).toEqual({ result: [0, 2, 4, 6] });
  });

  it('chord: the tq worker that finishes the header joins on Celery’s keys and applies the body', async () => {
    expect(await py('chord')).toEqual({ result: 12 });
  });

  it('a group and a chord nested in a chord header: the group unrolled (Celery 5.2 order), the inner body reporting to the outer chord', async () => {
    expect(await py('nested-chord')).toEqual({ result: [2, 6, 4, 18] });
  });

  it('chord with a failed member: the body is not applied, its record is a ChordError naming the member', async () => {
    const before = ran.filter((n) => n === 'tq.xsum').length;
    const out = await py('chord-failure');
    // Celery's get() re-raises the failed parent's error first, as it does with Celery workers.
    expect(out['raised']).toBe('ValueError');
    expect(out['body_state']).toBe('FAILURE');
    expect(out['body_error']).toBe('ChordError');
    expect(out['body_message']).toBe(`Dependency ${String(out['failed_id'])} raised ValueError('bad member')`);
    expect(ran.filter((n) => n === 'tq.xsum').length).toBe(before);
  });

  it('chain of a group then a task (chord upgrade)', async () => {
    expect(await py('nested')).toEqual({ result: 7 });
  });

  it('link: the callback gets the result and the record lists it as a child', async () => {
    expect(await py('link')).toEqual({ result: 3, child: 30 });
  });

  it('link_error: the errback is sent with the failed task id', async () => {
    const out = await py('link-error');
    expect(out['errback']).toBe(out['failed_id']);
  });

  it('a failing chain step: Python get() on the last step raises instead of hanging; later steps never run', async () => {
    const before = ran.filter((n) => n === 'tq.mul').length;
    const out = await py('chain-failure');
    expect(out).toEqual({ raised: 'ValueError', state: 'FAILURE' });
    expect(ran.filter((n) => n === 'tq.mul').length).toBe(before);
  });

  it('map, starmap and chunks run as Celery’s built-in tasks on the tq worker', async () => {
    expect(await py('map')).toEqual({ result: [2, 4, 6] });
    expect(await py('starmap')).toEqual({ result: [3, 7] });
    expect(await py('chunks')).toEqual({ result: [[2, 4], [6]] });
  });
});

describe(`tq builds the canvas → Python Celery worker runs it (${o.label})`, () => {
  const env = interopEnv('tq2py');
  let app: App;
  let celery: CeleryWorker;
  const sig = (name: string, ...args: unknown[]) => app.signature(name, args);

  beforeAll(async () => {
    await o.prepare?.();
    app = tqApp(env.queue);
    // Prefork: the threads pool acks late on Redis (see startCeleryWorker), ~20 s for a nested chord.
    celery = await startCeleryWorker(env, 'prefork');
  }, 60_000);

  afterAll(async () => {
    await celery?.stop();
    await app?.close();
    await o.deleteQueues([env.queue, env.customQueue]);
  });

  it('chain', async () => {
    const result = (await chain(sig('tq.add', 2, 3), sig('tq.mul', 10), sig('tq.add', 5)).applyAsync()) as AsyncResult;
    expect(await result.get({ timeout: 20_000 })).toBe(55);
    expect(await (result.parent as AsyncResult).get({ timeout: 5000 })).toBe(50);
  });

  it('group', async () => {
    const result = (await group([0, 1, 2].map((i) => sig('tq.add', i, i))).applyAsync()) as GroupResult;
    expect(await result.get({ timeout: 20_000 })).toEqual([0, 2, 4]);
  });

  it('chord: the Python worker joins on the size tq set and applies the body', async () => {
    const result = await chord([sig('tq.add', 1, 1), sig('tq.add', 2, 2)], sig('tq.xsum')).applyAsync();
    expect(await result.get({ timeout: 20_000 })).toBe(6);
  });

  it('a group and a chord nested in a chord header: the Python worker counts them as Celery does', async () => {
    const inner = chord([sig('tq.add', 4, 4), sig('tq.add', 5, 5)], sig('tq.xsum'));
    const result = await chord([sig('tq.add', 1, 1), group(sig('tq.add', 2, 2), sig('tq.add', 3, 3)), inner], sig('tq.listed')).applyAsync();
    expect(await result.get({ timeout: 20_000 })).toEqual([2, 6, 4, 18]);
  });

  it('chord with a failed member: ChordError from the Python worker', async () => {
    const result = (await chord([sig('tq.add', 1, 1), sig('tq.fail', 'bad')], sig('tq.xsum')).applyAsync()) as AsyncResult;
    const error = (await result.get({ timeout: 20_000 }).catch((e: unknown) => e)) as TaskError;
    expect(error).toBeInstanceOf(TaskError);
    expect(error.excType).toBe('ChordError');
    expect(error.excMessage).toBe(`Dependency ${(result.parent as GroupResult).results[1]!.id} raised ValueError('bad')`);
  });

  it('link and link_error', async () => {
    const ok = sig('tq.add', 1, 2);
    ok.link(sig('tq.mul', 10));
    const result = (await ok.applyAsync()) as AsyncResult;
    expect(await result.get({ timeout: 20_000 })).toBe(3);
    let children: (AsyncResult | GroupResult)[] = [];
    for (let i = 0; i < 100 && children.length === 0; i++) {
      children = await result.children();
      if (!children.length) await new Promise((r) => setTimeout(r, 50));
    }
    expect(await children[0]!.get({ timeout: 20_000 })).toBe(30);

    const known = randomUUID();
    const failing = sig('tq.fail', 'x');
    failing.linkError(sig('tq.noted').set({ task_id: known }));
    const failed = (await failing.applyAsync()) as AsyncResult;
    await expect(failed.get({ timeout: 20_000 })).rejects.toBeInstanceOf(TaskError);
    expect(await app.asyncResult(known).get({ timeout: 20_000 })).toBe(failed.id);
  });

  it('map runs as celery.map on the Python worker', async () => {
    expect(await (await map(sig('tq.double'), [1, 2, 3]).applyAsync()).get({ timeout: 20_000 })).toEqual([2, 4, 6]);
  });
});

describe(`a chord whose header runs half on a tq worker and half on a Python worker (${o.label})`, () => {
  // tq consumes queue A; the Python worker consumes queue B (its "queue" is B).
  const env = interopEnv('mixed');
  const pythonEnv: InteropEnv = { ...env, queue: env.customQueue, customQueue: `${env.customQueue}.unused` };
  const ran: string[] = [];
  let app: App;
  let worker: Worker;
  let celery: CeleryWorker;

  beforeAll(async () => {
    await o.prepare?.();
    app = tqApp(env.queue);
    registerTasks(app, ran);
    worker = app.worker({ queues: [env.queue], concurrency: 2 });
    await worker.start();
    // Prefork, Celery's default: the threads pool acks late on Redis (see startCeleryWorker),
    // which made the chord built by Python take ~20 s there.
    celery = await startCeleryWorker(pythonEnv, 'prefork');
  }, 60_000);

  afterAll(async () => {
    await celery?.stop();
    await worker?.stop();
    await app?.close();
    await o.deleteQueues([env.queue, env.customQueue, pythonEnv.customQueue]);
  });

  it('built by tq', async () => {
    const before = ran.filter((n) => n === 'tq.add').length;
    const header = [1, 2, 3, 4, 5, 6].map((i) => app.signature('tq.add', [i, i], {}, { queue: i % 2 ? env.customQueue : env.queue }));
    const result = await chord(header, app.signature('tq.xsum')).applyAsync();
    expect(await result.get({ timeout: 20_000 })).toBe(42);
    expect(ran.filter((n) => n === 'tq.add').length - before).toBe(3);
  });

  it('built by Python', async () => {
    const before = ran.filter((n) => n === 'tq.add').length;
    expect(await runScript(env, 'canvas_producer.py', ['mixed-chord'])).toEqual({ result: 42 });
    expect(ran.filter((n) => n === 'tq.add').length - before).toBe(3);
    // The script's own get() gives up after 20 s; this only leaves it room to start and report.
  }, 35_000);
});
}
