import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, type App, type Logger } from '../src/index.js';
import { warnUnenforcedRetention } from '../src/worker/retention.js';
import { memoryApp, sleep } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

describe('keepResults: the newest N records per task name (#15 retention)', () => {
  it('keeps the last 3 SUCCESS and the last 2 FAILURE records of a task, and leaves other tasks alone', async () => {
    app = memoryApp();
    app.task('tq.maybe', (fail: boolean) => {
      if (fail) throw new Error('no');
      return 'ok';
    }, { keepResults: { succeeded: 3, failed: 2 } });
    app.task('tq.other', () => 'kept');
    const worker = app.worker({ concurrency: 1 });
    await worker.start();
    const other = await app.sendTask('tq.other');
    const ids: { id: string; fail: boolean }[] = [];
    for (const fail of [false, true, false, true, false, true, false, false]) {
      const result = await app.sendTask('tq.maybe', [fail]);
      await result.get({ timeout: 5000 }).catch(() => undefined);
      ids.push({ id: result.id, fail });
    }
    await sleep(50);
    const backend = (await app.backend())!;
    const present = async (id: string) => (await backend.fetch(id)) !== null;
    const successes = ids.filter((i) => !i.fail);
    const failures = ids.filter((i) => i.fail);
    expect(await Promise.all(successes.map((s) => present(s.id)))).toEqual([false, false, true, true, true]);
    expect(await Promise.all(failures.map((f) => present(f.id)))).toEqual([false, true, true]);
    expect(await present(other.id)).toBe(true);
    await worker.stop();
  });

  it('maxBytes: keeps the newest records whose stored sizes fit the budget, per task name and state', async () => {
    app = memoryApp();
    app.task('tq.report', (n: number) => `${n}:${'x'.repeat(2000)}`, { keepResults: { maxBytes: 5000 } });
    const worker = app.worker({ concurrency: 1 });
    await worker.start();
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      const result = await app.sendTask('tq.report', [n]);
      await result.get({ timeout: 5000 });
      ids.push(result.id);
    }
    await sleep(50);
    const backend = (await app.backend())!;
    // Each record is a little over 2000 bytes: two fit in 5000.
    expect(await Promise.all(ids.map(async (id) => (await backend.fetch(id)) !== null))).toEqual([false, false, false, true, true]);
    await worker.stop();
  });

  it('a worker whose backend cannot enforce keepResults says so at start', () => {
    const warnings: string[] = [];
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (m) => void warnings.push(m), error: () => undefined };
    app = memoryApp();
    app.task('tq.kept', () => 1, { keepResults: { succeeded: 10, maxBytes: 1000 } });
    app.task('tq.plain', () => 1);
    warnUnenforcedRetention(app, { watch: false, expiry: true, retain: true }, logger);
    expect(warnings).toEqual([expect.stringContaining('task tq.kept: keepResults.maxBytes is not enforced: the result backend keeps no record sizes')]);
    warnings.length = 0;
    warnUnenforcedRetention(app, null, logger);
    expect(warnings).toEqual([
      expect.stringContaining('task tq.kept: keepResults counts are not enforced: the result backend is not configured'),
      expect.stringContaining('task tq.kept: keepResults.maxBytes is not enforced: the result backend is not configured'),
    ]);
    warnings.length = 0;
    warnUnenforcedRetention(app, { watch: true, expiry: true, retain: true, retainBytes: true }, logger);
    expect(warnings).toEqual([]);
  });

  it('is checked at registration', () => {
    app = memoryApp();
    expect(() => app.task('tq.a', () => 1, { keepResults: { succeeded: 0 } })).toThrow(ConfigError);
    expect(() => app.task('tq.c', () => 1, { keepResults: { maxBytes: 0.5 } })).toThrow(/keepResults\.maxBytes: expected an integer >= 1/);
    expect(() => app.task('tq.b', () => 1, { keepResults: { sucessful: 3 } as never })).toThrow(/keepResults\.sucessful: unknown field/);
  });
});
