import { EventEmitter } from 'node:events';
import { startOutboxRelay } from '../producer/transactional.js';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { App } from '../app.js';
import { isConnectionError } from '../adapters/retry-policy.js';
import { setLongTimeout, type LongTimeout } from '../adapters/timers.js';
import { decideEta, etaHorizonOf } from './eta-horizon.js';
import type { Consumer, Delivery } from '../broker/broker.js';
import type { RuntimeBroker } from '../broker/runtime-broker.js';
import { chooseBroadcastBus } from '../control/broadcast-bus.js';
import { EventDispatcher, workerEventFields } from '../events/task-events.js';
import { ConfigError, isTqError, PayloadTooLargeError, TaskRevokedError, TqError, UnknownTaskError, WorkerLostError } from '../errors.js';
import { instrumentRun } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { decodeTaskMessage } from '../protocol/decode.js';
import { requestToCall } from '../protocol/encode.js';
import { exceptionRepr, valueRepr } from '../protocol/repr.js';
import type { TaskRequest } from '../protocol/message.js';
import { decodeRecord } from '../result/record.js';
import { TaskState } from '../result/states.js';
import { Ignore, Reject, Retry } from '../task-signals.js';
import type { RuntimeBackend } from '../backend/runtime-backend.js';
import type { TaskDefinition } from '../task.js';
import { coreVersion } from '../version.js';
import { afterFailureRecorded, afterSuccessRecorded, applySuccessors, hasCanvas, markChainFailed } from '../canvas/successors.js';
import { CancelToken } from './cancel-token.js';
import { deadLetter } from './dead-letter.js';
import { PauseWatch } from '../queues/pause-watch.js';
import { LeaseKeeper } from './lease.js';
import { ChildExecutorPool } from './pool/executor-pool.js';
import { AsyncPool, type ExecutorPool, type PoolKind, type RunOutcome } from './pool/pool.js';
import { parseRate, RateLimiter } from './rate-limit.js';
import { applyRetention, warnUnenforcedRetention } from './retention.js';
import { ConsumeWatchdog, consumerStallOf, type ConsumerStall, type ConsumerWatch } from './consume-watchdog.js';
import { assertClusterRateLimits, reserveClusterToken } from './cluster-rate-limit.js';
import { ResultWriter, traceback, type ResultRetryOptions } from './result-writer.js';
import { backoffSeconds, shouldAutoretry } from './retry.js';
import { listenForRemoteControl, type ControlledWorker, type HeldTask } from './remote-control.js';
import { turnOffPretenuring } from './pretenuring.js';
import { makeTierUpEager } from './tier-up.js';
import { RevokedSet } from './revoked.js';
import { RunOnceGate, runOnceNonce } from './run-once.js';
import { Slots } from './slots.js';
import { signalNumber } from './signal-number.js';
import { InFlightMap } from '../broker/in-flight.js';

export interface WorkerOptions {
  /** Queues to consume. Default: [config.defaultQueue]. */
  readonly queues?: readonly string[];
  /** Tasks run at once. Default: the number of CPUs (at least 2). */
  readonly concurrency?: number;
  /**
   * Unacked messages reserved per queue = concurrency × this (running tasks included, as
   * Celery with acks_late). Default 4 (Celery's). Higher takes bigger batches per round trip
   * (a Redis drain of short tasks at c=10: +10 % at 5, +15–25 % at 8; docs/benchmarks.md) at
   * the cost of tasks other workers cannot take while this one holds them.
   */
  readonly prefetchMultiplier?: number;
  /** Name in records and events. Default: `${pid}@${config.hostname}`. */
  readonly hostname?: string;
  readonly logger?: Logger;
  /**
   * Where tasks run: 'async' (this event loop; default), 'threads' (worker threads) or
   * 'processes' (child processes). Threads and processes need `appModule`.
   */
  readonly pool?: PoolKind;
  /** The module that exports the app, imported by each thread/process executor. */
  readonly appModule?: string | URL;
  /** Replace a thread/process executor after this many tasks. */
  readonly maxTasksPerChild?: number;
  /** Replace a thread/process executor whose memory passed this many MiB after a task. */
  readonly maxMemoryPerChildMb?: number;
  /** Publish Celery-format task and worker events (needs a broadcast-capable broker). Default false. */
  readonly events?: boolean;
  /** Worker heartbeat event interval when events are on. Default 2000 ms (Celery's). */
  readonly heartbeatIntervalMs?: number;
  /** A task delivered this many times without finishing (its executor keeps dying) is dead-lettered. Default 3. */
  readonly poisonThreshold?: number;
  /** Answer remote control (revoke, ping, inspect) when the broker can broadcast. Default true. */
  readonly control?: boolean;
  /**
   * How long an outcome record (SUCCESS, FAILURE, REVOKED) is retried while the worker holds
   * the task's message and keeps its lease; past `limitMs` the message is given back for
   * redelivery, never acked without its record. Default { limitMs: 300000, initialDelayMs: 200,
   * maxDelayMs: 5000 }. See docs/guarantees.md.
   */
  readonly resultRetry?: ResultRetryOptions;
  /**
   * The time box of a graceful stop (stop(), first SIGTERM/SIGINT): running tasks and their
   * outcome records get this long, then the stop turns forced (their messages go back to the
   * queue, as on a second signal). Default: none, wait for them (Celery's warm shutdown).
   * Prefetched tasks that have not started go back at once either way.
   */
  readonly shutdownTimeoutMs?: number;
  /**
   * The consuming watchdog (consume-watchdog.ts): a queue's consumer that waits this long for a
   * delivery while the broker counts ready messages in its queue, not falling, is restarted and
   * a warning logged. Needs capabilities.queueStats. 0 turns it off. Default 60000 ms.
   */
  readonly consumerStallMs?: number;
  /** How often the pause state of the consumed queues is read (app.queues.pause), in ms. Default 1000. */
  readonly pauseCheckMs?: number;
  /**
   * The longest a countdown/ETA task is held in this worker's memory; one due later goes back to
   * the broker's delay mechanism when the broker has one (capabilities.delayedDelivery).
   * Default 5000 ms. See eta-horizon.ts.
   */
  readonly etaHorizonMs?: number;
  /**
   * Leave V8's allocation-site pretenuring on in this process. Default false: start() turns it
   * off for the whole process, since with it a worker's per-delivery objects can end up in the
   * old space (pretenuring.ts: a drain where they did ran 20–30 % slower). True for a process
   * whose other work relies on it.
   */
  readonly v8Pretenuring?: boolean;
  /**
   * Leave V8's tier-up at its default pace in this process. Default false: start() makes it
   * eager for the whole process, so the code a worker runs once per batch of tasks is optimized
   * after thousands of tasks rather than tens of thousands (tier-up.ts). True for a process whose
   * other code was measured to do better with V8's default.
   */
  readonly v8DefaultTierUp?: boolean;
}

/** What the worker emits, for live status displays and tests. */
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
  /** The consuming watchdog restarted a stalled consumer. */
  'consumer-restarted': [ConsumerStall];
}

interface Active {
  readonly request: TaskRequest;
  readonly delivery: Delivery;
  readonly queue: string;
  readonly cancel: CancelToken;
  readonly startedAt: number;
  /** Set when a forced stop gave the message back: the run's outcome is then discarded. */
  abandoned: boolean;
  /** Set when the run has an outcome (or was terminated): later updateState calls of a task that ignores its signal are dropped, so they cannot replace the outcome record. */
  settled: boolean;
}

interface Held {
  readonly request: TaskRequest;
  readonly queue: string;
  readonly timer: LongTimeout;
  readonly stopLease: () => void;
  readonly reason: 'eta' | 'rate-limit';
}

/**
 * Consumes queues and runs tasks with bounded concurrency in a pool. Acks after the task
 * finishes (acksLate, the default) so a crash redelivers; keeps leases alive while it holds a
 * delivery; records STARTED/PROGRESS/RETRY/SUCCESS/FAILURE/REVOKED; dead-letters what cannot
 * run with the reason, and keeps going. stop() stops taking and finishes in-flight work;
 * stop({force: true}) gives unfinished work back to the queue.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly app: App;
  readonly #prefetchMultiplier: number;
  readonly hostname: string;
  readonly pool: ExecutorPool;
  readonly #options: WorkerOptions;
  readonly #logger: Logger;
  readonly #slots: Slots;
  readonly #etaHorizonMs: number;
  readonly #consumeController = new AbortController();
  readonly #configuredQueues: readonly string[];
  /** One per consumed queue: aborting it cancels that queue's consumer only. */
  readonly #queueStops = new Map<string, AbortController>();
  readonly #active = new InFlightMap<Delivery, Active>();
  readonly #held = new InFlightMap<Delivery, Held>();
  readonly #heldCount = new Map<string, number>();
  /** No broadcast bus (broker or backend) but a backend: read revocations from it before each task. */
  #revocationsInBackend = false;
  /** Tasks of each queue that succeeded and wait for their SUCCESS record before their ack. */
  readonly #recordingCount = new Map<string, number>();
  readonly #consumers = new Map<string, Consumer>();
  readonly #loops: Promise<void>[] = [];
  readonly #revoked = new RevokedSet();
  /** Tasks received per name (Celery's stats "total"). */
  readonly #totals = new Map<string, number>();
  #startedAt = Date.now();
  readonly #rateLimiter = new RateLimiter();
  /** For retention (keepResults); null when results are disabled. */
  #backend: RuntimeBackend | null = null;
  readonly #lostRuns = new Map<string, number>();
  readonly #cleanups: (() => void)[] = [];
  #pauses: PauseWatch | undefined;
  readonly #consumerStallMs: number;
  #watchdog = new ConsumeWatchdog(null);
  /** Outcomes being recorded and acked in the background (see #track). */
  #finishing = 0;
  readonly #finishingIdle: (() => void)[] = [];
  #writer!: ResultWriter;
  #runOnce!: RunOnceGate;
  #broker!: RuntimeBroker;
  #events!: EventDispatcher;
  #leases!: LeaseKeeper;
  #heartbeat: NodeJS.Timeout | undefined;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #stopped: Promise<void> | undefined;
  readonly stats = { received: 0, succeeded: 0, failed: 0, retried: 0, rejected: 0, revoked: 0 };

  constructor(app: App, options: WorkerOptions = {}) {
    super();
    this.app = app;
    this.#options = options;
    this.#configuredQueues = options.queues?.length ? [...options.queues] : [app.config.defaultQueue];
    const concurrency = options.concurrency ?? Math.max(2, availableParallelism());
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ConfigError([{ path: 'concurrency', message: `expected a positive integer, got ${options.concurrency}` }]);
    }
    this.#prefetchMultiplier = options.prefetchMultiplier ?? 4;
    if (!Number.isInteger(this.#prefetchMultiplier) || this.#prefetchMultiplier < 1) {
      throw new ConfigError([{ path: 'prefetchMultiplier', message: `expected a positive integer, got ${options.prefetchMultiplier}` }]);
    }
    this.hostname = options.hostname ?? `${process.pid}@${app.config.hostname}`;
    this.#logger = options.logger ?? app.logger;
    this.#slots = new Slots(concurrency);
    this.#etaHorizonMs = etaHorizonOf(options.etaHorizonMs);
    this.#consumerStallMs = consumerStallOf(options.consumerStallMs);
    this.pool = this.#createPool(options);
  }

  #createPool(options: WorkerOptions): ExecutorPool {
    const kind = options.pool ?? 'async';
    if (kind === 'async') return new AsyncPool();
    if (kind !== 'threads' && kind !== 'processes') throw new ConfigError([{ path: 'pool', message: `expected async, threads or processes, got "${kind}"` }]);
    if (!options.appModule) {
      throw new ConfigError([{ path: 'appModule', message: `the ${kind} pool imports your app in each executor: pass appModule (e.g. new URL('./tasks.js', import.meta.url))` }]);
    }
    const appModule = options.appModule instanceof URL ? fileURLToPath(options.appModule) : options.appModule;
    return new ChildExecutorPool({
      kind,
      size: this.concurrency,
      appModule,
      logger: this.#logger,
      ...(options.maxTasksPerChild !== undefined ? { maxTasksPerChild: options.maxTasksPerChild } : {}),
      ...(options.maxMemoryPerChildMb !== undefined ? { maxMemoryPerChildMb: options.maxMemoryPerChildMb } : {}),
    });
  }

  /** 'running' between start() and stop(); health checks read it. */
  get state(): 'new' | 'running' | 'stopping' | 'stopped' {
    return this.#state;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active.size;
  }

  /** Connects, starts the pool and the consumers; resolves once they are set up. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new TqError('TQ_CLOSED', 'a worker can be started once');
    this.#state = 'running';
    this.#startedAt = Date.now();
    // Before the first delivery is decoded: V8 decides what to pretenure from the first scavenges.
    if (!this.#options.v8Pretenuring) turnOffPretenuring();
    if (!this.#options.v8DefaultTierUp) makeTierUpEager();
    const [broker, backend] = await Promise.all([this.app.broker(), this.app.backend(), this.pool.start()]);
    assertClusterRateLimits(this.app, backend ? backend.capabilities : null);
    warnUnenforcedRetention(this.app, backend ? backend.capabilities : null, this.#logger);
    this.#broker = broker;
    this.#backend = backend;
    const bus = chooseBroadcastBus(broker, backend);
    // Without a broadcast bus, revocations reach the worker only as REVOKED records in the backend.
    this.#revocationsInBackend = bus === null && backend !== null;
    this.#writer = new ResultWriter(backend, {
      ttlMs: this.app.config.resultTtlMs,
      logger: this.#logger,
      hostname: this.hostname,
      extended: this.app.config.resultExtended,
      ...(this.#options.resultRetry ? { retry: this.#options.resultRetry } : {}),
    });
    this.#runOnce = new RunOnceGate(backend, this.app.config.resultTtlMs, this.#logger);
    this.#events = new EventDispatcher(bus, { enabled: this.#options.events ?? false, hostname: this.hostname, logger: this.#logger });
    this.#leases = new LeaseKeeper(broker.capabilities, this.#logger);
    // Without counts the watchdog cannot tell an idle queue from a stalled consumer: it stays off.
    const countable = this.#consumerStallMs > 0 && broker.capabilities.queueStats && broker.queueStats !== undefined;
    const watchdog = new ConsumeWatchdog(
      countable ? { stallMs: this.#consumerStallMs, stats: (queue) => broker.queueStats!(queue), logger: this.#logger, onRestart: (stall) => this.emit('consumer-restarted', stall) } : null,
    );
    this.#watchdog = watchdog;
    this.#cleanups.push(() => watchdog.stop());
    this.#cleanups.push(() => this.#leases.stop());
    if ((this.#options.control ?? true) && bus) {
      const controller = new AbortController();
      this.#cleanups.push(() => controller.abort());
      listenForRemoteControl(bus, this.#controlled(), this.#logger, controller.signal);
    }
    const stopRelay = startOutboxRelay(this.app.config.outbox, (queue, message) => broker.publish(queue, message), this.#logger);
    if (stopRelay) this.#cleanups.push(stopRelay);
    if (backend) {
      // Paused queues (app.queues.pause) are not consumed, now or after a restart.
      const pauses = new PauseWatch(backend, this.#configuredQueues, this, this.#logger);
      this.#pauses = pauses;
      this.#cleanups.push(() => pauses.stop());
      await pauses.start(this.#options.pauseCheckMs ?? 1000);
    } else for (const queue of this.#configuredQueues) this.addQueue(queue);
    this.#logger.info(`worker ${this.hostname} consuming [${this.queues.join(', ')}] with ${this.pool.kind} pool of ${this.concurrency}`, {
      tasks: [...this.app.tasks.keys()],
    });
    this.emit('worker-online', { hostname: this.hostname, queues: this.queues, concurrency: this.concurrency });
    this.#setEvents(this.#events.enabled);
  }

  /** Events on (worker-online, then a heartbeat every 2 s) or off (worker-offline), at start or by remote control. */
  #setEvents(enabled: boolean): void {
    if (enabled) {
      this.#events.enabled = true;
      this.#events.send('worker-online', this.#workerInfo());
      if (this.#heartbeat) return;
      this.#heartbeat = setInterval(() => this.#events.send('worker-heartbeat', this.#workerInfo()), this.#options.heartbeatIntervalMs ?? 2000);
      this.#heartbeat.unref();
    } else {
      this.#events.send('worker-offline', this.#workerInfo());
      this.#events.enabled = false;
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  #workerInfo(): Record<string, unknown> {
    return workerEventFields({
      freqSeconds: (this.#options.heartbeatIntervalMs ?? 2000) / 1000,
      active: this.#active.size,
      processed: this.stats.succeeded + this.stats.failed,
      swVersion: coreVersion,
    });
  }

  /**
   * Pulls deliveries from one queue while the worker runs. When the stream fails or ends (the
   * broker restarted, the connection died), it consumes again with backoff: a worker outlives
   * broker outages instead of stopping.
   */
  /** Tasks run at once: the pool size (pool_grow/pool_shrink change it on the async pool). */
  get concurrency(): number {
    return this.#slots.size;
  }

  /** Unacked messages reserved per queue: concurrency × prefetchMultiplier. */
  get prefetch(): number {
    return this.concurrency * this.#prefetchMultiplier;
  }

  /**
   * Resizes the async pool (Celery's pool_grow/pool_shrink) and the prefetch windows with it;
   * false for thread and process pools, whose executors are started up front.
   */
  resizePool(concurrency: number): boolean {
    if (this.pool.kind !== 'async' || !Number.isInteger(concurrency) || concurrency < 1) return false;
    this.#slots.resize(concurrency);
    for (const queue of this.#consumers.keys()) this.#resizePrefetch(queue);
    return true;
  }

  /** Queues consumed now (the configured ones until start; remote control may add or cancel). */
  get queues(): readonly string[] {
    return this.#state === 'new' ? this.#configuredQueues : [...this.#queueStops.keys()];
  }

  /** Starts consuming `queue` as well (Celery's add_consumer); false when already consuming it. */
  addQueue(queue: string): boolean {
    if (this.#state !== 'running' || this.#queueStops.has(queue)) return false;
    const stop = new AbortController();
    this.#queueStops.set(queue, stop);
    this.#loops.push(this.#consumeLoop(this.#broker, queue, AbortSignal.any([this.#consumeController.signal, stop.signal])));
    return true;
  }

  /**
   * Stops consuming `queue` (Celery's cancel_consumer): what was prefetched and not started goes
   * back to the broker; tasks already running or held finish. False when not consuming it.
   */
  cancelQueue(queue: string): boolean {
    const stop = this.#queueStops.get(queue);
    if (!stop) return false;
    this.#queueStops.delete(queue);
    this.#consumers.delete(queue);
    stop.abort();
    return true;
  }

  async #consumeLoop(broker: RuntimeBroker, queue: string, signal: AbortSignal): Promise<void> {
    const watch = this.#watchdog.watch(queue);
    try {
      await this.#consumeWatched(broker, queue, signal, watch);
    } finally {
      watch.close();
    }
  }

  async #consumeWatched(broker: RuntimeBroker, queue: string, signal: AbortSignal, watch: ConsumerWatch): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        // Ends with the worker's stop or the watchdog's restart of this stream.
        const stream = AbortSignal.any([signal, watch.attempt()]);
        const consumer = broker.consume(queue, { prefetch: this.prefetch, signal: stream });
        this.#consumers.set(queue, consumer);
        this.#resizePrefetch(queue);
        const iterator = consumer[Symbol.asyncIterator]();
        try {
          while (!signal.aborted) {
            // Take the next delivery of this queue's prefetch window, then wait for a free
            // executor: back-pressure, one waiting delivery per queue. (Waiting for the slot
            // first would let an idle queue hold it while another queue's tasks wait.)
            const next = await watch.next(iterator, stream, (late) => void late.reject(true).catch(this.#requeueFailed));
            if (next.done) break;
            if (!(await this.#slots.acquire(signal))) {
              await next.value.reject(true).catch(this.#requeueFailed);
              break;
            }
            failures = 0;
            this.#handle(next.value, queue).catch((error: unknown) =>
              this.#logger.error(`internal error handling a delivery from ${queue}: ${(error as Error).stack ?? String(error)}`),
            );
          }
        } finally {
          await iterator.return?.()?.catch(() => undefined);
        }
        if (signal.aborted) return;
        // Stalled (consume-watchdog.ts): consume again at once; the watchdog logged why.
        if (watch.restarted) continue;
        throw new Error('the broker ended the stream');
      } catch (error) {
        if (signal.aborted) return;
        if (isTqError(error, 'TQ_CLOSED')) {
          this.#logger.error(`consuming ${queue} stopped: ${(error as Error).message}`);
          void this.stop();
          return;
        }
        failures++;
        const delayMs = Math.min(5000, 100 * 2 ** Math.min(failures, 6));
        this.#logger.warn(`consuming ${queue} failed: ${(error as Error).message}; consuming again in ${delayMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
      }
    }
  }

  /** Owns one executor slot from the consume loop until the delivery no longer needs it. */
  async #handle(delivery: Delivery, queue: string): Promise<void> {
    this.stats.received++;
    let request: TaskRequest;
    let definition: TaskDefinition;
    try {
      const size = delivery.message.body.byteLength;
      if (size > this.app.config.maxPayloadBytes) throw new PayloadTooLargeError(size, this.app.config.maxPayloadBytes);
      request = decodeTaskMessage(delivery.message, this.app.serializers, { maxBodyBytes: this.app.config.maxPayloadBytes });
      const found = this.app.tasks.get(request.task);
      if (!found) throw new UnknownTaskError(request.task, [...this.app.tasks.keys()]);
      definition = found;
      this.#totals.set(request.task, (this.#totals.get(request.task) ?? 0) + 1);
    } catch (error) {
      this.#slots.release();
      await this.#rejectBadMessage(delivery, queue, error);
      return;
    }
    if (this.app.config.resultExtended && this.#writer.records(request)) this.#writer.received(request, queue);
    // As Celery's strategy: a task already revoked here or expired is not announced as received,
    // only as revoked (by #dispatch, which skips it).
    const skipped = this.#revoked.has(request.id) || (request.expires !== null && request.expires.getTime() <= Date.now());
    if (!skipped) {
      if (this.listenerCount('task-received') > 0) {
        this.emit('task-received', { id: request.id, name: request.task, args: request.args, kwargs: request.kwargs, retries: request.retries, eta: request.eta, queue });
      }
      // Guarded here, not only in send(): the payload closure would otherwise be allocated per task.
      if (this.#events.enabled) this.#events.taskReceived(request);
    }
    if ((request.parentId !== null || (delivery.redelivered && hasCanvas(request))) && (await this.#succeededBefore(request.id))) {
      // A workflow step re-sent or redelivered after its SUCCESS was recorded: its successors went out then (docs/workflows.md).
      this.#slots.release();
      this.#logger.info(`${request.task}[${request.id}] already succeeded: acked without running it again`);
      await this.#settle(delivery, 'ack');
      return;
    }
    // A first delivery is attempt 1 without a look at the backend (no await on the hot path).
    const attempt = !delivery.redelivered && !this.#lostRuns.has(request.id) ? 1 : await this.#attempt(delivery, request);
    const poisonThreshold = this.#options.poisonThreshold ?? 3;
    if (attempt > poisonThreshold) {
      this.#slots.release();
      const reason = new WorkerLostError(`${request.task}[${request.id}] was delivered ${attempt} times without finishing (its executor died each time): dead-lettered as a poison message`);
      this.#logger.error(reason.message);
      await this.#recordKeepingLease(delivery, () => this.#writer.failure(request, reason));
      this.stats.rejected++;
      this.emit('task-rejected', { id: request.id, name: request.task, queue, reason: reason.message, error: reason });
      await deadLetter(this.#broker, delivery, queue, { message: reason.message, code: 'TQ_POISON_MESSAGE' }, this.#deadLetterOptions());
      return;
    }
    await this.#dispatch(delivery, request, definition, queue, attempt);
  }

  /**
   * With a slot held: skip revoked and expired tasks, hold countdown/ETA and rate-limited ones
   * (releasing the slot), run the rest. Runs again for a held task when its time comes.
   */
  async #dispatch(delivery: Delivery, request: TaskRequest, definition: TaskDefinition, queue: string, attempt: number): Promise<void> {
    if (this.#revoked.has(request.id) || (this.#revocationsInBackend && (await this.#revokedInBackend(request.id)))) {
      this.#slots.release();
      await this.#revoke(delivery, request, 'revoked', definition);
      return;
    }
    if (request.expires && request.expires.getTime() <= Date.now()) {
      this.#slots.release();
      await this.#revoke(delivery, request, 'expired', definition);
      return;
    }
    const etaWait = request.eta ? request.eta.getTime() - Date.now() : 0;
    const eta = decideEta(etaWait, this.#etaHorizonMs, this.#broker.capabilities.delayedDelivery);
    if (eta !== 'run') {
      this.#slots.release();
      // A broker that can delay holds it better than our memory: hand it back with a due time.
      const hold = () => this.#hold(delivery, request, definition, queue, attempt, etaWait, 'eta');
      if (eta === 'defer') await this.#deferToBroker(delivery, request, queue, hold);
      else hold();
      return;
    }
    const rate = definition.options.rateLimit;
    if (rate !== undefined) {
      const key = definition.options.rateLimitKey ? `${request.task}:${definition.options.rateLimitKey(request.args, request.kwargs)}` : request.task;
      const rateWait =
        definition.options.rateLimitScope === 'cluster' ? await reserveClusterToken(this.app, key, parseRate(rate), this.#logger) : this.#rateLimiter.reserve(key, parseRate(rate));
      if (rateWait > 0) {
        this.#slots.release();
        this.#hold(delivery, request, definition, queue, attempt, rateWait, 'rate-limit');
        return;
      }
    }
    // Checked before the call: most tasks are not runOnce, and the hot path takes no extra await.
    if (runOnceNonce(request) !== undefined && !(await this.#admittedOnce(delivery, request))) {
      this.#slots.release();
      return;
    }
    try {
      await this.#execute(delivery, request, definition, queue, attempt);
    } finally {
      this.#slots.release();
    }
  }

  /** runOnce (run-once.ts): false when the delivery is settled here, a second publish (acked) or an unanswered claim (requeued). */
  async #admittedOnce(delivery: Delivery, request: TaskRequest): Promise<boolean> {
    try {
      if (await this.#runOnce.admits(request)) return true;
      await this.#settle(delivery, 'ack');
    } catch (error) {
      this.#logger.warn(`${request.task}[${request.id}]: could not claim its runOnce key (${(error as Error).message}); requeued`);
      await this.#settle(delivery, 'requeue');
    }
    return false;
  }

  /**
   * Hands an ETA task back to the broker's delay. When the broker is away, the delivery is
   * requeued (another attempt later); when it refuses this message (one it cannot re-send as it
   * is), the worker holds it until due instead: requeued, it would come straight back, in a loop.
   */
  async #deferToBroker(delivery: Delivery, request: TaskRequest, queue: string, hold: () => void): Promise<void> {
    try {
      await this.app.publishCall(queue, requestToCall(request));
      await this.#settle(delivery, 'ack');
    } catch (error) {
      const away = isConnectionError(error);
      this.#logger.warn(`could not hand ${request.task}[${request.id}] back to the broker for its ETA: ${(error as Error).message}; ${away ? 'requeueing' : 'holding it in this worker until due'}`);
      if (away) await this.#settle(delivery, 'requeue');
      else hold();
    }
  }

  /** Holds a delivery without an executor slot: widens the prefetch window and keeps its lease. */
  #hold(delivery: Delivery, request: TaskRequest, definition: TaskDefinition, queue: string, attempt: number, waitMs: number, reason: Held['reason']): void {
    // An ETA weeks away is longer than setTimeout allows (it would fire at once, in a loop).
    const timer = setLongTimeout(async () => {
      this.#release(delivery);
      if (!(await this.#slots.acquire())) return;
      if (delivery.lost?.aborted) {
        this.#slots.release();
        return;
      }
      if (this.#state !== 'running') {
        this.#slots.release();
        await this.#settle(delivery, 'requeue');
        return;
      }
      await this.#dispatch(delivery, request, definition, queue, attempt);
    }, waitMs);
    // The broker took the delivery back (connection or lease lost) and will deliver it again:
    // the held copy goes, or it would run beside the redelivered one.
    const lost = delivery.lost;
    if (lost?.aborted) return timer.clear();
    const onLost = () => this.#release(delivery);
    lost?.addEventListener('abort', onLost, { once: true });
    const stopLease = this.#leases.keep(delivery);
    const stop = lost ? () => (stopLease(), lost.removeEventListener('abort', onLost)) : stopLease;
    this.#held.set(delivery, { request, queue, timer, reason, stopLease: stop });
    this.#count(this.#heldCount, queue, 1);
  }

  #release(delivery: Delivery): Held | undefined {
    const held = this.#held.get(delivery);
    if (!held) return undefined;
    this.#held.delete(delivery);
    held.timer.clear();
    held.stopLease();
    this.#count(this.#heldCount, held.queue, -1);
    return held;
  }

  /**
   * The window of unacked deliveries: `prefetch` waiting or running, plus the held ones (ETA,
   * rate limit), plus tasks that succeeded and wait for their SUCCESS record before their ack
   * (at most another `prefetch` of those: a slow backend must not make the window unbounded).
   * Neither kind is work waiting for an executor: counting them would leave executors idle
   * for a result-store round trip per task.
   */
  #resizePrefetch(queue: string): void {
    const held = this.#heldCount.get(queue) ?? 0;
    const recording = Math.min(this.#recordingCount.get(queue) ?? 0, this.prefetch);
    this.#consumers.get(queue)?.setPrefetch?.(this.prefetch + held + recording);
  }

  #count(counts: Map<string, number>, queue: string, change: 1 | -1): void {
    counts.set(queue, (counts.get(queue) ?? 0) + change);
    this.#resizePrefetch(queue);
  }

  async #execute(delivery: Delivery, request: TaskRequest, definition: TaskDefinition, queue: string, attempt: number): Promise<void> {
    const writer = this.#writer;
    const acksLate = definition.options.acksLate ?? true;
    if (!acksLate) await this.#settle(delivery, 'ack');
    const active: Active = { request, delivery, queue, cancel: new CancelToken(), startedAt: Date.now(), abandoned: false, settled: false };
    this.#active.set(delivery, active);
    const stopLease = acksLate ? this.#leases.keep(delivery) : () => undefined;
    const started = performance.now();
    if (this.listenerCount('task-started') > 0) this.emit('task-started', { id: request.id, name: request.task });
    this.#events.taskStarted(request.id);
    // The task does not wait for its STARTED record (a round trip per task); the writer keeps
    // the task's records in order, so STARTED never lands after PROGRESS or the outcome.
    writer.started(request, attempt);
    const run = () =>
      this.pool.run({ definition, request, hostname: this.hostname }, {
        updateState: async (state, meta) => {
          // A revoked (terminated) or abandoned run may keep going (an async task cannot be killed): its late updates must not overwrite the outcome.
          if (active.abandoned || active.settled || active.cancel.cancelled) return;
          this.emit('task-progress', { id: request.id, name: request.task, state, meta });
          await writer.write(request, state, meta);
        },
      }, active.cancel);
    const instrumentations = this.app.instrumentations;
    const outcome = await (instrumentations.length ? instrumentRun(instrumentations, request, queue, run) : run());
    active.settled = true;
    this.#active.delete(delivery);
    if (active.abandoned) {
      stopLease();
      return;
    }
    const runtimeMs = performance.now() - started;
    // Recording the outcome and acking are round trips that need no executor: they finish in the
    // background (bounded by the prefetch window) while the slot takes the next task; stop()
    // waits for them.
    let finishing: Promise<void>;
    try {
      finishing = this.#finish(delivery, request, definition, queue, outcome, runtimeMs);
    } catch (error) {
      finishing = Promise.reject(error); // a throwing task-succeeded listener, say
    }
    // The lease lasts until the outcome is recorded and the message settled: a backend outage
    // longer than the redelivery window must not hand the message to another worker.
    if (writer.records(request)) finishing = finishing.finally(stopLease);
    else stopLease();
    this.#track(finishing);
  }

  /** Counts work that stop() waits for; the handlers are made once, not per task. */
  #track(work: Promise<void>): void {
    this.#finishing++;
    work.then(this.#finished, this.#finishFailed);
  }

  readonly #finished = (): void => {
    if (--this.#finishing === 0) for (const wake of this.#finishingIdle.splice(0)) wake();
  };

  readonly #finishFailed = (error: unknown): void => {
    this.#logger.error(`internal error finishing a task: ${(error as Error).stack ?? String(error)}`);
    this.#finished();
  };

  #finish(delivery: Delivery, request: TaskRequest, definition: TaskDefinition, queue: string, outcome: RunOutcome, runtimeMs: number): Promise<void> {
    // A workflow step sends its successors (or marks its chain failed) before its outcome record.
    if (hasCanvas(request)) this.#writer.runFinished(request);
    if (!outcome.ok) return this.#handleError(delivery, request, definition, queue, outcome.error, runtimeMs);
    // Without a record to write, the ack follows at once: no async frame per task for it.
    if (!this.#writer.records(request) && !hasCanvas(request)) return this.#succeeded(delivery, request, outcome.value, runtimeMs);
    return this.#recordThenSucceed(delivery, request, definition, queue, outcome.value, runtimeMs);
  }

  async #recordThenSucceed(delivery: Delivery, request: TaskRequest, definition: TaskDefinition, queue: string, value: unknown, runtimeMs: number): Promise<void> {
    this.#count(this.#recordingCount, queue, 1);
    let stored: boolean;
    try {
      // As Celery's trace: callbacks and the next chain step go out before the record, which lists them as children.
      let children: readonly unknown[] | undefined;
      if (hasCanvas(request)) {
        try {
          children = await applySuccessors(this.app, request, value);
        } catch (error) {
          // A canvas that cannot be applied (malformed, unsupported) fails the task, as Celery's
          // trace does; anything else (the broker is down) gives the message back for another try.
          if (isTqError(error, 'TQ_MESSAGE_MALFORMED') || isTqError(error, 'TQ_UNSUPPORTED') || isTqError(error, 'TQ_PAYLOAD_TOO_LARGE')) {
            await this.#handleError(delivery, request, definition, queue, error, runtimeMs);
            return;
          }
          this.#logger.error(`the successors of ${request.task}[${request.id}] could not be sent: ${(error as Error).message}; giving its message back`);
          await this.#settle(delivery, 'requeue');
          return;
        }
      }
      stored = await this.#writer.success(request, value, children);
    } finally {
      this.#count(this.#recordingCount, queue, -1);
    }
    if (!stored && (await this.#giveBackUnrecorded(delivery, request, definition))) return;
    if (stored) applyRetention(this.#backend, definition, request.id, 'SUCCESS', this.#logger);
    if (request.embed.chord) await afterSuccessRecorded(this.app, request, value).catch((error: unknown) => this.#logger.error(`chord of ${request.task}[${request.id}]: ${(error as Error).message}`));
    await this.#succeeded(delivery, request, value, runtimeMs);
  }

  /**
   * An outcome record could not be stored within the retry limit: give the message back so the
   * task runs again and its outcome is recorded then (at least once), rather than ack it with
   * no record. True when given back; false when the message was acked before the run (acksLate
   * false) and the record is lost, which is logged.
   */
  async #giveBackUnrecorded(delivery: Delivery, request: TaskRequest, definition: TaskDefinition): Promise<boolean> {
    if (!(definition.options.acksLate ?? true)) {
      this.#logger.error(`the outcome of ${request.task}[${request.id}] is not recorded: its message was acked before the run (acksLate: false)`);
      return false;
    }
    this.#logger.error(`the outcome of ${request.task}[${request.id}] could not be recorded: giving its message back for redelivery`);
    await this.#settle(delivery, 'requeue');
    return true;
  }

  #succeeded(delivery: Delivery, request: TaskRequest, value: unknown, runtimeMs: number): Promise<void> {
    this.stats.succeeded++;
    if (this.listenerCount('task-succeeded') > 0) this.emit('task-succeeded', { id: request.id, name: request.task, result: value, runtimeMs });
    if (this.#events.enabled) this.#events.taskSucceeded(request.id, valueRepr(value), runtimeMs / 1000);
    return this.#settle(delivery, 'ack');
  }

  async #handleError(delivery: Delivery, request: TaskRequest, definition: TaskDefinition, queue: string, error: unknown, runtimeMs: number): Promise<void> {
    if (error instanceof Ignore) return this.#settle(delivery, 'ack');
    if (error instanceof TaskRevokedError) return this.#revoke(delivery, request, 'terminated', definition, error.signum);
    if (error instanceof Reject) {
      this.stats.rejected++;
      this.emit('task-rejected', { id: request.id, name: request.task, queue, reason: error.message, error });
      this.#events.send('task-rejected', { uuid: request.id, requeue: error.requeue });
      if (error.requeue) return this.#settle(delivery, 'requeue');
      return deadLetter(this.#broker, delivery, queue, { message: error.message, code: 'TQ_REJECTED' }, this.#deadLetterOptions());
    }
    if (error instanceof WorkerLostError && definition.options.rejectOnWorkerLost) {
      this.#lostRuns.set(request.id, (this.#lostRuns.get(request.id) ?? 0) + 1);
      this.#logger.warn(`${error.message}; giving the message back (rejectOnWorkerLost)`);
      return this.#settle(delivery, 'requeue');
    }
    const maxRetries = definition.options.maxRetries ?? 3;
    const retry =
      error instanceof Retry ? error
      : shouldAutoretry(definition.options, error) && request.retries < maxRetries ? new Retry(backoffSeconds(definition.options, request.retries), error)
      : undefined;
    if (retry) {
      try {
        await this.app.publishCall(queue, requestToCall(request, { retries: request.retries + 1, eta: new Date(Date.now() + retry.countdown * 1000) }));
      } catch (publishError) {
        // The retry could not be sent: give the original back so it is not lost.
        this.#logger.error(`retry of ${request.task}[${request.id}] could not be published: ${(publishError as Error).message}; requeueing`);
        return this.#settle(delivery, 'requeue');
      }
      await this.#writer.retry(request, retry.reason);
      this.stats.retried++;
      this.emit('task-retried', { id: request.id, name: request.task, reason: retry.reason, countdown: retry.countdown, retries: request.retries + 1 });
      this.#events.send('task-retried', { uuid: request.id, exception: retry.reason === undefined ? 'None' : exceptionRepr(retry.reason), traceback: traceback(retry.reason) });
      return this.#settle(delivery, 'ack');
    }
    // Celery's store_errors_even_if_ignored: an ignored result still records its FAILURE.
    const failureRequest = request.ignoreResult && definition.options.storeErrorsEvenIfIgnored ? { ...request, ignoreResult: false } : request;
    if (request.embed.chain?.length) await markChainFailed(this.app, request, error, traceback(error)).catch((e: unknown) => this.#logger.error(`chain steps after ${request.task}[${request.id}]: ${(e as Error).message}`));
    const failureStored = await this.#writer.failure(failureRequest, error);
    if (!failureStored && (await this.#giveBackUnrecorded(delivery, request, definition))) return;
    if (failureStored && this.#writer.records(failureRequest)) applyRetention(this.#backend, definition, request.id, 'FAILURE', this.#logger);
    if (hasCanvas(request)) await afterFailureRecorded(this.app, request, error).catch((e: unknown) => this.#logger.error(`errbacks/chord of ${request.task}[${request.id}]: ${(e as Error).message}`));
    this.stats.failed++;
    this.#logger.warn(`task ${request.task}[${request.id}] failed: ${describe(error)}`);
    this.emit('task-failed', { id: request.id, name: request.task, error, traceback: traceback(error), runtimeMs });
    this.#events.send('task-failed', { uuid: request.id, exception: exceptionRepr(error), traceback: traceback(error) });
    await this.#settle(delivery, 'ack');
  }

  /** Which start of this task this delivery is: 1, or more when it comes back after dying mid-run. */
  async #attempt(delivery: Delivery, request: TaskRequest): Promise<number> {
    const lost = this.#lostRuns.get(request.id) ?? 0;
    if (!delivery.redelivered && lost === 0) return 1;
    let recorded = 0;
    const bytes = await this.#backendFetch(request.id);
    if (bytes) {
      const record = decodeRecord(bytes);
      const meta = record.result as { attempt?: unknown } | null;
      // tq_attempt is on every in-progress record (a PROGRESS may have replaced STARTED).
      if (typeof record.tq_attempt === 'number') recorded = record.tq_attempt;
      else if (record.status === TaskState.STARTED && typeof meta?.attempt === 'number') recorded = meta.attempt;
    }
    return Math.max(recorded, lost) + 1;
  }

  async #backendFetch(id: string): Promise<Uint8Array | null> {
    const backend = await this.app.backend();
    if (!backend) return null;
    try {
      return await backend.fetch(id);
    } catch (error) {
      this.#logger.warn(`could not read the record of ${id}: ${(error as Error).message}`);
      return null;
    }
  }

  async #succeededBefore(id: string): Promise<boolean> {
    const bytes = await this.#backendFetch(id);
    return bytes !== null && decodeRecord(bytes).status === TaskState.SUCCESS;
  }

  async #revokedInBackend(id: string): Promise<boolean> {
    const bytes = await this.#backendFetch(id);
    return bytes !== null && decodeRecord(bytes).status === TaskState.REVOKED;
  }

  /** `signum`: the signal a terminate named, for the task-revoked event (null otherwise, as Celery's). */
  async #revoke(delivery: Delivery, request: TaskRequest, reason: string, definition: TaskDefinition, signum?: number): Promise<void> {
    if (!(await this.#recordKeepingLease(delivery, () => this.#writer.revoked(request, reason))) && (await this.#giveBackUnrecorded(delivery, request, definition))) return;
    this.stats.revoked++;
    this.emit('task-revoked', { id: request.id, name: request.task, reason });
    this.#events.send('task-revoked', { uuid: request.id, terminated: reason === 'terminated', signum: signum ?? null, expired: reason === 'expired' });
    await this.#settle(delivery, 'ack');
  }

  /**
   * An outcome record written outside a task run (poison, bad message, revoked or expired on
   * arrival) may be retried for a while (see ResultWriter.outcome): the delivery's lease is
   * kept meanwhile, so it is not redelivered (and, for a poison message, run) elsewhere.
   */
  async #recordKeepingLease(delivery: Delivery, record: () => Promise<boolean>): Promise<boolean> {
    const stopLease = this.#leases.keep(delivery);
    try {
      return await record();
    } finally {
      stopLease();
    }
  }

  #deadLetterOptions() {
    return { suffix: this.app.config.deadLetterSuffix, logger: this.#logger };
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
    if (id) {
      // The sender may be waiting on get(): give it the reason instead of a timeout (a malformed
      // body or header too, as docs/guarantees.md promises, whenever the id header is readable).
      // Dead-lettered even if the record cannot be stored: the message is kept there either way.
      await this.#recordKeepingLease(delivery, () => this.#writer.failure({ id, ignoreResult: false, properties: delivery.message.properties }, error));
    }
    const code = isTqError(error) ? error.code : 'TQ_MESSAGE_MALFORMED';
    await deadLetter(this.#broker, delivery, queue, { message: reason, code }, this.#deadLetterOptions());
  }

  #settle(delivery: Delivery, how: 'ack' | 'requeue'): Promise<void> {
    const onFailure = how === 'ack' ? this.#ackFailed : this.#requeueFailed;
    try {
      return (how === 'ack' ? delivery.ack() : delivery.reject(true)).catch(onFailure);
    } catch (error) {
      onFailure(error);
      return Promise.resolve();
    }
  }

  // The broker will redeliver an unsettled message: at-least-once, never lost. (Made once: #settle runs per task.)
  readonly #ackFailed = (error: unknown): void => this.#logger.warn(`could not ack a delivery: ${(error as Error).message}`);
  readonly #requeueFailed = (error: unknown): void => this.#logger.warn(`could not requeue a delivery: ${(error as Error).message}`);

  /** What remote control (Celery's pidbox, see remote-control.ts) may see and change of this worker. */
  #controlled(): ControlledWorker {
    const held = (reason: Held['reason']): HeldTask[] =>
      [...this.#held.entries()].filter(([, h]) => h.reason === reason).map(([delivery, h]) => ({ request: h.request, queue: h.queue, redelivered: delivery.redelivered, priority: delivery.message.properties.priority ?? 0, startedAt: null }));
    return {
      app: this.app,
      hostname: this.hostname,
      queues: () => this.queues,
      concurrency: () => this.concurrency,
      prefetch: () => this.prefetch,
      resizePool: (concurrency) => this.resizePool(concurrency),
      poolKind: this.pool.kind,
      startedAt: this.#startedAt,
      totals: this.#totals,
      running: () =>
        [...this.#active.values()].map((a) => ({ request: a.request, queue: a.queue, redelivered: a.delivery.redelivered, priority: a.delivery.message.properties.priority ?? 0, startedAt: a.startedAt })),
      reserved: () => held('rate-limit'),
      scheduled: () => held('eta'),
      revokedIds: () => this.#revoked.ids(),
      addQueue: (queue) => this.addQueue(queue),
      cancelQueue: (queue) => this.cancelQueue(queue),
      checkPauses: () => void this.#pauses?.check(),
      revoke: (ids, terminate, signal) => {
        for (const id of ids) {
          this.#revoked.add(id);
          if (!terminate) continue;
          for (const active of this.#active.values()) {
            if (active.request.id === id) active.cancel.cancel(new TaskRevokedError(id, 'terminated', signalNumber(signal)));
          }
        }
      },
      eventsEnabled: () => this.#events.enabled,
      setEvents: (enabled) => this.#setEvents(enabled),
      sendHeartbeat: () => this.#events.send('worker-heartbeat', this.#workerInfo()),
      shutdown: () => {
        this.#logger.warn('shutdown requested by remote control');
        void this.stop();
      },
    };
  }

  /** Tasks this worker holds, as `tq inspect` and Celery's inspect report them: active, reserved (waiting on a rate limit), scheduled (ETA). */
  inspect(what: 'active' | 'reserved' | 'scheduled'): HeldTask[] {
    const controlled = this.#controlled();
    return [...(what === 'active' ? controlled.running() : what === 'reserved' ? controlled.reserved() : controlled.scheduled())];
  }

  /**
   * Stop taking messages; prefetched deliveries not started go back to the queue at once (the
   * consumers stop, and each adapter hands its unread deliveries back), held ones (ETA, rate
   * limit) too. Graceful (default): wait for running tasks and their outcome records, for at
   * most `timeoutMs` (default: the shutdownTimeoutMs option, else no limit), then force.
   * force: abort running tasks and give their messages back to the queue at once.
   */
  stop(options: { force?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (options.force) this.#forceStop();
    if (this.#stopped) return this.#stopped;
    this.#state = 'stopping';
    const timeoutMs = options.timeoutMs ?? this.#options.shutdownTimeoutMs;
    let timeBox: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined && !options.force) {
      timeBox = setTimeout(() => {
        if (this.#active.size === 0 && this.#finishing === 0) return;
        this.#logger.warn(`stop: ${this.#active.size} task(s) still running after ${timeoutMs} ms; stopping now, their messages go back to the queue`);
        this.#forceStop();
      }, timeoutMs);
    }
    this.#stopped = (async () => {
      this.#consumeController.abort();
      for (const delivery of [...this.#held.keys()]) {
        this.#release(delivery);
        await this.#settle(delivery, 'requeue');
      }
      await Promise.allSettled(this.#loops);
      while (this.#active.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      if (this.#finishing > 0) await new Promise<void>((resolve) => this.#finishingIdle.push(resolve));
      clearTimeout(timeBox);
      for (const cleanup of this.#cleanups) cleanup();
      if (this.#events?.enabled) this.#setEvents(false);
      await this.#events?.flush();
      await this.pool.close();
      this.#state = 'stopped';
      this.emit('worker-offline', { hostname: this.hostname });
      this.#logger.info(`worker ${this.hostname} stopped`, { ...this.stats });
    })();
    return this.#stopped;
  }

  #forceStop(): void {
    // Outcome records still being retried give up: their messages go back to the queue.
    this.#writer?.abandonRetries();
    for (const active of this.#active.values()) {
      if (active.abandoned) continue;
      active.abandoned = true;
      active.cancel.cancel(new TaskRevokedError(active.request.id, 'terminated by a forced worker shutdown'));
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

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
