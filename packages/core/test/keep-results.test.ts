import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, type App } from '../src/index.js';
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

  it('is checked at registration', () => {
    app = memoryApp();
    expect(() => app.task('tq.a', () => 1, { keepResults: { succeeded: 0 } })).toThrow(ConfigError);
    expect(() => app.task('tq.b', () => 1, { keepResults: { sucessful: 3 } as never })).toThrow(/keepResults\.sucessful: unknown field/);
  });
});
