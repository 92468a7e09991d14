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
