import { randomUUID } from 'node:crypto';
import type { App } from '../app.js';
import { UnsupportedError } from '../errors.js';
import { recordRevokedUnlessFinished } from './revoke-record.js';
import { decodePidboxReply, encodePidbox, mailboxChannel, replyChannel, requestRoute, type ControlReply, type PidboxRequest } from './pidbox.js';

/** What `inspect` can ask, Celery's names. */
export type InspectWhat = 'active' | 'reserved' | 'scheduled' | 'registered' | 'stats' | 'active_queues' | 'revoked' | 'conf' | 'query_task' | 'clock';

export interface BroadcastOptions {
  /** How long to collect replies. Default 1000 ms (Celery's). */
  readonly timeoutMs?: number;
  /** Only these workers answer (and act). */
  readonly destination?: readonly string[];
  /** Stop collecting after this many replies. */
  readonly limit?: number;
  /** Wait for replies (default); false sends and returns at once, as Celery's reply=False. */
  readonly reply?: boolean;
}

/**
 * How long a caller waits for its reply queue before asking: subscriptions have no "ready"
 * signal, and a reply sent before the queue is bound is dropped (as kombu drops it).
 */
const bindGraceMs = 100;

/**
 * app.control: revoke tasks and question workers, as Celery's app.control, over Celery's pidbox,
 * so the same calls reach tq and Python Celery workers alike.
 */
export class Control {
  readonly #app: App;
  #clock = 0;

  constructor(app: App) {
    this.#app = app;
  }

  /**
   * Revoke tasks: workers skip them when they arrive; with terminate, running ones are aborted
   * (their executor is terminated in the thread and process pools). Also records REVOKED in the
   * result backend, which workers without a broadcast bus check before running a task, unless
   * the task has already finished: a finished task's record is never replaced.
   */
  async revoke(taskIds: string | readonly string[], options: { terminate?: boolean; signal?: string } = {}): Promise<void> {
    const ids = typeof taskIds === 'string' ? [taskIds] : [...taskIds];
    const bus = await this.#app.broadcastBus();
    if (bus) {
      const taskId = ids.length === 1 ? ids[0]! : ids;
      await this.broadcast('revoke', { task_id: taskId, terminate: options.terminate ?? false, signal: options.signal ?? 'SIGTERM' }, { reply: false });
    }
    const backend = await this.#app.backend();
    if (backend) {
      for (const id of ids) await recordRevokedUnlessFinished(backend, id, this.#app.config.resultTtlMs);
    }
  }

  /** Sends `method` to every worker (or `destination`) and returns the replies that arrive within `timeoutMs`. */
  async broadcast(method: string, args: Record<string, unknown> = {}, options: BroadcastOptions = {}): Promise<ControlReply[]> {
    const bus = await this.#app.broadcastBus();
    if (!bus) {
      throw new UnsupportedError(
        'neither the broker nor the result backend has a broadcast channel: remote control needs a redis, amqp, nats or memory broker, or a redis result backend',
      );
    }
    const timeoutMs = options.timeoutMs ?? 1000;
    const request = (extra: Partial<PidboxRequest>): PidboxRequest => ({
      method,
      arguments: args,
      destination: options.destination ? [...options.destination] : null,
      pattern: null,
      matcher: null,
      ...extra,
    });
    if (options.reply === false) {
      await bus.broadcast(mailboxChannel, encodePidbox(request({})), requestRoute(++this.#clock, timeoutMs));
      return [];
    }
    // A reply queue per call: every reply on it answers this request.
    const oid = randomUUID();
    const controller = new AbortController();
    const replies: ControlReply[] = [];
    const limit = options.limit ?? options.destination?.length;
    const iterator = bus.subscribe(replyChannel, controller.signal, { kind: 'direct', pattern: oid, queue: `${oid}.${replyChannel}` })[Symbol.asyncIterator]();
    const first = iterator.next(); // subscribe before asking
    await new Promise((resolve) => setTimeout(resolve, bindGraceMs));
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      await bus.broadcast(
        mailboxChannel,
        encodePidbox(request({ ticket: randomUUID(), reply_to: { exchange: replyChannel, routing_key: oid } })),
        requestRoute(++this.#clock, timeoutMs),
      );
      for (let next = await first; !next.done; next = await iterator.next()) {
        replies.push(...decodePidboxReply(next.value));
        if (limit !== undefined && replies.length >= limit) break;
      }
    } finally {
      clearTimeout(timer);
      controller.abort();
      await iterator.return?.();
    }
    return replies;
  }

  ping(options: BroadcastOptions = {}): Promise<ControlReply[]> {
    return this.broadcast('ping', {}, options);
  }

  /** Celery's inspect: `active`, `registered`, `stats`, … (`query_task` takes `{ ids }`). */
  inspect(what: InspectWhat, options: BroadcastOptions & { arguments?: Record<string, unknown> } = {}): Promise<ControlReply[]> {
    return this.broadcast(what, options.arguments ?? {}, options);
  }
}
