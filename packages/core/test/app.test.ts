import { afterEach, describe, expect, it } from 'vitest';
import { TaskError, TaskState, taskContext, type App } from '../src/index.js';
import { memoryApp } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

describe('producer to worker on memory://', () => {
  it('runs a task sent by name and returns its result', async () => {
    app = memoryApp();
    app.task('tq.add', (a: number, b: number) => a + b);
    const worker = app.worker({ concurrency: 2 });
    await worker.start();
    const result = await app.sendTask('tq.add', [2, 3]);
    expect(await result.get({ timeout: 5000 })).toBe(5);
    expect(await result.state()).toBe(TaskState.SUCCESS);
    await worker.stop();
  });

  it('passes kwargs as a trailing object and exposes the context', async () => {
    app = memoryApp();
    app.task('tq.greet', function (name: string, opts?: { punctuation?: string }) {
      return `${this.name}:${this.retries}:${name}${opts?.punctuation ?? ''}:${taskContext().id === this.id}`;
    });
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.greet', ['bob'], { punctuation: '!' });
    expect(await result.get({ timeout: 5000 })).toBe('tq.greet:0:bob!:true');
    await worker.stop();
  });

  it('taskContext() after an await needs asyncContext, and says so', async () => {
    app = memoryApp();
    const tick = () => new Promise((resolve) => setTimeout(resolve, 1));
    app.task('tq.late', async () => {
      const early = taskContext().id;
      await tick();
      return taskContext().id === early;
    });
    app.task('tq.lateAsync', async () => {
      const early = taskContext().id;
      await tick();
      return taskContext().id === early;
    }, { asyncContext: true });
    const worker = app.worker({ concurrency: 4 });
    await worker.start();
    const [late, lateAsync] = await Promise.all([app.sendTask('tq.late'), app.sendTask('tq.lateAsync')]);
    const error = await late.get({ timeout: 5000 }).catch((e: unknown) => e);
    expect((error as TaskError).excMessage).toMatch(/after an await in a task registered without \{ asyncContext: true \}/);
    expect(await lateAsync.get({ timeout: 5000 })).toBe(true);
    await worker.stop();
  });

  it('rethrows a remote failure as TaskError with type, message and traceback', async () => {
    app = memoryApp();
    app.task('tq.fail', () => {
      throw new RangeError('too far');
    });
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.fail');
    const error = await result.get({ timeout: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskError);
    expect((error as TaskError).excType).toBe('RangeError');
    expect((error as TaskError).excMessage).toBe('too far');
    expect((error as TaskError).traceback).toContain('RangeError: too far');
    expect(await result.state()).toBe(TaskState.FAILURE);
    await worker.stop();
  });

  it('records STARTED and PROGRESS before SUCCESS', async () => {
    app = memoryApp();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    app.task('tq.progress', async function () {
      await new Promise((resolve) => setTimeout(resolve, 20)); // still running after its first moment: STARTED is written
      await this.updateState('PROGRESS', { done: 1, total: 2 });
      await gate;
      return 'ok';
    });
    const result = await app.sendTask('tq.progress');
    const updates = result.updates({ timeout: 5000 });
    const first = updates.next(); // subscribes before the worker runs anything
    const worker = app.worker();
    await worker.start();
    const seen: string[] = [];
    for (let next = await first; !next.done; next = await updates.next()) {
      const record = next.value;
      seen.push(record.status);
      if (record.status === 'PROGRESS') {
        expect(record.result).toEqual({ done: 1, total: 2 });
        release();
      }
    }
    expect(seen).toEqual(['STARTED', 'PROGRESS', 'SUCCESS']);
    await worker.stop();
  });

  it('skips STARTED for a task that finished before its STARTED record went out', async () => {
    app = memoryApp();
    const stored: string[] = [];
    app.task('tq.instant', () => 'done');
    const worker = app.worker();
    await worker.start();
    const backend = (await app.backend())!;
    const store = backend.store.bind(backend);
    backend.store = async (id, record, options) => {
      stored.push(JSON.parse(new TextDecoder().decode(record)).status);
      return store(id, record, options);
    };
    const result = await app.sendTask('tq.instant');
    expect(await result.get({ timeout: 5000 })).toBe('done');
    expect(stored).toEqual(['SUCCESS']);
    await worker.stop();
  });

  it('typed delay/applyAsync through a registered task', async () => {
    app = memoryApp();
    const mul = app.task('tq.mul', (a: number, b: number) => a * b);
    const worker = app.worker();
    await worker.start();
    expect(await (await mul.delay(6, 7)).get({ timeout: 5000 })).toBe(42);
    expect(await (await mul.applyAsync([3, 3], {}, { priority: 5 })).get({ timeout: 5000 })).toBe(9);
    await worker.stop();
  });
});

describe('queueFor', () => {
  it('says where sendTask sends a name: the queue option, the task\'s own queue, the routes, then defaultQueue', () => {
    app = memoryApp({ routes: { 'media.*': 'media' }, defaultQueue: 'main' });
    app.task('reports.build', () => undefined, { queue: 'reports' });
    expect(app.queueFor('reports.build', 'urgent')).toBe('urgent');
    expect(app.queueFor('reports.build')).toBe('reports');
    expect(app.queueFor('media.resize')).toBe('media');
    expect(app.queueFor('unknown.task')).toBe('main');
  });
});
