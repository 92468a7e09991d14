import type { TaskRequest } from '../../protocol/message.js';
import type { TaskStateName } from '../../result/states.js';
import type { TaskDefinition } from '../../task.js';
import type { CancelToken } from '../cancel-token.js';
import { runTask, type RunOutcome } from '../run-task.js';

export type { RunOutcome } from '../run-task.js';

export type PoolKind = 'async' | 'threads' | 'processes';

export interface Job {
  readonly definition: TaskDefinition;
  readonly request: TaskRequest;
  readonly hostname: string;
}

export interface JobHooks {
  /** Record a state reported by the running task (ctx.updateState). */
  updateState(state: TaskStateName, meta?: unknown): Promise<void>;
}

/**
 * Where tasks run. The worker never runs more than `size` jobs at once. `run` resolves with the
 * task's outcome; cancelling `cancel` (forced shutdown, revoke with terminate) ends the job at
 * once — in the thread and process pools by terminating its executor, which is replaced.
 */
export interface ExecutorPool {
  readonly kind: PoolKind;
  start(): Promise<void>;
  run(job: Job, hooks: JobHooks, cancel: CancelToken): Promise<RunOutcome>;
  close(): Promise<void>;
}

/** Runs tasks on this process's event loop: the default, best for I/O-bound tasks. */
export class AsyncPool implements ExecutorPool {
  readonly kind = 'async' as const;

  async start(): Promise<void> {}

  run(job: Job, hooks: JobHooks, cancel: CancelToken): Promise<RunOutcome> {
    return runTask({ definition: job.definition, request: job.request, hostname: job.hostname, cancel, updateState: hooks.updateState, enforceHardLimit: true });
  }

  async close(): Promise<void> {}
}
