import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'tq.js');

function tq(args: string[]): { code: number | null; stderr: string } {
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 15_000, env: { ...process.env, TQ_BROKER_URL: '', TQ_RESULT_BACKEND: '' } });
  return { code: run.status, stderr: run.stderr };
}

describe('tq suggests the closest command or flag (#15)', () => {
  it('a mistyped command', () => {
    const run = tq(['wroker']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('tq: unknown command "wroker" (did you mean "tq worker"?)');
  });

  it('a mistyped flag', () => {
    const run = tq(['worker', '--concurency', '2']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--concurency.*\(did you mean "--concurrency"\?\)/);
  });

  it('no suggestion when nothing is close', () => {
    const run = tq(['frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('tq: unknown command "frobnicate"\n');
  });
});
