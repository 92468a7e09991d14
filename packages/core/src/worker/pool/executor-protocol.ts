import type { TaskRequest } from '../../protocol/message.js';
import type { WireError } from './wire-error.js';

/** Messages between the worker and an executor thread or child process. */
export type ToExecutor = { readonly type: 'run'; readonly jobId: number; readonly request: TaskRequest; readonly hostname: string };

export type FromExecutor =
  | { readonly type: 'ready' }
  | { readonly type: 'load-failed'; readonly error: WireError }
  | { readonly type: 'state'; readonly jobId: number; readonly state: string; readonly meta: unknown }
  | { readonly type: 'done'; readonly jobId: number; readonly ok: true; readonly value: unknown; readonly memoryBytes: number }
  | { readonly type: 'done'; readonly jobId: number; readonly ok: false; readonly error: WireError; readonly memoryBytes: number };

/** Where the executor entry point is, for both the built package and its TypeScript sources under test. */
export function executorEntry(): URL {
  const here = new URL('./executor-main.js', import.meta.url);
  // Under Vitest the sources run from src/*.ts; executors need the built JavaScript.
  return here.pathname.includes('/src/worker/pool/') && import.meta.url.endsWith('.ts')
    ? new URL(here.href.replace('/src/worker/pool/', '/dist/worker/pool/'))
    : here;
}

/**
 * The parent's Node flags minus the "@tq/source" export condition, which only this repository's
 * tests set: executors load the built JavaScript, never the TypeScript sources.
 */
export function executorExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((arg === '--conditions' || arg === '-C') && argv[i + 1] === '@tq/source') i++;
    else if (arg !== '--conditions=@tq/source') out.push(arg);
  }
  return out;
}
