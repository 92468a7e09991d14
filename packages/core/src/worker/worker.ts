import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import type { App } from '../app.js';
import type { Delivery } from '../broker/broker.js';
import type { RuntimeBroker } from '../broker/runtime-broker.js';
import { MessageDecodeError, PayloadTooLargeError, TaskRevokedError, TqError, UnknownTaskError } from '../errors.js';
import type { Logger } from '../logger.js';
import { decodeTaskMessage } from '../protocol/decode.js';
import { requestToCall } from '../protocol/encode.js';
import type { TaskRequest } from '../protocol/message.js';
import { Ignore, Reject, Retry } from '../task-signals.js';
import type { TaskDefinition } from '../task.js';
import { ResultWriter, traceback } from './result-writer.js';
import { backoffSeconds, shouldAutoretry } from './retry.js';
import { runTask } from './run-task.js';
import { Slots } from './slots.js';

export interface WorkerOptions {
  /** Queues to consume. Default: [config.defaultQueue]. */
  readonly queues?: readonly string[];
  /** Tasks run at once. Default: the number of CPUs (at least 2). */
  readonly concurrency?: number;
  /** Unacked messages reserved per queue = concurrency × this. Default 4 (Celery's). */
  readonly prefetchMultiplier?: number;
  /** Name in records and events. Default: `${pid}@${config.hostname}`. */
  readonly hostname?: string;
  readonly logger?: Logger;
}

/** What the worker emits, for live status displays and Celery-format events. */
export interface WorkerEvents {
  'task-received': [{ id: string; name: string; args: readonly unknown[]; kwargs: Readonly<Record<string, unknown>>; retries: number; eta: Date | null; queue: string }];
  'task-started': [{ id: string; name: string }];
  'task-progress': [{ id: string; name: string; state: string; meta: unknown }];
  'task-succeeded': [{ id: string; name: string; result: unknown; runtimeMs: number }];
  'task-failed': [{ id: string; name: string; error: unknown; traceback: string | null; runtimeMs: number }];
  'task-retried': [{ id: string; name: string; reason: unknown; countdown: number; retries: number }];
  'task-rejected': [{ id: string | null; name: string | null; queue: string; reason: string; error: unknown }];
  'task-revoked': [{ id: string; name: string; reason: string }];
  'worker-online': [{ hostname: string; queues: readonly string[]; concurrency: number }];
  'worker-offline': [{ hostname: string }];
}

interface Active {
  readonly delivery: Delivery;
  readonly controller: AbortController;
  /** Set when a forced stop gave the message back: the run's outcome is then discarded. */
  abandoned: boolean;
}

/**
 * Consumes queues and runs tasks with bounded concurrency. Acks after the task finishes
 * (acksLate, the default) so a crash redelivers; records STARTED/PROGRESS/SUCCESS/FAILURE;
 * rejects malformed messages and unknown tasks with a logged reason and keeps going.
 * stop() stops taking, finishes in-flight work; stop({force: true}) gives it back to the queue.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly app: App;
  readonly queues: readonly string[];
  readonly concurrency: number;
  readonly prefetch: number;
  readonly hostname: string;
  readonly #logger: Logger;
  readonly #slots: Slots;
  readonly #consumeController = new AbortController();
  readonly #active = new Set<Active>();
  readonly #scheduled = new Map<Delivery, NodeJS.Timeout>();
  readonly #loops: Promise<void>[] = [];
  #writer: ResultWriter | undefined;
  #broker: RuntimeBroker | undefined;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #stopped: Promise<void> | undefined;
  readonly stats = { received: 0, succeeded: 0, failed: 0, retried: 0, rejected: 0, revoked: 0 };

  constructor(app: App, options: WorkerOptions = {}) {
    super();
    this.app = app;
    this.queues = options.queues?.length ? [...options.queues] : [app.config.defaultQueue];
    this.concurrency = options.concurrency ?? Math.max(2, availableParallelism());
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new TqError('TQ_CONFIG_INVALID', `concurrency must be a positive integer, got ${options.concurrency}`);
    this.prefetch = this.concurrency * (options.prefetchMultiplier ?? 4);
    this.hostname = options.hostname ?? `${process.pid}@${app.config.hostname}`;
    this.#logger = options.logger ?? app.logger;
    this.#slots = new Slots(this.concurrency);
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active.size;
  }

  /** Connects and starts consuming; resolves once consumers are set up. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new TqError('TQ_CLOSED', 'a worker can be started once');
    this.#state = 'running';
    const [broker, backend] = await Promise.all([this.app.broker(), this.app.backend()]);
    this.#broker = broker;
    this.#writer = new ResultWriter(backend, { ttlMs: this.app.config.resultTtlMs, logger: this.#logger, hostname: this.hostname });
    for (const queue of this.queues) this.#loops.push(this.#consumeLoop(broker, queue));
    this.#logger.info(`worker ${this.hostname} consuming [${this.queues.join(', ')}] with concurrency ${this.concurrency}`, {
      tasks: [...this.app.tasks.keys()],
    });
    this.emit('worker-online', { hostname: this.hostname, queues: this.queues, concurrency: this.concurrency });
  }

  async #consumeLoop(broker: RuntimeBroker, queue: string): Promise<void> {
    const signal = this.#consumeController.signal;
    try {
      const iterator = broker.consume(queue, { prefetch: this.prefetch, signal })[Symbol.asyncIterator]();
      while (!signal.aborted) {
        // Pull the next delivery only when an executor slot is free: back-pressure.
        if (!(await this.#slots.acquire(signal))) break;
        const next = await iterator.next();
        if (next.done) {
          this.#slots.release();
          break;
        }
        this.#handle(next.value, queue).catch((error: unknown) => this.#logger.error(`internal error handling a delivery from ${queue}: ${(error as Error).stack ?? String(error)}`));
      }
      await iterator.return?.();
    } catch (error) {
      if (signal.aborted) return;
      this.#logger.error(`consuming ${queue} stopped: ${(error as Error).message}; stopping the worker`);
      void this.stop();
    }
  }

  /** Owns one slot from the consume loop; releases it when the delivery no longer needs it. */
  async #handle(delivery: Delivery, queue: string): Promise<void> {
    this.stats.received++;
    let request: TaskRequest;
    let definition: TaskDefinition;
    try {
      const size = delivery.message.body.byteLength;
      if (size > this.app.config.maxPayloadBytes) throw new PayloadTooLargeError(size, this.app.config.maxPayloadBytes);
      request = decodeTaskMessage(delivery.message, this.app.serializers);
      const found = this.app.tasks.get(request.task);
      if (!found) throw new UnknownTaskError(request.task, [...this.app.tasks.keys()]);
      definition = found;
    } catch (error) {
      await this.#rejectBadMessage(delivery, queue, error);
      this.#slots.release();
      return;
    }
    this.emit('task-received', { id: request.id, name: request.task, args: request.args, kwargs: request.kwargs, retries: request.retries, eta: request.eta, queue });

    if (request.expires && request.expires.getTime() <= Date.now()) {
      await this.#revoke(delivery, request, 'expired');
      this.#slots.release();
      return;
    }
    const wait = request.eta ? request.eta.getTime() - Date.now() : 0;
    if (wait > 0) {
      // Hold the ETA task without occupying an executor slot.
      this.#slots.release();
      this.#schedule(delivery, request, definition, queue, wait);
      return;
    }
    try {
      await this.#execute(delivery, request, definition, queue);
    } finally {
      this.#slots.release();
    }
  }

  #schedule(delivery: Delivery, request: TaskRequest, definition: TaskDefinition, queue: string, waitMs: number): void {
    const timer = setTimeout(async () => {
      this.#scheduled.delete(delivery);
      if (!(await this.#slots.acquire())) return;
      if (this.#state !== 'running') {
        this.#slots.release();
        await delivery.reject(true);
        return;
      }
      try {
        if (request.expires && request.expires.getTime() <= Date.now()) await this.#revoke(delivery, request, 'expired');
        else await this.#execute(delivery, request, definition, queue);
      } finally {
        this.#slots.release();
      }
    }, waitMs);
    this.#scheduled.set(delivery, timer);
  }

  async #execute(delivery: Delivery, request: TaskRequest, definition: TaskDefinition, queue: string): Promise<void> {
    const writer = this.#writer!;
    const acksLate = definition.options.acksLate ?? true;
    if (!acksLate) await this.#settle(delivery, 'ack');
    const active: Active = { delivery, controller: new AbortController(), abandoned: false };
    this.#active.add(active);
    const started = performance.now();
    this.emit('task-started', { id: request.id, name: request.task });
    await writer.started(request);
    const outcome = await runTask({
      definition,
      request,
      hostname: this.hostname,
      signal: active.controller.signal,
      updateState: async (state, meta) => {
        if (active.abandoned) return;
        this.emit('task-progress', { id: request.id, name: request.task, state, meta });
        await writer.write(request, state, meta);
      },
    });
    this.#active.delete(active);
    if (active.abandoned) return;
    const runtimeMs = performance.now() - started;

    if (outcome.ok) {
      await writer.success(request, outcome.value);
      this.stats.succeeded++;
      this.emit('task-succeeded', { id: request.id, name: request.task, result: outcome.value, runtimeMs });
      await this.#settle(delivery, 'ack');
      return;
    }
    const error = outcome.error;
    if (error instanceof Ignore) {
      await this.#settle(delivery, 'ack');
      return;
    }
    if (error instanceof Reject) {
      this.stats.rejected++;
      this.emit('task-rejected', { id: request.id, name: request.task, queue, reason: error.message, error });
      await this.#settle(delivery, error.requeue ? 'requeue' : 'dead');
      return;
    }
    const maxRetries = definition.options.maxRetries ?? 3;
    const retry = error instanceof Retry ? error : shouldAutoretry(definition.options, error) && request.retries < maxRetries ? new Retry(backoffSeconds(definition.options, request.retries), error) : undefined;
    if (retry) {
      try {
        await this.app.publishCall(queue, requestToCall(request, { retries: request.retries + 1, eta: new Date(Date.now() + retry.countdown * 1000) }));
      } catch (publishError) {
        // The retry could not be sent: give the original back so it is not lost.
        this.#logger.error(`retry of ${request.task}[${request.id}] could not be published: ${(publishError as Error).message}; requeueing`);
        await this.#settle(delivery, 'requeue');
        return;
      }
      await writer.retry(request, retry.reason);
      this.stats.retried++;
      this.emit('task-retried', { id: request.id, name: request.task, reason: retry.reason, countdown: retry.countdown, retries: request.retries + 1 });
      await this.#settle(delivery, 'ack');
      return;
    }
    this.stats.failed++;
    await writer.failure(request, error);
    this.#logger.warn(`task ${request.task}[${request.id}] failed: ${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`);
    this.emit('task-failed', { id: request.id, name: request.task, error, traceback: traceback(error), runtimeMs });
    await this.#settle(delivery, 'ack');
  }

  async #revoke(delivery: Delivery, request: TaskRequest, reason: string): Promise<void> {
    this.stats.revoked++;
    await this.#writer!.revoked(request, reason);
    this.emit('task-revoked', { id: request.id, name: request.task, reason });
    await this.#settle(delivery, 'ack');
  }

  /** A message no task can run: say why, record the failure if its id is readable, dead-letter it. */
  async #rejectBadMessage(delivery: Delivery, queue: string, error: unknown): Promise<void> {
    this.stats.rejected++;
    const headers = delivery.message.headers ?? {};
    const id = typeof headers['id'] === 'string' ? headers['id'] : null;
    const name = typeof headers['task'] === 'string' ? headers['task'] : null;
    const reason = (error as Error).message;
    this.#logger.warn(`rejected a message from ${queue}${id ? ` (task ${name}[${id}])` : ''}: ${reason}`);
    this.emit('task-rejected', { id, name, queue, reason, error });
    if (id && !(error instanceof MessageDecodeError)) {
      // The sender may be waiting on get(): give it the reason instead of a timeout.
      await this.#writer!.failure({ id, ignoreResult: false, properties: delivery.message.properties }, error);
    }
    await this.#settle(delivery, 'dead');
  }

  async #settle(delivery: Delivery, how: 'ack' | 'requeue' | 'dead'): Promise<void> {
    try {
      if (how === 'ack') await delivery.ack();
      else await delivery.reject(how === 'requeue');
    } catch (error) {
      // The broker will redeliver an unsettled message: at-least-once, never lost.
      this.#logger.warn(`could not ${how} a delivery: ${(error as Error).message}`);
    }
  }

  /**
   * Stop taking messages. Graceful (default): wait for running tasks, give back held ETA tasks.
   * force: abort running tasks and give their messages back to the queue at once.
   */
  stop(options: { force?: boolean } = {}): Promise<void> {
    if (options.force) this.#forceStop();
    if (this.#stopped) return this.#stopped;
    this.#state = 'stopping';
    this.#stopped = (async () => {
      this.#consumeController.abort();
      for (const [delivery, timer] of this.#scheduled) {
        clearTimeout(timer);
        await this.#settle(delivery, 'requeue');
      }
      this.#scheduled.clear();
      await Promise.allSettled(this.#loops);
      while (this.#active.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      this.#state = 'stopped';
      this.emit('worker-offline', { hostname: this.hostname });
      this.#logger.info(`worker ${this.hostname} stopped`, { ...this.stats });
    })();
    return this.#stopped;
  }

  #forceStop(): void {
    for (const active of this.#active) {
      if (active.abandoned) continue;
      active.abandoned = true;
      active.controller.abort(new TaskRevokedError(active.delivery.message.headers['id'] as string, 'terminated by a forced worker shutdown'));
      void this.#settle(active.delivery, 'requeue');
    }
    this.#active.clear();
  }

  /**
   * SIGTERM/SIGINT: the first stops gracefully, the second forces. Returns a function that
   * removes the handlers. `onStopped` runs after the stop completes (the CLI exits there).
   */
  installSignalHandlers(onStopped: (signal: NodeJS.Signals) => void = () => undefined): () => void {
    let count = 0;
    const handler = (signal: NodeJS.Signals) => {
      count++;
      if (count === 1) {
        this.#logger.info(`${signal}: finishing ${this.active} running task(s); send ${signal} again to stop now and requeue them`);
        void this.stop().then(() => onStopped(signal));
      } else {
        this.#logger.warn(`${signal} again: stopping now, unfinished tasks go back to the queue`);
        void this.stop({ force: true }).then(() => onStopped(signal));
      }
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
    return () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    };
  }
}

