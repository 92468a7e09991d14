import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, TaskError, type App } from '../src/index.js';
import { memoryApp } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

async function failure(promise: Promise<unknown>): Promise<TaskError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TaskError);
  return error as TaskError;
}

describe('keyword arguments bind by name (#15)', () => {
  it('binds kwargs to declared params, mixed with positional args, optional ones undefined', async () => {
    app = memoryApp();
    app.task('tq.add', (x: number, y: number, z?: number) => `${x}+${y}+${String(z)}`, { params: ['x', 'y', 'z?'] });
    const worker = app.worker();
    await worker.start();
    expect(await (await app.sendTask('tq.add', [], { x: 2, y: 3 })).get({ timeout: 5000 })).toBe('2+3+undefined');
    expect(await (await app.sendTask('tq.add', [2], { z: 4, y: 3 })).get({ timeout: 5000 })).toBe('2+3+4');
    await worker.stop();
  });

  it('an unknown, missing or doubled argument fails the task with ArgumentBindingError naming it', async () => {
    app = memoryApp();
    let ran = 0;
    app.task('tq.add', (x: number, y: number) => (ran++, x + y), { params: ['x', 'y'] });
    const worker = app.worker();
    await worker.start();
    const unknown = await failure((await app.sendTask('tq.add', [], { x: 2, yy: 3 })).get({ timeout: 5000 }));
    expect(unknown.excType).toBe('ArgumentBindingError');
    expect(unknown.excMessage).toBe('tq.add: got an unexpected keyword argument "yy" (did you mean "y"?)');
    const missing = await failure((await app.sendTask('tq.add', [], { x: 2 })).get({ timeout: 5000 }));
    expect(missing.excMessage).toBe('tq.add: missing required argument "y"');
    const doubled = await failure((await app.sendTask('tq.add', [1], { x: 2, y: 3 })).get({ timeout: 5000 }));
    expect(doubled.excMessage).toBe('tq.add: got multiple values for argument "x"');
    const tooMany = await failure((await app.sendTask('tq.add', [1, 2, 3])).get({ timeout: 5000 }));
    expect(tooMany.excMessage).toBe('tq.add: takes 2 positional arguments but 3 were given');
    expect(ran).toBe(0);
    await worker.stop();
  });

  it('without params, kwargs for named parameters fail instead of running with "[object Object]undefined"', async () => {
    app = memoryApp();
    app.task('tq.add', (a: number, b: number) => `${a}${b}`);
    app.task('tq.withKwargs', (a: number, kwargs: Record<string, unknown>) => ({ a, kwargs }));
    const worker = app.worker();
    await worker.start();
    const error = await failure((await app.sendTask('tq.add', [], { x: 2, y: 3 })).get({ timeout: 5000 }));
    expect(error.excMessage).toMatch(/got keyword arguments \(x, y\) but declares no parameter names/);
    // A function that takes the kwargs object last keeps working as before.
    expect(await (await app.sendTask('tq.withKwargs', [1], { z: 10 })).get({ timeout: 5000 })).toEqual({ a: 1, kwargs: { z: 10 } });
    await worker.stop();
  });

  it('params are checked at registration', () => {
    app = memoryApp();
    expect(() => app.task('tq.a', () => 1, { params: ['x', 'x?'] })).toThrow(ConfigError);
    expect(() => app.task('tq.b', () => 1, { params: 'x' as unknown as string[] })).toThrow(/params: expected an array of parameter names/);
  });
});
