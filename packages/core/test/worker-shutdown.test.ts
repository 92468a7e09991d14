import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../src/index.js';
import { memoryApp, sleep } from './helpers.js';

let app: App;
afterEach(async () => {
  await app?.close();
});

describe('warm shutdown', () => {
  it('is time-boxed: past timeoutMs the running task is given back and stop() resolves', async () => {
    app = memoryApp();
    let runs = 0;
    app.task('tq.slow', async function () {
      runs++;
      if (runs === 1) await new Promise((resolve) => setTimeout(resolve, 10_000));
      return runs;
    });
    const first = app.worker({ concurrency: 1, shutdownTimeoutMs: 300 });
    await first.start();
    const result = await app.sendTask('tq.slow');
    await sleep(50);
    const started = Date.now();
    await first.stop();
    expect(Date.now() - started).toBeLessThan(2000);
    const second = app.worker({ concurrency: 1 });
    await second.start();
    expect(await result.get({ timeout: 5000 })).toBe(2);
    await second.stop();
  });

  it('hands prefetched tasks back at once while a running task finishes, each task run once', async () => {
    app = memoryApp();
    const runs = new Map<string, number>();
    let release: () => void = () => undefined;
    const blocker = new Promise<void>((resolve) => (release = resolve));
    app.task('tq.block', async () => {
      await blocker;
      return 'done';
    });
    app.task('tq.quick', (id: string) => {
      runs.set(id, (runs.get(id) ?? 0) + 1);
      return id;
    });
    const first = app.worker({ concurrency: 1, prefetchMultiplier: 4 });
    await first.start();
    const blocked = await app.sendTask('tq.block');
    await sleep(50);
    const quick = [];
    for (let i = 0; i < 3; i++) quick.push(await app.sendTask('tq.quick', [`q${i}`]));
    await sleep(50);
    const stopping = first.stop();
    const second = app.worker({ concurrency: 1 });
    await second.start();
    // Back at once: the first worker is still busy with its running task.
    expect(await Promise.all(quick.map((r) => r.get({ timeout: 2000 })))).toEqual(['q0', 'q1', 'q2']);
    release();
    await stopping;
    expect(await blocked.get({ timeout: 2000 })).toBe('done');
    for (let i = 0; i < 3; i++) expect(runs.get(`q${i}`)).toBe(1);
    await second.stop();
  });
});
