import { afterEach, describe, expect, it } from 'vitest';
import { TaskError, type App } from '../src/index.js';
import { decodeRecord } from '../src/result/record.js';
import { memoryApp, sleep } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

describe('ignoreResult and storeErrorsEvenIfIgnored (#15, as Celery)', () => {
  it('ignoreResult alone: neither SUCCESS nor FAILURE is stored', async () => {
    app = memoryApp();
    app.task('tq.ok', () => 1, { ignoreResult: true });
    app.task('tq.bad', () => {
      throw new Error('nope');
    }, { ignoreResult: true });
    const worker = app.worker();
    await worker.start();
    const ok = await app.sendTask('tq.ok');
    const bad = await app.sendTask('tq.bad');
    await sleep(200);
    const backend = (await app.backend())!;
    expect(await backend.fetch(ok.id)).toBeNull();
    expect(await backend.fetch(bad.id)).toBeNull();
    await worker.stop();
  });

  it('with storeErrorsEvenIfIgnored: FAILURE is stored, SUCCESS still is not', async () => {
    app = memoryApp();
    const options = { ignoreResult: true, storeErrorsEvenIfIgnored: true };
    app.task('tq.ok', () => 1, options);
    app.task('tq.bad', () => {
      throw new Error('nope');
    }, options);
    const worker = app.worker();
    await worker.start();
    const ok = await app.sendTask('tq.ok');
    const bad = await app.sendTask('tq.bad');
    await expect(bad.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskError);
    await sleep(100);
    const backend = (await app.backend())!;
    expect(await backend.fetch(ok.id)).toBeNull();
    expect(decodeRecord((await backend.fetch(bad.id))!).status).toBe('FAILURE');
    await worker.stop();
  });
});
