/**
 * A worker makes V8's tier-up eager for its process (worker/tier-up.ts): the code it runs once
 * per batch of tasks would otherwise stay unoptimized for tens of thousands of tasks. Each case
 * is a child with a fresh V8 that starts a worker on the embedded broker, then counts the calls
 * a small function needs before V8 optimizes it (exact: optimization is made synchronous there).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const workerScript = fileURLToPath(new URL('./fixtures/tier-up-worker.mjs', import.meta.url));

async function callsToOptimize(mode: 'eager' | 'default'): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', workerScript, mode], { timeout: 30_000 });
  return (JSON.parse(stdout) as { calls: number }).calls;
}

describe('worker tier-up', () => {
  it('a started worker has V8 optimize hot code several times sooner; v8DefaultTierUp leaves the default', async () => {
    const [eager, byDefault] = await Promise.all([callsToOptimize('eager'), callsToOptimize('default')]);
    expect(byDefault).toBeLessThan(1_000_000); // optimized at all: the probe works
    // Node 20: ~500 calls against ~2,700 (a budget of 8 KB against V8's 66 KB).
    expect(eager * 3).toBeLessThan(byDefault);
  });
});
