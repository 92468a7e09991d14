import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runNode, startTqWorker } from './helpers.js';

// The README's first command (`npm run demo`) and its quick start, run as a user runs them:
// nothing else checks that they still work.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'packages', 'core', 'bin', 'tq.js');
const env = { ...process.env, TQ_BROKER_URL: '', TQ_RESULT_BACKEND: '' };

/** The demo's state lines (it prints one per change when its output is not a terminal), by task id. */
function statesById(stdout: string): Map<string, { name: string; states: string[]; details: string[] }> {
  const tasks = new Map<string, { name: string; states: string[]; details: string[] }>();
  for (const line of stdout.split('\n')) {
    const match = /^([0-9a-f]{8}) {2}(\S+)\s+(STARTED|PROGRESS|RETRY|SUCCESS|FAILURE)\s*(.*)$/.exec(line);
    if (!match) continue;
    const [, id, name, state, detail] = match as unknown as [string, string, string, string, string];
    const task = tasks.get(id) ?? { name, states: [], details: [] };
    task.states.push(state);
    task.details.push(detail);
    tasks.set(id, task);
  }
  return tasks;
}

describe('npm run demo (examples/demo/demo.js)', () => {
  it('shows nine tasks moving through their states: progress, a retry, a failure with its traceback', async () => {
    const run = await runNode(join(root, 'examples', 'demo', 'demo.js'), [], { cwd: root, env, timeoutMs: 60_000 });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const tasks = [...statesById(run.stdout).values()];
    expect(tasks).toHaveLength(9);
    const last = (task: (typeof tasks)[number]) => task.states.at(-1);

    const reports = tasks.filter((task) => task.name === 'reports.build');
    expect(reports).toHaveLength(3);
    for (const report of reports) {
      expect(report.states[0]).toBe('STARTED');
      expect(last(report)).toBe('SUCCESS');
      const bars = report.details.filter((detail) => detail.startsWith('['));
      const pages = bars.map((bar) => /(\d+)\/(\d+)$/.exec(bar)!.slice(1).map(Number));
      expect(pages.map(([page]) => page)).toEqual(pages.map((_, i) => i + 1)); // 1/N, 2/N, … in order
      expect(pages.at(-1)![0]).toBe(pages.at(-1)![1]);
    }

    const retried = tasks.find((task) => task.name === 'feeds.fetch')!;
    expect(retried.states).toEqual(['STARTED', 'RETRY', 'STARTED', 'SUCCESS']);
    expect(retried.details[1]).toBe('Error: https://example.com/feed timed out');

    const failed = tasks.filter((task) => last(task) === 'FAILURE');
    expect(failed.map((task) => task.name)).toEqual(['billing.charge']);
    expect(failed[0]!.details.at(-1)).toBe('RangeError: charge of 250000 cents for globex exceeds the card limit');
    expect(tasks.find((task) => task.name === 'tq.add')!.details.at(-1)).toBe('5');

    expect(run.stdout).toMatch(/failed remotely; get\(\) rethrew it as TaskError:\n {2}type: {4}RangeError\n/);
    expect(run.stdout).toMatch(/traceback:\n {4}RangeError: charge of 250000 cents[^\n]*\n {8}at .*demo\.js:\d+:\d+/);
    expect(run.stdout).toMatch(/summary: 9 tasks in [\d.]+s — 8 SUCCESS, 1 FAILURE\n/);
  });
});

describe('the README quick start (examples/quickstart): a worker, then tq call from another process', () => {
  const quickstart = join(root, 'examples', 'quickstart');
  // Both sides find the worker's memory:// broker through this socket (a default path otherwise).
  const local = { ...env, TQ_MEMORY_SOCKET: join(tmpdir(), `tq-quickstart-${randomUUID().slice(0, 8)}.sock`) };
  let worker: ChildProcess | undefined;
  afterAll(() => {
    worker?.kill('SIGKILL');
  });

  it('tq worker --app ./tasks.js; tq call tq.add --args "[2, 3]" --wait prints the id, then 5; reports.build shows its progress', async () => {
    ({ child: worker } = await startTqWorker(bin, ['--app', './tasks.js'], { cwd: quickstart, env: local }));

    const add = await runNode(bin, ['call', 'tq.add', '--args', '[2, 3]', '--wait'], { cwd: quickstart, env: local });
    expect(add.code, add.stderr).toBe(0);
    const [id, sum] = add.stdout.trim().split('\n');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(sum).toBe('5');

    const report = await runNode(bin, ['call', 'reports.build', '--args', '["q3", 3]', '--wait'], { cwd: quickstart, env: local });
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout.trim().split('\n')[1]!)).toEqual({ report: 'q3', pages: 3 });
    expect(report.stderr).toContain('SUCCESS');
  });
});
