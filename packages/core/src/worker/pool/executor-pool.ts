import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import { setLongTimeout, type LongTimeout } from '../../adapters/timers.js';
import { ConfigError, TimeLimitExceeded, WorkerLostError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { CancelToken } from '../cancel-token.js';
import type { RunOutcome } from '../run-task.js';
import { executorEntry, executorExecArgv, type FromExecutor, type ToExecutor } from './executor-protocol.js';
import type { ExecutorPool, Job, JobHooks } from './pool.js';
import { fromWireError } from './wire-error.js';

export interface ExecutorPoolOptions {
  readonly kind: 'threads' | 'processes';
  readonly size: number;
  /** The module exporting the app: each executor imports it to find task functions. */
  readonly appModule: string;
  /** Replace an executor after it ran this many tasks (leaks stay bounded). */
  readonly maxTasksPerChild?: number;
  /** Replace an executor whose memory (RSS for processes, heap for threads) passed this many MiB after a task. */
  readonly maxMemoryPerChildMb?: number;
  readonly logger: Logger;
}

/** One executor thread or child process, running one job at a time. */
class Executor {
  readonly #options: ExecutorPoolOptions;
  readonly #handle: Thread | ChildProcess;
  readonly ready: Promise<void>;
  #listener: ((message: FromExecutor) => void) | undefined;
  #onExit: ((reason: string) => void) | undefined;
  #exited = false;
  #terminating = false;
  tasksRun = 0;
  lastMemoryBytes = 0;

  constructor(options: ExecutorPoolOptions) {
    this.#options = options;
    const entry = executorEntry();
    this.#handle =
      options.kind === 'threads'
        ? new Thread(entry, { workerData: { appModule: options.appModule }, execArgv: executorExecArgv() })
        : fork(entry, [], { serialization: 'advanced', env: { ...process.env, TQ_EXECUTOR_APP: options.appModule }, stdio: 'inherit', execArgv: executorExecArgv() });
    const exited = (reason: string) => {
      if (this.#exited) return;
      this.#exited = true;
      this.#onExit?.(reason);
    };
    this.#handle.on('exit', (code: number | null, signal?: NodeJS.Signals | null) => exited(signal ? `killed by ${signal}` : `exited with code ${code}`));
    this.#handle.on('error', (error: Error) => exited(error.message));
    this.#handle.on('message', (message: FromExecutor) => this.#listener?.(message));
    this.ready = new Promise<void>((resolveReady, reject) => {
      this.#listener = (message) => {
        if (message.type === 'ready') resolveReady();
        else if (message.type === 'load-failed') {
          reject(new ConfigError([{ path: 'appModule', message: `the executor could not load ${options.appModule}: ${message.error.message}` }]));
          void this.terminate();
        }
      };
      this.#onExit = (reason) => reject(new WorkerLostError(`executor ${reason} before it was ready`));
    });
  }

  /** False once it exited or is being terminated: it must not get another job. */
  get alive(): boolean {
    return !this.#exited && !this.#terminating;
  }

  /** Runs one job; resolves with its outcome, or a WorkerLostError / TimeLimitExceeded / abort reason. */
  run(job: Job, hooks: JobHooks, cancel: CancelToken, jobId: number): Promise<RunOutcome> {
    return new Promise<RunOutcome>((resolveOutcome) => {
      // State writes are chained so the final record is never overtaken by a late PROGRESS.
      let writes: Promise<void> = Promise.resolve();
      let timer: LongTimeout | undefined;
      const finish = (outcome: RunOutcome) => {
        timer?.clear();
        stopListening();
        this.#listener = undefined;
        this.#onExit = undefined;
        void writes.then(() => resolveOutcome(outcome));
      };
      let stopListening = (): void => undefined;
      this.#listener = (message) => {
        if (message.type === 'state' && message.jobId === jobId) {
          writes = writes.then(() => hooks.updateState(message.state, message.meta)).catch(() => undefined);
        } else if (message.type === 'done' && message.jobId === jobId) {
          this.tasksRun++;
          this.lastMemoryBytes = message.memoryBytes;
          finish(message.ok ? { ok: true, value: message.value } : { ok: false, error: fromWireError(message.error) });
        }
      };
      this.#onExit = (reason) => finish({ ok: false, error: new WorkerLostError(`the executor running ${job.request.task}[${job.request.id}] ${reason}`) });
      const hard = job.request.timeLimit.hard ?? job.definition.options.timeLimit ?? null;
      if (hard !== null) {
        timer = setLongTimeout(() => {
          finish({ ok: false, error: new TimeLimitExceeded(hard) });
          void this.terminate();
        }, hard * 1000);
      }
      let cancelled = false;
      stopListening = cancel.onCancel((reason) => {
        cancelled = true;
        finish({ ok: false, error: reason });
        void this.terminate();
      });
      if (cancelled) return;
      const message: ToExecutor = { type: 'run', jobId, request: job.request, hostname: job.hostname };
      if (this.#handle instanceof Thread) this.#handle.postMessage(message);
      else this.#handle.send(message);
    });
  }

  needsRecycling(): boolean {
    const { maxTasksPerChild, maxMemoryPerChildMb } = this.#options;
    if (maxTasksPerChild !== undefined && this.tasksRun >= maxTasksPerChild) return true;
    return maxMemoryPerChildMb !== undefined && this.lastMemoryBytes > maxMemoryPerChildMb * 1024 * 1024;
  }

  async terminate(): Promise<void> {
    this.#terminating = true;
    if (this.#exited) return;
    if (this.#handle instanceof Thread) await this.#handle.terminate();
    else {
      const child = this.#handle;
      await new Promise<void>((done) => {
        child.once('exit', () => done());
        child.kill('SIGKILL');
      });
    }
  }
}

/**
 * The thread and process pools: `size` executors, each running one task at a time. A crashed
 * or killed executor is replaced; a hard time limit or an abort terminates the executor running
 * the job (the task is really stopped, unlike in the async pool) and a fresh one takes its place.
 */
export class ChildExecutorPool implements ExecutorPool {
  readonly kind: 'threads' | 'processes';
  readonly #options: ExecutorPoolOptions;
  readonly #idle: Executor[] = [];
  readonly #all = new Set<Executor>();
  readonly #waiting: ((executor: Executor) => void)[] = [];
  #nextJobId = 1;
  #closed = false;
  replaced = 0;

  constructor(options: ExecutorPoolOptions) {
    this.kind = options.kind;
    this.#options = { ...options, appModule: resolve(options.appModule) };
  }

  async start(): Promise<void> {
    const executors = Array.from({ length: this.#options.size }, () => this.#spawn());
    await Promise.all(executors.map((e) => e.ready));
    this.#idle.push(...executors);
  }

  #spawn(): Executor {
    const executor = new Executor(this.#options);
    this.#all.add(executor);
    executor.ready.catch(() => this.#all.delete(executor));
    return executor;
  }

  async #take(): Promise<Executor> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    return new Promise((resolveTake) => this.#waiting.push(resolveTake));
  }

  #give(executor: Executor): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(executor);
    else this.#idle.push(executor);
  }

  async run(job: Job, hooks: JobHooks, cancel: CancelToken): Promise<RunOutcome> {
    const executor = await this.#take();
    const outcome = await executor.run(job, hooks, cancel, this.#nextJobId++);
    if (this.#closed) return outcome;
    if (executor.alive && !executor.needsRecycling()) {
      this.#give(executor);
      return outcome;
    }
    // Replace a dead, terminated or worn-out executor before handing out its slot again.
    this.#all.delete(executor);
    if (executor.alive) void executor.terminate();
    else if (outcome.ok === false && outcome.error instanceof WorkerLostError) this.#options.logger.warn(outcome.error.message);
    this.replaced++;
    void this.#replace();
    return outcome;
  }

  async #replace(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      const fresh = this.#spawn();
      try {
        await fresh.ready;
        if (this.#closed) return void fresh.terminate();
        this.#give(fresh);
        return;
      } catch (error) {
        this.#options.logger.error(`could not start a replacement executor: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#all].map((e) => e.terminate()));
    this.#all.clear();
  }
}

