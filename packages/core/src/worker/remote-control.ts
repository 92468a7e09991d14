import type { App } from '../app.js';
import { pauseChangedCommand } from '../queues/queue-admin.js';
import { redactUrl } from '../adapters/url.js';
import type { BroadcastBus } from '../control/broadcast-bus.js';
import { decodePidboxRequest, encodePidbox, isAddressedTo, mailboxChannel, replyRoute, type PidboxRequest } from '../control/pidbox.js';
import type { Logger } from '../logger.js';
import type { TaskRequest } from '../protocol/message.js';
import { parseRate } from './rate-limit.js';

/** A task the worker holds, as remote control reports it. */
export interface HeldTask {
  readonly request: TaskRequest;
  readonly queue: string;
  readonly redelivered: boolean;
  readonly priority: number;
  /** Epoch ms the task started running; null while it waits. */
  readonly startedAt: number | null;
}

/** What remote control may see and change of a worker: the worker hands this to the listener. */
export interface ControlledWorker {
  /** Read the queues' pause state now (app.queues.pause/resume announced a change). */
  checkPauses(): void;
  readonly app: App;
  readonly hostname: string;
  queues(): readonly string[];
  concurrency(): number;
  prefetch(): number;
  resizePool(concurrency: number): boolean;
  readonly poolKind: string;
  readonly startedAt: number;
  /** Tasks received per task name since start (Celery's stats "total"). */
  readonly totals: ReadonlyMap<string, number>;
  running(): readonly HeldTask[];
  /** Waiting on a rate limit (Celery's "reserved"). */
  reserved(): readonly HeldTask[];
  /** Waiting for their ETA (Celery's "scheduled"). */
  scheduled(): readonly HeldTask[];
  revokedIds(): readonly string[];
  /** `signal`: what the caller named for a terminate (Celery's "signal" argument), see signalNumber. */
  revoke(ids: readonly string[], terminate: boolean, signal?: unknown): void;
  addQueue(queue: string): boolean;
  cancelQueue(queue: string): boolean;
  eventsEnabled(): boolean;
  setEvents(enabled: boolean): void;
  sendHeartbeat(): void;
  shutdown(): void;
}

/** A reply that is not sent at all (Celery's shutdown answers nothing). */
const noReply = Symbol('no reply');
type Answer = unknown;

/**
 * Answers Celery's remote control (kombu's pidbox Node) for one worker: listens on the
 * `celery.pidbox` fanout, runs what is addressed to this worker, and replies
 * `{"<hostname>": <answer>}` on `reply.celery.pidbox` under the caller's routing key, in the
 * shapes Celery 5's worker control commands return, so `celery inspect`, `celery control` and
 * Flower work with tq workers, and tq's own app.control with Python ones.
 */
export function listenForRemoteControl(bus: BroadcastBus, worker: ControlledWorker, logger: Logger, signal: AbortSignal): void {
  let clock = 0;
  void (async () => {
    try {
      for await (const bytes of bus.subscribe(mailboxChannel, signal, { kind: 'fanout' })) {
        const request = decodePidboxRequest(bytes);
        if (!request || !isAddressedTo(request, worker.hostname)) continue;
        let answer: Answer;
        try {
          answer = answerRequest(request, worker);
        } catch (error) {
          logger.warn(`remote control ${request.method} failed: ${(error as Error).message}`);
          answer = { error: `${(error as Error).name}(${JSON.stringify((error as Error).message)})` };
        }
        if (answer === noReply || !request.reply_to) continue;
        await bus.broadcast(request.reply_to.exchange, encodePidbox({ [worker.hostname]: answer ?? null }), replyRoute(request, ++clock)).catch((error: unknown) => {
          logger.warn(`could not reply to remote control ${request.method}: ${(error as Error).message}`);
        });
      }
    } catch (error) {
      if (!signal.aborted) logger.warn(`remote control stopped: ${(error as Error).message}`);
    }
  })();
}

const ok = (message: string) => ({ ok: message });
const nok = (message: string) => ({ error: message });

function answerRequest(request: PidboxRequest, worker: ControlledWorker): Answer {
  const args = request.arguments;
  switch (request.method) {
    case 'ping':
      return ok('pong');
    case 'clock':
      return { clock: 0 };
    case 'hello':
      // Mingle: a starting Celery worker asks its peers for their revoked ids and clock.
      return args['from_node'] === worker.hostname ? noReply : { revoked: {}, clock: 0 };
    case 'stats':
      return stats(worker);
    case 'active':
      return worker.running().map((task) => requestInfo(task, worker));
    case 'reserved':
      return worker.reserved().map((task) => requestInfo(task, worker));
    case 'scheduled':
      return worker.scheduled().map((task) => ({ eta: task.request.eta?.toISOString() ?? null, priority: task.priority, request: requestInfo(task, worker) }));
    case 'registered':
      // Celery leaves its built-in celery.* tasks out unless asked (builtins=False).
      return [...worker.app.tasks.keys()].filter((name) => !name.startsWith('celery.')).sort();
    case 'active_queues':
      return worker.queues().map(queueInfo);
    case 'revoked':
      return [...worker.revokedIds()];
    case 'conf':
      return conf(worker);
    case 'query_task':
      return queryTask(worker, idList(args['ids']));
    case 'revoke':
    case 'terminate': {
      // `celery control terminate SIGNAL ID…` sends method "terminate": a revoke that terminates.
      const ids = idList(args['task_id']);
      const terminate = request.method === 'terminate' || pythonTruthy(args['terminate']);
      worker.revoke(ids, terminate, args['signal']);
      return ok(terminate ? `terminate: ${ids.join(', ')}` : `tasks ${ids.join(', ')} flagged as revoked`);
    }
    case 'rate_limit':
      return retune(worker, args, () => {
        const rate = args['rate_limit'];
        if (rate !== null && rate !== undefined && rate !== 0 && rate !== '0') parseRate(rate as string | number);
        return { rateLimit: rate === null || rate === 0 || rate === '0' ? undefined : (rate as string | number) };
      }, 'new rate limit set successfully');
    case 'time_limit':
      return retune(worker, args, () => ({ softTimeLimit: seconds(args['soft']), timeLimit: seconds(args['hard']) }), 'time limits set successfully');
    case 'enable_events':
      if (worker.eventsEnabled()) return ok('task events already enabled');
      worker.setEvents(true);
      return ok('task events enabled');
    case 'disable_events':
      if (!worker.eventsEnabled()) return ok('task events already disabled');
      worker.setEvents(false);
      return ok('task events disabled');
    case 'heartbeat':
      worker.sendHeartbeat();
      return null;
    case 'shutdown':
      worker.shutdown();
      return noReply;
    case 'add_consumer': {
      const queue = String(args['queue']);
      return worker.addQueue(queue) ? ok(`add consumer ${queue}`) : ok(`already consuming from ${queue}`);
    }
    case pauseChangedCommand:
      worker.checkPauses();
      return noReply;
    case 'cancel_consumer': {
      const queue = String(args['queue']);
      return worker.cancelQueue(queue) ? ok(`no longer consuming from ${queue}`) : nok(`not consuming from ${queue}`);
    }
    case 'pool_grow':
    case 'pool_shrink': {
      const n = typeof args['n'] === 'number' ? args['n'] : 1;
      const size = request.method === 'pool_grow' ? worker.concurrency() + n : worker.concurrency() - n;
      if (size < 1) return nok('pool cannot shrink below one executor');
      if (!worker.resizePool(size)) return nok(`${request.method} needs the async pool: thread and process pools keep the size they started with`);
      return ok(`pool will ${request.method === 'pool_grow' ? 'grow' : 'shrink'}`);
    }
    case 'autoscale':
    case 'pool_restart':
      return nok(`${request.method} is not supported by tq workers`);
    default:
      // What kombu's Node answers for a method it has no handler for.
      return nok(`KeyError('${request.method}')`);
  }
}

/** Python's truth, as Celery tests its arguments: Flower sends terminate=1, not true. */
function pythonTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

function idList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function seconds(value: unknown): number | undefined {
  return typeof value === 'number' && value > 0 ? value : undefined;
}

function retune(worker: ControlledWorker, args: Readonly<Record<string, unknown>>, options: () => Record<string, unknown>, done: string): Answer {
  const name = String(args['task_name']);
  if (!worker.app.tasks.has(name)) return nok(`unknown task ${name}`);
  let changes: Record<string, unknown>;
  try {
    changes = options();
  } catch (error) {
    return nok(`Invalid rate limit string: ${(error as Error).message}`);
  }
  worker.app.retuneTask(name, changes);
  return ok(done);
}

/** Celery's Request.info(): what inspect active/reserved/scheduled report per task. */
function requestInfo(task: HeldTask, worker: ControlledWorker): Record<string, unknown> {
  const r = task.request;
  return {
    id: r.id,
    name: r.task,
    args: r.args,
    kwargs: r.kwargs,
    type: r.task,
    hostname: worker.hostname,
    time_start: task.startedAt === null ? null : task.startedAt / 1000,
    acknowledged: false,
    delivery_info: { exchange: '', routing_key: task.queue, priority: task.priority, redelivered: task.redelivered },
    worker_pid: task.startedAt === null ? null : process.pid,
  };
}

function queryTask(worker: ControlledWorker, ids: readonly string[]): Record<string, unknown> {
  const wanted = new Set(ids);
  const found: Record<string, unknown> = {};
  const report = (state: string, tasks: readonly HeldTask[]) => {
    for (const task of tasks) if (wanted.has(task.request.id)) found[task.request.id] = [state, requestInfo(task, worker)];
  };
  report('active', worker.running());
  report('reserved', worker.reserved());
  report('scheduled', worker.scheduled());
  return found;
}

/** kombu's Queue.as_dict() for a queue tq consumes (the default exchange, routed by name). */
function queueInfo(name: string): Record<string, unknown> {
  return {
    name,
    exchange: { name, type: 'direct', arguments: null, durable: true, passive: false, auto_delete: false, delivery_mode: null, no_declare: false },
    routing_key: name,
    queue_arguments: null,
    binding_arguments: null,
    consumer_arguments: null,
    durable: true,
    exclusive: false,
    auto_delete: false,
    no_ack: false,
    alias: null,
    bindings: [],
    no_declare: null,
    expires: null,
    message_ttl: null,
    max_length: null,
    max_length_bytes: null,
    max_priority: null,
  };
}

/** Whether a broker URL asks for TLS: a TLS scheme (rediss, amqps, NATS's tls) or ssl=true / tls=true in its query. */
function usesTls(url: URL): boolean {
  if (['rediss:', 'amqps:', 'tls:'].includes(url.protocol)) return true;
  return url.searchParams.get('ssl') === 'true' || url.searchParams.get('tls') === 'true';
}

function brokerInfo(worker: ControlledWorker): Record<string, unknown> {
  const configured = worker.app.config.broker;
  if (typeof configured !== 'string') return { transport: 'custom' };
  try {
    const url = new URL(configured);
    return {
      hostname: url.hostname || null,
      userid: url.username ? decodeURIComponent(url.username) : null,
      virtual_host: decodeURIComponent(url.pathname.slice(1)) || '/',
      port: url.port ? Number(url.port) : null,
      insist: false,
      ssl: usesTls(url),
      transport: url.protocol.slice(0, -1),
      connect_timeout: 4,
      transport_options: {},
      login_method: null,
      uri_prefix: null,
      heartbeat: 0,
      failover_strategy: 'round-robin',
      alternates: [],
    };
  } catch {
    return { transport: 'unknown' };
  }
}

/** Celery's `inspect stats`, field for field where tq has the figure (Flower reads these). */
function stats(worker: ControlledWorker): Record<string, unknown> {
  const usage = process.resourceUsage();
  return {
    total: Object.fromEntries(worker.totals),
    pid: process.pid,
    clock: '0',
    uptime: Math.round((Date.now() - worker.startedAt) / 1000),
    pool: {
      'max-concurrency': worker.concurrency(),
      processes: [process.pid],
      'max-tasks-per-child': 'N/A',
      'put-guarded-by-semaphore': false,
      timeouts: [0, 0],
      implementation: `tq:${worker.poolKind}`,
    },
    broker: brokerInfo(worker),
    prefetch_count: worker.prefetch(),
    rusage: {
      utime: usage.userCPUTime / 1e6,
      stime: usage.systemCPUTime / 1e6,
      maxrss: usage.maxRSS,
      ixrss: usage.sharedMemorySize,
      idrss: usage.unsharedDataSize,
      isrss: usage.unsharedStackSize,
      minflt: usage.minorPageFault,
      majflt: usage.majorPageFault,
      nswap: usage.swappedOut,
      inblock: usage.fsRead,
      oublock: usage.fsWrite,
      msgsnd: usage.ipcSent,
      msgrcv: usage.ipcReceived,
      nsignals: usage.signalsCount,
      nvcsw: usage.voluntaryContextSwitches,
      nivcsw: usage.involuntaryContextSwitches,
    },
    sw_ident: 'tq',
  };
}

/** The settings Celery's `inspect conf` would list for a tq worker, in Celery's names. */
function conf(worker: ControlledWorker): Record<string, unknown> {
  const config = worker.app.config;
  const url = (value: unknown) => (typeof value === 'string' ? redactUrl(value) : value === null ? null : 'custom');
  return {
    broker_url: url(config.broker),
    result_backend: url(config.resultBackend),
    task_default_queue: config.defaultQueue,
    worker_concurrency: worker.concurrency(),
    worker_prefetch_multiplier: worker.prefetch() / worker.concurrency(),
    include: [],
  };
}
