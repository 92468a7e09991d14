import { afterEach, describe, expect, it } from 'vitest';
import { TaskRevokedError, type App } from '../src/index.js';
import { decodeRecord } from '../src/result/record.js';
import { memoryApp, sleep } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

describe('revoking a finished task (#15)', () => {
  it('leaves a SUCCESS record untouched', async () => {
    app = memoryApp();
    app.task('tq.done', () => 42);
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.done');
    expect(await result.get({ timeout: 5000 })).toBe(42);
    await app.control.revoke(result.id);
    await sleep(50);
    const backend = (await app.backend())!;
    expect(decodeRecord((await backend.fetch(result.id))!).status).toBe('SUCCESS');
    expect(await app.asyncResult(result.id).get({ timeout: 1000 })).toBe(42);
    await worker.stop();
  });

  it('leaves a FAILURE record untouched', async () => {
    app = memoryApp();
    app.task('tq.bad', () => {
      throw new Error('nope');
    });
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.bad');
    await expect(result.get({ timeout: 5000 })).rejects.toThrow(/nope/);
    await app.control.revoke([result.id], { terminate: true });
    await sleep(50);
    const backend = (await app.backend())!;
    expect(decodeRecord((await backend.fetch(result.id))!).status).toBe('FAILURE');
    await worker.stop();
  });

  it('still records REVOKED for a task that has not run', async () => {
    app = memoryApp();
    app.task('tq.later', () => 1);
    const result = await app.sendTask('tq.later', [], {}, { countdown: 60 });
    await app.control.revoke(result.id);
    await expect(result.get({ timeout: 1000 })).rejects.toBeInstanceOf(TaskRevokedError);
  });

  it('a terminated task that ignores its signal cannot replace REVOKED with later progress', async () => {
    app = memoryApp();
    app.task('tq.stubborn', async function () {
      for (let i = 1; i <= 4; i++) {
        await sleep(60);
        await this.updateState('PROGRESS', { current: i });
      }
      return 'done anyway';
    });
    const worker = app.worker();
    await worker.start();
    const result = await app.sendTask('tq.stubborn');
    await sleep(90);
    await app.control.revoke(result.id, { terminate: true });
    await expect(result.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
    await sleep(300); // the task body runs on and calls updateState three more times
    const backend = (await app.backend())!;
    expect(decodeRecord((await backend.fetch(result.id))!).status).toBe('REVOKED');
    await worker.stop();
  });
});
