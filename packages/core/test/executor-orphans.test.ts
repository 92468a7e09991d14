import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from './helpers.js';

// The worker runs in a child of the test (built @tq/core, as executors load it), so the test
// can SIGKILL it as an orchestrator or the OOM killer would.
const workerScript = fileURLToPath(new URL('./fixtures/orphan-worker.mjs', import.meta.url));

const children: ChildProcess[] = [];
const dirs: string[] = [];
const pids: number[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Running (a zombie waiting for a reaper that never comes, in a container, counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids of `parent`'s children, from /proc. */
function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);

describe.skipIf(process.platform !== 'linux')('processes pool executors die with their worker', () => {
  for (const task of ['orphan.tick', 'orphan.spin']) {
    it(`SIGKILL of the worker: the executor running ${task} and the idle one exit within 2 s, and the task's writes stop`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tq-orphans-'));
      dirs.push(dir);
      const file = join(dir, 'ticks');
      const worker = spawn(process.execPath, [workerScript, task, file], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(worker);
      await until(() => lines(file).length >= 3, 20_000, 'the task to write');
      const executors = childrenOf(worker.pid!);
      pids.push(...executors);
      expect(executors.length).toBe(2);
      const running = Number(lines(file)[0]!.split(' ')[0]);
      expect(executors).toContain(running);

      worker.kill('SIGKILL');
      await until(() => executors.every((pid) => !alive(pid)), 2000, `executors ${executors.join(', ')} to exit`).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; still alive: ${executors.filter(alive).join(', ')}`);
      });
      const after = lines(file).length;
      await sleep(500);
      expect(lines(file).length, 'the task still writes after its worker died').toBe(after);
    }, 30_000);
  }
});
