import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, type App } from '../src/index.js';
import { memoryApp } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

describe('sendMany / task.bulk (#15)', () => {
  it('sends every call; results follow call order; the worker runs them all', async () => {
    app = memoryApp();
    const double = app.task('tq.double', (x: number) => x * 2);
    const results = await double.bulk(Array.from({ length: 2500 }, (_, i) => ({ args: [i] as [number] })));
    expect((await app.queueStats()).ready).toBe(2500);
    const worker = app.worker({ concurrency: 50 });
    await worker.start();
    expect(await Promise.all(results.map((r) => r.get({ timeout: 20_000 })))).toEqual(Array.from({ length: 2500 }, (_, i) => i * 2));
    await worker.stop();
  });

  it('checks every call before publishing any, naming the index', async () => {
    app = memoryApp();
    const error = await app
      .sendMany([
        { name: 'tq.a', options: { queue: 'q-bulk' } },
        { name: 'tq.a', options: { queue: 'q-bulk', eta: 'soon' } },
        { name: 'tq.a', options: { queue: 'q-bulk', prority: 1 } as never },
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).issues.map((i) => i.path)).toEqual(['[1].eta', '[2].prority']);
    expect((await app.queueStats('q-bulk')).ready).toBe(0);
  });

  it('dedupes within a bulk like single sends', async () => {
    app = memoryApp();
    const results = await app.sendMany([
      { name: 'tq.a', options: { queue: 'q-bulk-d', taskId: 'same' } },
      { name: 'tq.a', options: { queue: 'q-bulk-d', taskId: 'same' } },
      { name: 'tq.a', options: { queue: 'q-bulk-d' } },
    ]);
    expect(results.map((r) => r.id).slice(0, 2)).toEqual(['same', 'same']);
    expect((await app.queueStats('q-bulk-d')).ready).toBe(2);
  });
});
