import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createApp, type App, type TqConfig } from '../src/index.js';
import { createMemoryAdapter } from '../src/memory/index.js';

/** An app on its own memory:// namespace, with logs silenced, closed by the caller. */
export function memoryApp(config: TqConfig = {}): App {
  const name = `t${randomUUID().slice(0, 8)}`;
  return createApp({
    broker: `memory://${name}`,
    resultBackend: `memory://${name}`,
    adapters: [createMemoryAdapter()],
    logLevel: 'silent',
    ...config,
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface NodeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node script …args` to its end (killed and rejected after `timeoutMs`), output collected. */
export function runNode(script: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<NodeRun> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: options.cwd, env: options.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} timed out after ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `tq worker …args` and resolves once it consumes; its output accumulates in `log()`. */
export async function startTqWorker(bin: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(process.execPath, [bin, 'worker', ...args], { cwd: options.cwd, env: options.env });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  child.stdout.on('data', (d) => (log += d));
  const started = Date.now();
  while (!log.includes('consuming')) {
    if (child.exitCode !== null) throw new Error(`worker exited (${child.exitCode}):\n${log}`);
    if (Date.now() - started > 15_000) {
      child.kill('SIGKILL');
      throw new Error(`worker did not start within 15 s:\n${log}`);
    }
    await sleep(50);
  }
  return { child, log: () => log };
}
