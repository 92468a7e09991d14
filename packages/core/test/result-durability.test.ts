import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResultBackend } from '../src/adapter.js';
import { BrokerConnectionError, createApp, type App } from '../src/index.js';
import { createMemoryAdapter } from '../src/memory/index.js';
import { sleep } from './helpers.js';

/** A memory result backend whose store() fails while `down` (as a backend behind a cut link would). */
function flakyBackend(inner: ResultBackend): ResultBackend & { down: boolean; failedStores: number } {
  const flaky = {
    down: false,
    failedStores: 0,
    capabilities: inner.capabilities,
    connect: (options?: { signal?: AbortSignal }) => inner.connect(options),
    async store(...args: Parameters<ResultBackend['store']>) {
      if (flaky.down) {
        flaky.failedStores++;
        throw new BrokerConnectionError('backend down (test)', { backend: true });
      }
      return inner.store(...args);
    },
    fetch: (id: string) => inner.fetch(id),
    forget: (id: string) => inner.forget(id),
    close: () => inner.close(),
  };
  return flaky;
}

let apps: App[] = [];
afterEach(async () => {
  for (const app of apps) await app.close();
  apps = [];
});

/** A worker app on a memory broker with a 300 ms redelivery window; its backend can go down. */
function outageApp(resultRetry: { limitMs: number; initialDelayMs?: number; maxDelayMs?: number }) {
  const name = `r${randomUUID().slice(0, 8)}`;
  const adapter = createMemoryAdapter();
  const backend = flakyBackend(adapter.createResultBackend!(new URL(`memory://${name}`), {}));
  const app = createApp({
    broker: `memory://${name}?visibilityTimeoutMs=300`,
    resultBackend: backend,
    adapters: [adapter],
    logLevel: 'silent',
    // One try per store from the runtime guard: the worker's own result retry is under test.
    publishRetry: { maxRetries: 0, initialDelayMs: 10, maxDelayMs: 10 },
  });
  apps.push(app);
  const runs = new Map<string, number>();
  app.task('tq.count', (id: string) => {
    runs.set(id, (runs.get(id) ?? 0) + 1);
    return id;
  });
  const worker = app.worker({ concurrency: 2, resultRetry: { initialDelayMs: 50, maxDelayMs: 200, ...resultRetry } });
  return { app, backend, runs, worker };
}

describe('results survive a backend outage', () => {
  it('an outage longer than the redelivery window loses no result and runs no task twice', async () => {
    const { app, backend, runs, worker } = outageApp({ limitMs: 10_000 });
    await worker.start();
    backend.down = true;
    const sent = [];
    for (let i = 0; i < 6; i++) sent.push(await app.sendTask('tq.count', [`t${i}`]));
    await sleep(1200); // four redelivery windows with every result write failing
    expect(backend.failedStores).toBeGreaterThan(0);
    backend.down = false;
    const values = await Promise.all(sent.map((r) => r.get({ timeout: 5000 })));
    expect(values).toEqual(sent.map((_, i) => `t${i}`));
    for (let i = 0; i < 6; i++) expect(runs.get(`t${i}`), `runs of t${i}`).toBe(1);
    await worker.stop();
  });

  it('a task expired on arrival keeps its lease while its REVOKED record waits for the backend: handled once', async () => {
    const { app, backend, runs, worker } = outageApp({ limitMs: 10_000 });
    await worker.start();
    backend.down = true;
    const result = await app.sendTask('tq.count', ['old'], {}, { expires: new Date(Date.now() - 1000) });
    await sleep(1200); // four redelivery windows
    backend.down = false;
    await expect(result.get({ timeout: 5000 })).rejects.toThrow(/revoked/i);
    await sleep(400);
    expect(worker.stats.revoked).toBe(1);
    expect(runs.size).toBe(0);
    await worker.stop();
  });

  it('past the retry limit the message is given back, not acked: the task runs again and its result lands', async () => {
    const { app, backend, runs, worker } = outageApp({ limitMs: 300 });
    await worker.start();
    backend.down = true;
    const result = await app.sendTask('tq.count', ['late']);
    await sleep(1000); // past the limit: given back, run again, given back again…
    expect(runs.get('late')).toBeGreaterThanOrEqual(2);
    backend.down = false;
    expect(await result.get({ timeout: 5000 })).toBe('late');
    await worker.stop();
  });
});
