import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerMessage } from '../src/adapter.js';
import {
  ContentTypeForbiddenError,
  PayloadTooLargeError,
  SoftTimeLimitExceeded,
  TaskError,
  TaskRevokedError,
  TaskState,
  TimeLimitExceeded,
  UnknownTaskError,
  UnsupportedError,
  type App,
  type WorkerEvents,
} from '../src/index.js';
import { decodeTaskMessage } from '../src/protocol/decode.js';
import { encodeTaskMessage } from '../src/protocol/encode.js';
import { exceptionInfo } from '../src/result/record.js';
import { jsonSerializer } from '../src/serializer/json.js';
import { memoryApp, sleep } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

const raw = (headers: Record<string, unknown>, body: string, contentType = 'application/json'): BrokerMessage => ({
  body: new TextEncoder().encode(body),
  headers: headers as BrokerMessage['headers'],
  properties: { contentType, contentEncoding: 'utf-8' },
});

function collect<K extends keyof WorkerEvents>(worker: ReturnType<App['worker']>, event: K): WorkerEvents[K][0][] {
  const out: WorkerEvents[K][0][] = [];
  worker.on(event, ((e: WorkerEvents[K][0]) => out.push(e)) as never);
  return out;
}

describe('bad input never stops the worker', () => {
  it('rejects malformed, unknown, forbidden and oversized messages with a reason, then runs the next task', async () => {
    app = memoryApp({ maxPayloadBytes: 1024 });
    app.task('tq.add', (a: number, b: number) => a + b);
    const worker = app.worker({ concurrency: 1 });
    const rejected = collect(worker, 'task-rejected');
    await worker.start();
    const broker = await app.broker();
    await broker.publish('celery', raw({ task: 'tq.add', id: 'bad-json' }, '[[1, 2], {'));
    await broker.publish('celery', raw({ id: 'no-task' }, '[[], {}, {}]'));
    await broker.publish('celery', raw({ task: 'tq.nope', id: 'unknown' }, '[[], {}, {}]'));
    await broker.publish('celery', raw({ task: 'tq.add', id: 'pickle' }, '\x80\x04K\x01.', 'application/x-python-serialize'));
    await broker.publish('celery', raw({ task: 'tq.add', id: 'big' }, `[["${'x'.repeat(2000)}"], {}, {}]`));
    await broker.publish('celery', raw({ task: 'tq.add', id: 'proto' }, '[[], {"__proto__": {"x": 1}}, {}]'));
    const good = await app.sendTask('tq.add', [2, 3]);
    expect(await good.get({ timeout: 5000 })).toBe(5);
    expect(rejected.map((r) => r.id)).toEqual(['bad-json', 'no-task', 'unknown', 'pickle', 'big', 'proto']);
    expect(rejected[0]!.reason).toContain('body');
    expect(rejected[1]!.reason).toContain('headers.task');
    expect(rejected[2]!.error).toBeInstanceOf(UnknownTaskError);
    expect(rejected[3]!.error).toBeInstanceOf(ContentTypeForbiddenError);
    expect(rejected[4]!.error).toBeInstanceOf(PayloadTooLargeError);
    // Each went to the dead-letter queue, none was lost or retried forever.
    expect(await broker.purge('celery.dead')).toBe(6);
    // A caller waiting on an unknown task gets the reason, not a timeout.
    const error = await app.asyncResult('unknown').get({ timeout: 2000 }).catch((e: unknown) => e);
    expect((error as TaskError).excType).toBe('UnknownTaskError');
    // So does one waiting on a malformed message whose id header is readable (#16 item 7).
    for (const [id, excType] of [['bad-json', 'MessageDecodeError'], ['no-task', 'MessageDecodeError'], ['proto', 'MessageDecodeError']] as const) {
      const failure = await app.asyncResult(id).get({ timeout: 2000 }).catch((e: unknown) => e);
      expect((failure as TaskError).excType, id).toBe(excType);
    }
    await worker.stop();
  });

  it("a return value that cannot be stored is recorded FAILURE with Celery's EncodeError, once: not a store retried (and the task re-run) without end", async () => {
    app = memoryApp();
    let runs = 0;
    app.task('tq.cyclic', () => {
      runs++;
      const value: Record<string, unknown> = {};
      value['self'] = value;
      return value;
    });
    app.task('tq.deep', () => {
      runs++;
      let value: unknown[] = [];
      for (let i = 0; i < 100_000; i++) value = [value];
      return value;
    });
    const worker = app.worker();
    await worker.start();
    for (const name of ['tq.cyclic', 'tq.deep']) {
      const error = await (await app.sendTask(name)).get({ timeout: 5000 }).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(TaskError);
      expect((error as TaskError).excType).toBe('EncodeError');
      expect((error as TaskError).excModule).toBe('kombu.exceptions');
    }
    await sleep(200);
    expect(runs).toBe(2);
    await worker.stop();
  });

  it("resultExtended (Celery's result_extended): records carry name, args, kwargs, worker, retries and queue, in Celery's order", async () => {
    app = memoryApp({ resultExtended: true });
    app.task('tq.add', (a: number, b: number) => a + b);
    const worker = app.worker({ queues: ['ext'] });
    await worker.start();
    const result = await app.sendTask('tq.add', [2, 3], {}, { queue: 'ext' });
    expect(await result.get({ timeout: 5000 })).toBe(5);
    const record = (await result.record()) as unknown as Record<string, unknown>;
    expect(Object.keys(record)).toEqual(['status', 'result', 'traceback', 'children', 'date_done', 'name', 'args', 'kwargs', 'worker', 'retries', 'queue', 'task_id']);
    expect(record).toMatchObject({ name: 'tq.add', args: [2, 3], kwargs: {}, worker: worker.hostname, retries: 0, queue: 'ext' });
    await worker.stop();
  });

  it('producers refuse oversized payloads with a typed error', async () => {
    app = memoryApp({ maxPayloadBytes: 100 });
    await expect(app.sendTask('tq.add', ['x'.repeat(200)])).rejects.toBeInstanceOf(PayloadTooLargeError);
  });
});

describe('retries, countdown, expiry', () => {
  it('ctx.retry republishes with retries+1 and records RETRY, then succeeds', async () => {
    app = memoryApp();
    const attempts: number[] = [];
    app.task('tq.flaky', function () {
      attempts.push(this.retries);
      if (this.retries < 2) this.retry({ countdown: 0.05, error: new Error('not yet') });
      return 'done';
    });
    const worker = app.worker();
    const retried = collect(worker, 'task-retried');
    await worker.start();
    const result = await app.sendTask('tq.flaky');
    expect(await result.get({ timeout: 5000 })).toBe('done');
    expect(attempts).toEqual([0, 1, 2]);
    expect(retried.map((r) => r.retries)).toEqual([1, 2]);
    await worker.stop();
  });

  it('the context works destructured: retry, retries, id, signal', async () => {
    app = memoryApp();
    const seen: { id: string; retries: number; aborted: boolean }[] = [];
    app.task('tq.destructured', function () {
      const { retry, retries, id, signal } = this;
      seen.push({ id, retries, aborted: signal.aborted });
      if (retries < 1) retry({ countdown: 0.01 });
      return retries;
    });
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.destructured');
    expect(await result.get({ timeout: 5000 })).toBe(1);
    expect(seen).toEqual([
      { id: result.id, retries: 0, aborted: false },
      { id: result.id, retries: 1, aborted: false },
    ]);
    await worker.stop();
  });

  it('fails with the original error once maxRetries is reached', async () => {
    app = memoryApp();
    app.task(
      'tq.always',
      function () {
        this.retry({ countdown: 0.01, error: new TypeError('still broken') });
      },
      { maxRetries: 2 },
    );
    const worker = app.worker();
    await worker.start();
    const error = await (await app.sendTask('tq.always')).get({ timeout: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskError);
    expect((error as TaskError).excType).toBe('TypeError');
    await worker.stop();
  });

  it("retry() without an error records RETRY with a null result (Celery's mark_as_retry), and past maxRetries fails with Celery's MaxRetriesExceededError", async () => {
    app = memoryApp();
    const retryRecords: unknown[] = [];
    app.task(
      'tq.never',
      function () {
        this.retry({ countdown: 0.3 }); // RETRY stays the state long enough for updates() to see it
      },
      { maxRetries: 1 },
    );
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.never');
    for await (const record of result.updates({ timeout: 5000 })) {
      if (record.status === 'RETRY') retryRecords.push(record.result);
      if (record.status === 'FAILURE') break;
    }
    expect(retryRecords).toEqual([null]);
    const record = await result.record();
    expect(record?.result).toEqual({ exc_type: 'MaxRetriesExceededError', exc_message: [`max retries (1) exceeded for tq.never[${result.id}]`], exc_module: 'celery.exceptions' });
    await worker.stop();
  });

  it("time limits and revocation are recorded with Celery's modules, so Python's except clauses catch them", () => {
    expect(exceptionInfo(new SoftTimeLimitExceeded(1)).exc_module).toBe('billiard.exceptions');
    expect(exceptionInfo(new TimeLimitExceeded(2)).exc_module).toBe('billiard.exceptions');
    expect(exceptionInfo(new TaskRevokedError('x', 'terminated')).exc_module).toBe('celery.exceptions');
    expect(exceptionInfo(new TaskError('x', 'ValueError', 'bad', null, 'myapp.errors')).exc_module).toBe('myapp.errors');
    expect(exceptionInfo(new TypeError('plain'))).toEqual({ exc_type: 'TypeError', exc_message: ['plain'], exc_module: 'builtins' });
  });

  it('autoretryFor retries matching errors with backoff', async () => {
    app = memoryApp();
    class Transient extends Error {}
    let calls = 0;
    app.task(
      'tq.auto',
      () => {
        calls++;
        if (calls < 3) throw new Transient('flaky');
        return calls;
      },
      { autoretryFor: [Transient], retryBackoff: 0.01, retryJitter: false, maxRetries: 5 },
    );
    const worker = app.worker();
    await worker.start();
    expect(await (await app.sendTask('tq.auto')).get({ timeout: 5000 })).toBe(3);
    await worker.stop();
  });

  it('a countdown task waits without occupying the only executor slot', async () => {
    app = memoryApp();
    const ran: string[] = [];
    app.task('tq.mark', (name: string) => {
      ran.push(name);
      return Date.now();
    });
    const worker = app.worker({ concurrency: 1 });
    await worker.start();
    const sent = Date.now();
    const later = await app.sendTask('tq.mark', ['later'], {}, { countdown: 0.3 });
    const now = await app.sendTask('tq.mark', ['now']);
    await now.get({ timeout: 5000 });
    const ranAt = (await later.get({ timeout: 5000 })) as number;
    expect(ran).toEqual(['now', 'later']);
    expect(ranAt - sent).toBeGreaterThanOrEqual(290);
    await worker.stop();
  });

  it('an expired task is REVOKED and never runs', async () => {
    app = memoryApp();
    let ran = false;
    app.task('tq.late', () => (ran = true));
    const result = await app.sendTask('tq.late', [], {}, { expires: new Date(Date.now() - 1000) });
    const worker = app.worker();
    const received = collect(worker, 'task-received');
    const revoked = collect(worker, 'task-revoked');
    await worker.start();
    await expect(result.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
    expect(await result.state()).toBe(TaskState.REVOKED);
    expect(ran).toBe(false);
    // As Celery's worker: announced as revoked (expired), never as received.
    expect(received).toEqual([]);
    expect(revoked).toEqual([expect.objectContaining({ id: result.id, reason: 'expired' })]);
    await worker.stop();
  });
});

describe('time limits', () => {
  it('soft limit aborts ctx.signal with SoftTimeLimitExceeded', async () => {
    app = memoryApp();
    app.task('tq.soft', async function () {
      await new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)));
    });
    const worker = app.worker();
    await worker.start();
    const error = await (await app.sendTask('tq.soft', [], {}, { softTimeLimit: 0.1 })).get({ timeout: 5000 }).catch((e: unknown) => e);
    expect((error as TaskError).excType).toBe(new SoftTimeLimitExceeded(0.1).name);
    await worker.stop();
  });

  it('hard limit fails the task with TimeLimitExceeded and frees the slot', async () => {
    app = memoryApp();
    app.task('tq.hang', () => new Promise(() => undefined));
    app.task('tq.ok', () => 'ok');
    const worker = app.worker({ concurrency: 1 });
    await worker.start();
    const hung = await app.sendTask('tq.hang', [], {}, { timeLimit: 0.1 });
    const ok = await app.sendTask('tq.ok');
    const error = await hung.get({ timeout: 5000 }).catch((e: unknown) => e);
    expect((error as TaskError).excType).toBe('TimeLimitExceeded');
    expect(await ok.get({ timeout: 5000 })).toBe('ok');
    await worker.stop();
  });

  it('an ETA hand-back the broker refuses (not an outage) is held in the worker until due, not requeued in a loop', async () => {
    app = memoryApp();
    app.task('tq.later', () => 'ran');
    // As a Celery producer sends an ETA task: at once, the ETA only in its headers.
    const broker = await app.broker();
    await broker.publish('celery', encodeTaskMessage({ id: 'eta-refused', task: 'tq.later', args: [], kwargs: {}, eta: new Date(Date.now() + 400) }, jsonSerializer));
    const result = app.asyncResult('eta-refused');
    // From now on the broker refuses this message, as RabbitMQ's adapter did a header it could not re-send.
    app.publishCall = () => Promise.reject(new UnsupportedError('cannot re-send this message'));
    const worker = app.worker({ etaHorizonMs: 0 }); // hand back every ETA
    const received = collect(worker, 'task-received');
    await worker.start();
    expect(await result.get({ timeout: 5000 })).toBe('ran');
    expect(received.length).toBeLessThanOrEqual(2); // requeued at once, it came back hundreds of times
    await worker.stop();
  });

  it('limits past setTimeout\'s 24.8 days hold (they fired at once); 0 means none, as in Celery', async () => {
    app = memoryApp();
    app.task('tq.nap', () => new Promise((resolve) => setTimeout(() => resolve('rested'), 100)));
    const worker = app.worker();
    await worker.start();
    const month = 30 * 24 * 3600;
    expect(await (await app.sendTask('tq.nap', [], {}, { timeLimit: month, softTimeLimit: month })).get({ timeout: 5000 })).toBe('rested');
    const zero = encodeTaskMessage({ id: 'zero-limits', task: 'tq.nap', args: [], kwargs: {}, timeLimit: { hard: 0, soft: 0 } }, jsonSerializer);
    expect(decodeTaskMessage(zero, app.serializers).timeLimit).toEqual({ hard: null, soft: null });
    const negative = encodeTaskMessage({ id: 'negative-limit', task: 'tq.nap', args: [], kwargs: {}, timeLimit: { hard: -1, soft: null } }, jsonSerializer);
    expect(() => decodeTaskMessage(negative, app.serializers)).toThrow(/headers\.timelimit\[0\]/);
    await worker.stop();
  });
});

describe('shutdown', () => {
  it('graceful stop finishes running tasks and takes no new ones', async () => {
    app = memoryApp();
    let finished = 0;
    app.task('tq.slow', async () => {
      await sleep(200);
      finished++;
    });
    const worker = app.worker({ concurrency: 2 });
    await worker.start();
    await app.sendTask('tq.slow');
    await app.sendTask('tq.slow');
    await sleep(50);
    for (let i = 0; i < 5; i++) await app.sendTask('tq.slow');
    await sleep(20);
    await worker.stop();
    expect(finished).toBe(2);
    // The five waiting tasks are still queued for the next worker.
    const next = app.worker({ concurrency: 5 });
    await next.start();
    await sleep(400);
    expect(finished).toBe(7);
    await next.stop();
  });

  it('forced stop returns unfinished work to the queue', async () => {
    app = memoryApp();
    let runs = 0;
    app.task('tq.long', async function () {
      runs++;
      if (runs === 1) await new Promise((resolve) => setTimeout(resolve, 10_000));
      return runs;
    });
    const first = app.worker({ concurrency: 1 });
    await first.start();
    const result = await app.sendTask('tq.long');
    await sleep(50);
    const stopping = first.stop();
    await first.stop({ force: true });
    await stopping;
    const second = app.worker({ concurrency: 1 });
    await second.start();
    expect(await result.get({ timeout: 5000 })).toBe(2);
    await second.stop();
  });

  it('acksLate: false acks before running (at-most-once)', async () => {
    app = memoryApp();
    let runs = 0;
    app.task('tq.once', () => new Promise(() => runs++), { acksLate: false });
    const first = app.worker({ concurrency: 1 });
    await first.start();
    await app.sendTask('tq.once');
    await sleep(50);
    await first.stop({ force: true });
    const second = app.worker({ concurrency: 1 });
    await second.start();
    await sleep(100);
    expect(runs).toBe(1);
    await second.stop({ force: true });
  });
});
