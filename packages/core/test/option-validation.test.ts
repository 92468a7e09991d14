import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, InvalidOptionError, type App, type SendOptions } from '../src/index.js';
import { memoryApp, sleep } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

async function sendError(options: Record<string, unknown>): Promise<InvalidOptionError> {
  const error = await app.sendTask('tq.any', [], {}, options as SendOptions).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidOptionError);
  return error as InvalidOptionError;
}

describe('send options are validated before anything is published (#15)', () => {
  it('rejects an unparseable eta with a typed error naming the option', async () => {
    app = memoryApp();
    const error = await sendError({ eta: 'next tuesday' });
    expect(error.code).toBe('TQ_INVALID_OPTION');
    expect(error.option).toBe('eta');
    expect(error.message).toMatch(/eta: expected a valid Date or an ISO 8601 date string, got "next tuesday"/);
    expect((await sendError({ eta: new Date('nope') })).option).toBe('eta');
  });

  it('rejects priority out of 0..9, a negative timeLimit, a bad expires and countdown', async () => {
    app = memoryApp();
    expect((await sendError({ priority: 42 })).message).toMatch(/priority: expected an integer 0\.\.9, got 42/);
    expect((await sendError({ priority: 1.5 })).option).toBe('priority');
    expect((await sendError({ timeLimit: -1 })).message).toMatch(/timeLimit: expected a number of seconds > 0, got -1/);
    expect((await sendError({ softTimeLimit: 0 })).option).toBe('softTimeLimit');
    expect((await sendError({ expires: 'soon' })).option).toBe('expires');
    expect((await sendError({ countdown: Number.NaN })).option).toBe('countdown');
    expect((await sendError({ taskId: '' })).option).toBe('taskId');
  });

  it('rejects an unknown option with the nearest known name, and lists every problem at once', async () => {
    app = memoryApp();
    const error = await sendError({ prority: 3, timeLimit: -1 });
    expect(error.issues.map((i) => i.path)).toEqual(['prority', 'timeLimit']);
    expect(error.message).toMatch(/prority: unknown option \(did you mean "priority"\?\)/);
  });

  it('publishes nothing when an option is invalid', async () => {
    app = memoryApp();
    await sendError({ queue: 'q-invalid', priority: 10 });
    expect((await app.queueStats('q-invalid')).ready).toBe(0);
  });

  it('accepts every valid option', async () => {
    app = memoryApp();
    const result = await app.sendTask('tq.any', [], {}, {
      queue: 'q-valid',
      eta: new Date(Date.now() - 1000).toISOString(),
      expires: 120,
      priority: 9,
      timeLimit: 5,
      softTimeLimit: 4,
      taskId: 'fixed-id',
      ignoreResult: false,
      headers: { x: 1 },
      retries: 0,
      parentId: null,
      rootId: null,
      group: null,
      groupIndex: null,
      shadow: 'alias',
    });
    expect(result.id).toBe('fixed-id');
    expect((await app.queueStats('q-valid')).ready).toBe(1);
  });
});

describe('task options are validated at registration (#15)', () => {
  it("rejects rateLimit '10/sec' when the task is registered", () => {
    app = memoryApp();
    expect(() => app.task('tq.limited', () => 1, { rateLimit: '10/sec' })).toThrow(ConfigError);
    expect(() => app.task('tq.limited', () => 1, { rateLimit: '10/sec' })).toThrow(/tasks\.tq\.limited\.rateLimit: expected "N\/s", "N\/m" or "N\/h", got "10\/sec"/);
    expect(app.tasks.has('tq.limited')).toBe(false);
  });

  it('rejects negative time limits, bad maxRetries, and a bad rate given to retuneTask', () => {
    app = memoryApp();
    expect(() => app.task('tq.a', () => 1, { timeLimit: -1 })).toThrow(/timeLimit: expected a number of seconds > 0/);
    expect(() => app.task('tq.b', () => 1, { maxRetries: -2 })).toThrow(/maxRetries/);
    app.task('tq.c', () => 1, { rateLimit: '10/s' });
    expect(() => app.retuneTask('tq.c', { rateLimit: 'fast' })).toThrow(ConfigError);
    expect(app.tasks.get('tq.c')!.options.rateLimit).toBe('10/s');
  });

  it('a valid rate limit still runs tasks at concurrency 1', async () => {
    app = memoryApp();
    app.task('tq.ok', (x: number) => x * 2, { rateLimit: '100/s' });
    const worker = app.worker({ concurrency: 1 });
    await worker.start();
    const results = await Promise.all([1, 2, 3].map((x) => app.sendTask('tq.ok', [x])));
    expect(await Promise.all(results.map((r) => r.get({ timeout: 5000 })))).toEqual([2, 4, 6]);
    await worker.stop();
    await sleep(0);
  });
});
