import { randomUUID } from 'node:crypto';
import { publishInTransaction } from './producer/transactional.js';
import type { TqAdapter } from './adapters/descriptor.js';
import { resolveAdapter } from './adapters/resolve.js';
import { parseUrl, redactUrl } from './adapters/url.js';
import { RuntimeBackend } from './backend/runtime-backend.js';
import type { ResultBackend } from './backend/result-backend.js';
import type { Broker, BrokerMessage, QueueStats } from './broker/broker.js';
import { RuntimeBroker } from './broker/runtime-broker.js';
import { chooseBroadcastBus, type BroadcastBus } from './control/broadcast-bus.js';
import { Control } from './control/control-client.js';
import { DeadLetters } from './dead/dead-letters.js';
import { QueueAdmin } from './queues/queue-admin.js';
import { EventDispatcher, receiveEvents, type EventPattern, type TaskEvent } from './events/task-events.js';
import { resolveConfig, routeTask, type ResolvedConfig, type TqConfig } from './config.js';
import { ConfigError, PayloadTooLargeError, TqError, UnknownTaskError, UnsupportedError } from './errors.js';
import { createConsoleLogger, ForwardingLogger, type Logger } from './logger.js';
import { instrumentCall, type Instrumentation } from './instrumentation.js';
import memoryAdapter from './memory/index.js';
import { celeryIsoTime, encodeTaskMessage } from './protocol/encode.js';
import type { TaskCall } from './protocol/message.js';
import { argsRepr, kwargsRepr } from './protocol/repr.js';
import type { SendOptions } from './producer/send-options.js';
import { validateSendOptions } from './producer/send-option-rules.js';
import { brokerDeduplicationId, claimSend, releaseSendClaim } from './producer/dedupe.js';
import { runOnceHeaders } from './worker/run-once.js';
import { sendMany, type BulkCall } from './producer/send-many.js';
import { AsyncResult } from './result/async-result.js';
import { registerCanvasBuiltins } from './canvas/builtins.js';
import { GroupResult } from './canvas/group-result.js';
import { Signature, type SignatureOptions } from './canvas/signature.js';
import { taskSignatures, type TaskSignatures } from './canvas/task-signatures.js';
import { jsonSerializer } from './serializer/json.js';
import { SerializerRegistry } from './serializer/serializer.js';
import type { TaskDefinition, TaskFunction, TaskOptions } from './task.js';
import { validateTaskOptions } from './task-option-rules.js';
import { Worker, type WorkerOptions } from './worker/worker.js';
import { assertSchedule } from './schedule/assert-schedule.js';
import { Beat, type BeatOptions } from './schedule/beat.js';
import type { ScheduleDefinition } from './schedule/schedule-entry.js';

/** Arguments of a task function without the kwargs object callers may append. */
export interface Task<A extends unknown[], R> extends TaskSignatures<A, R> {
  readonly name: string;
  readonly options: TaskOptions;
  /** Send with positional arguments and default options. */
  delay(...args: A): Promise<AsyncResult<R>>;
  /** Send with arguments, keyword arguments and options. */
  applyAsync(args: A, kwargs?: Record<string, unknown>, options?: SendOptions): Promise<AsyncResult<R>>;
  /** Send many calls of this task at once (see App.sendMany). */
  bulk(calls: readonly { readonly args: A; readonly kwargs?: Record<string, unknown>; readonly options?: SendOptions }[]): Promise<AsyncResult<R>[]>;
}

/**
 * A tq application: the task registry, the configuration shared by producers and workers,
 * and the lazily opened broker and result backend.
 */
export class App {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly #logger: ForwardingLogger;
  readonly serializers: SerializerRegistry;
  readonly #tasks = new Map<string, TaskDefinition>();
  #broker: Promise<RuntimeBroker> | undefined;
  #control: Control | undefined;
  #deadLetters: DeadLetters | undefined;
  #queueAdmin: QueueAdmin | undefined;
  #events: EventDispatcher | undefined;
  #backend: Promise<RuntimeBackend | null> | undefined;
  /** The broker and backend once connected: sendTask reads them without awaiting a promise per call. */
  #connectedBroker: RuntimeBroker | undefined;
  #connectedBackend: RuntimeBackend | null | undefined;
  #closed = false;
  /** The `origin` header of what this app sends: pid@hostname, as Celery writes it. */
  readonly #origin: string;

  /** `env`: where TQ_* settings are read (default process.env); they win over `config`. */
  constructor(config: TqConfig = {}, options: { env?: NodeJS.ProcessEnv } = {}) {
    this.config = resolveConfig(config, options.env);
    this.#origin = `${process.pid}@${this.config.hostname}`;
    this.#logger = new ForwardingLogger(this.config.logger ?? createConsoleLogger(this.config.logLevel));
    this.logger = this.#logger;
    this.serializers = new SerializerRegistry([jsonSerializer, ...this.config.serializers], this.config.accept);
    // Fail at construction, not at first send, when the outgoing serializer is unknown.
    try {
      this.serializers.get(this.config.serializer);
    } catch {
      throw new ConfigError([{ path: 'serializer', message: `no serializer named "${this.config.serializer}" is registered` }]);
    }
    registerCanvasBuiltins(this);
  }

  /** Register a task by name. Inside `fn`, `this` is the TaskContext (or call taskContext()). */
  task<A extends unknown[], R>(name: string, fn: TaskFunction<A, R>, options: TaskOptions = {}): Task<A, Awaited<R>> {
    if (this.#tasks.has(name)) throw new ConfigError([{ path: `tasks.${name}`, message: 'a task with this name is already registered' }]);
    validateTaskOptions(name, options);
    this.#tasks.set(name, { name, fn: fn as unknown as TaskFunction<never[], unknown>, options });
    return {
      name,
      options,
      ...taskSignatures<A, Awaited<R>>(this, name),
      delay: (...args: A) => this.sendTask<Awaited<R>>(name, args, {}, {}),
      applyAsync: (args: A, kwargs = {}, sendOptions = {}) => this.sendTask<Awaited<R>>(name, args, kwargs, sendOptions),
      bulk: (calls) => this.sendMany(calls.map((call) => ({ name, ...call }))) as Promise<AsyncResult<Awaited<R>>[]>,
    };
  }

  readonly #schedules = new Map<string, ScheduleDefinition>();

  /** A periodic task run by `tq beat` or `tq worker --beat` (cron with timezone, every, or a one-off at). */
  schedule(name: string, definition: ScheduleDefinition): this {
    assertSchedule(name, definition);
    if (this.#schedules.has(name)) throw new ConfigError([{ path: `schedules.${name}`, message: 'a schedule with this name is already defined' }]);
    this.#schedules.set(name, definition);
    return this;
  }

  /** Schedules defined in code with schedule(). */
  get schedules(): ReadonlyMap<string, ScheduleDefinition> {
    return this.#schedules;
  }

  /** A beat for this app (start() it to run schedules; .schedules edits them at runtime). */
  beat(options: BeatOptions = {}): Beat {
    return new Beat(this, options);
  }

  /** Remote control: revoke tasks, ping and inspect workers (app.control.revoke(id)). */
  get control(): Control {
    return (this.#control ??= new Control(this));
  }

  /**
   * Changes options of a registered task in this process: what Celery's rate_limit and
   * time_limit remote-control commands do to a worker. Applies to the tasks it runs next.
   */
  retuneTask(name: string, changes: Partial<Pick<TaskOptions, 'rateLimit' | 'timeLimit' | 'softTimeLimit'>>): void {
    const definition = this.#tasks.get(name);
    if (!definition) throw new UnknownTaskError(name, [...this.#tasks.keys()]);
    validateTaskOptions(name, changes);
    this.#tasks.set(name, { ...definition, options: { ...definition.options, ...changes } });
  }

  /** Registered tasks by name. */
  get tasks(): ReadonlyMap<string, TaskDefinition> {
    return this.#tasks;
  }

  /** The broker, connected. Opened on first use. */
  broker(): Promise<RuntimeBroker> {
    this.#assertOpen();
    this.#broker ??= this.#open('broker', this.config.broker, (adapter, url) => {
      if (!adapter.createBroker) throw new ConfigError([{ path: 'broker', message: `the ${adapter.name} adapter provides no broker` }]);
      return adapter.createBroker(url, { logger: this.logger, ...this.config.brokerOptions });
    }).then(async (inner) => {
      const broker = new RuntimeBroker(inner, { retry: this.config.publishRetry });
      await broker.connect();
      this.#connectedBroker = broker;
      return broker;
    });
    this.#broker.catch(() => (this.#broker = undefined));
    return this.#broker;
  }

  /**
   * Where remote control, revocations and events travel: the broker's broadcast channel, else
   * the result backend's (Kafka with a Redis backend); null when neither has one.
   */
  async broadcastBus(): Promise<BroadcastBus | null> {
    const [broker, backend] = await Promise.all([this.broker(), this.backend()]);
    return chooseBroadcastBus(broker, backend);
  }

  /**
   * Celery events from every worker and producer on this broker, tq's and Python Celery's
   * (workers need `events: true` / `-E`), from now until `signal` aborts. `pattern` narrows by
   * routing key: 'worker.#' for heartbeats and online/offline, 'task.#' for task events.
   */
  async *events(options: { signal: AbortSignal; pattern?: EventPattern }): AsyncIterable<TaskEvent> {
    const bus = await this.broadcastBus();
    if (!bus) {
      throw new UnsupportedError('neither the broker nor the result backend has a broadcast channel: events need a redis, amqp, nats or memory broker, or a redis result backend');
    }
    yield* receiveEvents(bus, options.signal, options.pattern);
  }

  /** The result backend, connected; null when results are disabled. */
  backend(): Promise<RuntimeBackend | null> {
    this.#assertOpen();
    const configured = this.config.resultBackend;
    this.#backend ??= configured === null
      ? Promise.resolve(null)
      : this.#open('resultBackend', configured, (adapter, url) => {
          if (!adapter.createResultBackend) {
            throw new ConfigError([{ path: 'resultBackend', message: `the ${adapter.name} adapter provides no result backend; use redis://, nats:// or memory://` }]);
          }
          // Reply-queue backends (a bare rpc://) ride on the broker's connection details.
          const brokerUrl = typeof this.config.broker === 'string' ? { brokerUrl: this.config.broker } : {};
          return adapter.createResultBackend(url, { logger: this.logger, ...brokerUrl, ...this.config.resultBackendOptions });
        }).then(async (inner) => {
          const backend = new RuntimeBackend(inner, { retry: this.config.publishRetry });
          await backend.connect();
          return backend;
        });
    void this.#backend.then((backend) => (this.#connectedBackend = backend), () => undefined);
    this.#backend.catch(() => (this.#backend = undefined));
    return this.#backend;
  }

  async #open<T extends Broker | ResultBackend>(path: string, target: string | T, create: (adapter: TqAdapter, url: URL) => T): Promise<T> {
    if (typeof target !== 'string') return target;
    const adapter = await resolveAdapter(target, { adapters: this.config.adapters, builtin: [memoryAdapter] });
    let url: URL;
    try {
      url = adapter.parseUrl ? adapter.parseUrl(target) : parseUrl(target, path);
    } catch (cause) {
      if (cause instanceof ConfigError) throw cause;
      throw new ConfigError([{ path, message: `not a valid ${adapter.name} URL: ${redactUrl(target)} (${(cause as Error).message})` }], { cause });
    }
    this.logger.debug(`${path}: ${redactUrl(url)} via ${adapter.name}`);
    try {
      return create(adapter, url);
    } catch (cause) {
      // An adapter decoding the user or password: a bare % there is not percent-encoding.
      if (cause instanceof URIError) {
        throw new ConfigError([{ path, message: `${redactUrl(target)}: the user, password or path is not valid percent-encoding; write a literal % as %25 (and @ : / as %40 %3A %2F)` }], { cause });
      }
      throw cause;
    }
  }

  /** The queue sendTask sends `name` to: the `queue` option, else the task's own, else the routes, else defaultQueue. */
  queueFor(name: string, queue?: string): string {
    return this.#queueOf(name, this.#tasks.get(name), queue);
  }

  #queueOf(name: string, definition: TaskDefinition | undefined, queue: string | undefined): string {
    return queue ?? definition?.options.queue ?? routeTask(name, this.config.routes, this.config.defaultQueue);
  }

  /** Send a task by name, without importing its code. */
  async sendTask<R = unknown>(name: string, args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: SendOptions = {}): Promise<AsyncResult<R>> {
    validateSendOptions(options);
    const definition = this.#tasks.get(name);
    const queue = this.#queueOf(name, definition, options.queue);
    const id = options.taskId ?? randomUUID();
    this.#assertOpen();
    const [broker, backend] =
      this.#connectedBroker && this.#connectedBackend !== undefined ? [this.#connectedBroker, this.#connectedBackend] : await Promise.all([this.broker(), this.backend()]);
    const eta = options.eta !== undefined ? new Date(options.eta) : options.countdown !== undefined ? new Date(Date.now() + options.countdown * 1000) : null;
    const expires = options.expires === undefined ? null : typeof options.expires === 'number' ? new Date(Date.now() + options.expires * 1000) : new Date(options.expires);
    const replyTo = options.replyTo ?? (backend?.inner.replyAddress ? await backend.inner.replyAddress() : undefined);
    const call: TaskCall = {
      id,
      task: name,
      args,
      kwargs,
      ...(options.embed ? { embed: options.embed } : {}),
      retries: options.retries ?? 0,
      eta,
      expires,
      timeLimit: { soft: options.softTimeLimit ?? definition?.options.softTimeLimit ?? null, hard: options.timeLimit ?? definition?.options.timeLimit ?? null },
      rootId: options.rootId ?? id,
      parentId: options.parentId ?? null,
      group: options.group ?? null,
      groupIndex: options.groupIndex ?? null,
      origin: this.#origin,
      ignoreResult: options.ignoreResult ?? definition?.options.ignoreResult ?? false,
      shadow: options.shadow ?? null,
      ...(options.runOnce ? { headers: runOnceHeaders(options.headers, options.taskId) } : options.headers ? { headers: options.headers } : {}),
      ...(replyTo !== undefined ? { replyTo } : {}),
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
    };
    const deduplicationId = options.brokerDeduplication ? brokerDeduplicationId(broker.capabilities, options) : undefined;
    const claim = deduplicationId === undefined && !options.runOnce && (options.dedupe !== undefined || options.taskId !== undefined) ? await claimSend(backend, options, id, this.config.resultTtlMs) : null;
    if (claim && 'heldBy' in claim) return new AsyncResult<R>(claim.heldBy, backend);
    try {
      await this.publishCall(queue, call, broker, { transaction: options.transaction, deduplicationId });
    } catch (error) {
      if (claim) await releaseSendClaim(backend, claim);
      throw error;
    }
    if (this.config.sendSentEvent) {
      this.#events ??= new EventDispatcher(chooseBroadcastBus(broker, backend), { enabled: true, hostname: this.#origin, logger: this.logger });
      // Celery's field order (celery/app/amqp.py send_task_message).
      this.#events.send('task-sent', {
        uuid: id,
        root_id: call.rootId,
        parent_id: call.parentId,
        name,
        args: argsRepr(args),
        kwargs: kwargsRepr(kwargs),
        retries: call.retries,
        eta: call.eta ? celeryIsoTime(new Date(call.eta)) : null,
        expires: call.expires ? celeryIsoTime(new Date(call.expires)) : null,
        queue,
        exchange: '',
        routing_key: queue,
      });
    }
    return new AsyncResult<R>(id, backend);
  }

  /**
   * Send many calls at once, pipelined: options checked for all first, then published in chunks
   * that each adapter sends in about one round trip. Not atomic (see producer/send-many.ts).
   */
  sendMany(calls: readonly BulkCall[]): Promise<AsyncResult<unknown>[]> {
    return sendMany(this, calls);
  }

  /** Encode and publish a prepared call (used by sendTask and by worker retries). */
  async publishCall(queue: string, call: TaskCall, broker?: RuntimeBroker, { transaction, deduplicationId }: { transaction?: unknown; deduplicationId?: string | undefined } = {}): Promise<void> {
    const target = broker ?? (await this.broker());
    const instrumented = this.instrumentations.length ? instrumentCall(this.instrumentations, call, queue) : call;
    const message = encodeTaskMessage(instrumented, this.serializers.get(this.config.serializer));
    if (message.body.byteLength > this.config.maxPayloadBytes) throw new PayloadTooLargeError(message.body.byteLength, this.config.maxPayloadBytes);
    const eta = call.eta ? new Date(call.eta).getTime() : undefined;
    const delayed = eta !== undefined && eta > Date.now() && target.capabilities.delayedDelivery;
    let outgoing: BrokerMessage = message;
    if (delayed) outgoing = { ...outgoing, notBefore: eta };
    if (deduplicationId !== undefined) outgoing = { ...outgoing, deduplicationId };
    if (transaction !== undefined) return publishInTransaction(target.inner, this.config.outbox, transaction, queue, outgoing);
    await target.publish(queue, outgoing);
  }

  /** Sends this app's logs (and its adapters' and workers') to `logger` from now on, e.g. a JSON logger. */
  useLogger(logger: Logger): void {
    this.#logger.use(logger);
  }

  /** Integrations (tracing, metrics) plugged in with instrument(), in order. */
  readonly instrumentations: Instrumentation[] = [];

  /** Plugs an integration into this app's producer and workers (see Instrumentation; @tq/observability has tracing). */
  instrument(instrumentation: Instrumentation): this {
    this.instrumentations.push(instrumentation);
    return this;
  }

  /** A signature of a task known only by name (Celery's app.signature): chain/group/chord it, or applyAsync() it. */
  signature<R = unknown>(name: string, args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: SignatureOptions = {}): Signature<R> {
    return new Signature<R>(this, name, args, kwargs, options);
  }

  /** A group saved with GroupResult.save() (by tq or Celery), or null. */
  restoreGroup(id: string): Promise<GroupResult | null> {
    return GroupResult.restore(id, () => this.backend());
  }

  /** A handle on any task id, e.g. one printed by `tq call`. */
  asyncResult<R = unknown>(id: string): AsyncResult<R> {
    return new AsyncResult<R>(id, () => this.backend());
  }

  /** A queue's counts as the broker keeps them (ready, unacked, dead, consumers): for autoscalers and dashboards. */
  async queueStats(queue = this.config.defaultQueue): Promise<QueueStats> {
    return (await this.broker()).queueStats(queue);
  }

  /** Cluster-wide queue administration: pause and resume (stored in the result backend). */
  get queues(): QueueAdmin {
    return (this.#queueAdmin ??= new QueueAdmin(this));
  }

  /** The dead letters of a queue: list, show, replay, purge (works on every broker's dead-letter store). */
  get deadLetters(): DeadLetters {
    return (this.#deadLetters ??= new DeadLetters(() => this.broker(), { suffix: this.config.deadLetterSuffix ?? '.dead' }));
  }

  /**
   * Delete every waiting message in a queue (default: the default queue) and return how many.
   * Countdown/ETA messages the broker holds for it go too where capabilities.purgeDelayed
   * (Redis, Postgres, NATS, memory); on RabbitMQ and Kafka they wait in delay queues/topics
   * shared by every queue, cannot be told apart without consuming them, and arrive when due.
   */
  async purge(queue = this.config.defaultQueue): Promise<number> {
    return (await this.broker()).purge(queue);
  }

  /** A worker consuming this app's tasks. Call start() to run it. */
  worker(options: WorkerOptions = {}): Worker {
    return new Worker(this, options);
  }

  #assertOpen(): void {
    if (this.#closed) throw new TqError('TQ_CLOSED', 'the app is closed');
  }

  /** Close the broker and backend connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const broker = this.#broker;
    const backend = this.#backend;
    await Promise.allSettled([broker?.then((b) => b.close()), backend?.then((b) => b?.close())]);
  }
}

/** Create an app; see TqConfig for every option and its default. */
export function createApp(config: TqConfig = {}): App {
  return new App(config);
}
