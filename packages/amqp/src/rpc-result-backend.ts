import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  ClosedError,
  DeliveryBuffer,
  safeJsonParse,
  type ResultBackend,
  type ResultBackendCapabilities,
  type StoreOptions,
  withDeadline,
} from '@tq/core/adapter';
import { AmqpSession } from './amqp-session.js';
import { ConfirmPublisher } from './confirm-publisher.js';
import { ResultQueues } from './result-queues.js';
import { toTqError } from './errors.js';
import type { AmqpOptions } from './options.js';

/** How many task records a client keeps (Celery's rpc backend buffers 8192 out-of-band replies). */
const maxRecords = 10_000;
const retryDelayMs = 200;
/** How long a reply queue outlives its client's connection (its replies wait there meanwhile). */
const replyQueueExpiresMs = 10 * 60_000;
/**
 * How often watch() looks at the shared result queue of its task: from 200 ms, doubling to
 * 5 s while the queue does not exist (the usual case for tasks whose replies come pushed).
 */
const watchPollMs = 200;
const watchPollMaxMs = 5_000;

interface LocalRecord {
  readonly bytes: Uint8Array;
  readonly expiresAt: number | null;
}

interface Watcher {
  readonly buffer: DeliveryBuffer<Uint8Array>;
  last: Uint8Array | undefined;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * Celery's rpc:// result backend (celery/backends/rpc.py). Each client declares one reply
 * queue, named by a random UUID, non-durable, auto-deleted, with x-expires (Celery's
 * declaration); producers put that name in reply_to. A worker's store() publishes the
 * record to the task's reply_to through the default exchange with correlation_id = the
 * task id, transient, as Celery's worker does. The client consumes its reply queue and keeps
 * the latest record per task id in memory.
 *
 * Limits (as in Celery): a result is readable only by the client that sent the task, and only
 * while it runs.
 *
 * Beyond Celery: a reply whose reply queue does not exist (its client is disconnected, and
 * the auto-delete queue went with it) is returned by RabbitMQ (published mandatory) and kept
 * in the task's result queue instead (see below), which the client reads when it is back;
 * Celery drops it.
 *
 * Beyond Celery: a store() without reply_to, which Celery's rpc backend drops, goes to a
 * per-task result queue any client can read (see ResultQueues), so records written without a
 * reply address (a worker serving a producer that sent none, progress reports) are not lost.
 */
export class RpcResultBackend implements ResultBackend {
  readonly capabilities: ResultBackendCapabilities = { watch: true, expiry: true };
  readonly #options: AmqpOptions;
  readonly #session: AmqpSession;
  readonly #replyQueue = randomUUID();
  readonly #records = new Map<string, LocalRecord>();
  readonly #watchers = new Map<string, Set<Watcher>>();
  readonly #publisher = new ConfirmPublisher();
  readonly #resultQueues: ResultQueues;
  #replyChannel: Channel | undefined;

  constructor(options: AmqpOptions) {
    this.#options = options;
    this.#session = new AmqpSession(options, 'rpc result backend', { backend: true });
    this.#resultQueues = new ResultQueues(this.#publisher, options.resultExpiresMs);
  }

  get endpoint(): string {
    return this.#session.endpoint;
  }

  async connect(options?: { signal?: AbortSignal }): Promise<void> {
    await this.#session.connect(options?.signal);
    const connection = this.#session.connection;
    if (!connection) throw new ClosedError('rpc result backend');
    if (this.#replyChannel) return;
    try {
      await this.#attachReplyConsumer(connection);
    } catch (error) {
      // The connection stays: core's guard calls connect() again, which retries the attach.
      throw toTqError(error, this.#session.endpoint, `declare reply queue "${this.#replyQueue}"`, { backend: true });
    }
  }

  /** The reply queue's name: what producers put in reply_to. */
  async replyAddress(): Promise<string> {
    return this.#replyQueue;
  }

  async #attachReplyConsumer(connection: ChannelModel): Promise<void> {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      // Not auto-deleted (Celery's is): a cut that RabbitMQ has not noticed yet would otherwise
      // take the queue, and the replies routed to it meanwhile, with the dead consumer. It
      // outlives the connection by replyQueueExpiresMs, so this process finds its replies on
      // reconnecting; close() deletes it.
      await channel.assertQueue(this.#replyQueue, {
        durable: false,
        autoDelete: false,
        exclusive: false,
        arguments: { 'x-expires': Math.min(this.#options.resultExpiresMs, replyQueueExpiresMs) },
      });
      // Acked (Celery's consumer is no_ack): a reply in flight on a dead connection is requeued.
      await channel.consume(this.#replyQueue, (message) => this.#onReply(channel, message), { noAck: false });
    } catch (error) {
      await channel.close().catch(() => undefined);
      throw error;
    }
    this.#replyChannel = channel;
    channel.on('close', () => {
      if (this.#replyChannel !== channel) return;
      this.#replyChannel = undefined;
      void this.#recoverReplyConsumer();
    });
  }

  /** After a lost connection: re-declare the (auto-deleted) reply queue under the same name. */
  async #recoverReplyConsumer(): Promise<void> {
    while (!this.#session.closed) {
      let connection: ChannelModel;
      try {
        connection = await this.#session.whenOpen();
      } catch {
        return;
      }
      try {
        await this.#attachReplyConsumer(connection);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      }
    }
  }

  #onReply(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // Consumer cancelled (queue deleted): closing the channel triggers recovery.
      void this.#replyChannel?.close().catch(() => undefined);
      return;
    }
    channel.ack(message);
    let taskId = message.properties.correlationId as unknown;
    if (typeof taskId !== 'string') {
      // Old Celery versions set no correlation_id: read the task id from the payload.
      const decoded = safeJsonParse(message.content.toString('utf8')) as { task_id?: unknown } | undefined;
      taskId = decoded?.task_id;
    }
    if (typeof taskId === 'string') this.#remember(taskId, new Uint8Array(message.content), null);
  }

  #remember(taskId: string, bytes: Uint8Array, ttlMs: number | null): void {
    this.#records.delete(taskId);
    this.#records.set(taskId, { bytes, expiresAt: ttlMs !== null && ttlMs > 0 ? Date.now() + ttlMs : null });
    if (this.#records.size > maxRecords) {
      const oldest = this.#records.keys().next().value;
      if (oldest !== undefined) this.#records.delete(oldest);
    }
    for (const watcher of this.#watchers.get(taskId) ?? []) this.#offer(watcher, bytes);
  }

  #local(taskId: string): Uint8Array | null {
    const entry = this.#records.get(taskId);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.#records.delete(taskId);
      return null;
    }
    return entry.bytes;
  }

  #offer(watcher: Watcher, bytes: Uint8Array): void {
    if (sameBytes(watcher.last, bytes)) return;
    watcher.last = bytes;
    watcher.buffer.push(bytes);
  }

  async store(taskId: string, record: Uint8Array, options: StoreOptions): Promise<void> {
    if (this.#session.closed) throw new ClosedError('rpc result backend');
    const replyTo = options.replyTo;
    const ttlMs = options.ttlMs ?? this.#options.resultExpiresMs;
    if (replyTo === this.#replyQueue) {
      // A reply to ourselves (worker and producer in one app): no round trip needed.
      this.#remember(taskId, new Uint8Array(record), ttlMs);
      return;
    }
    try {
      const connection = await this.#session.whenOpen(this.#options.connectTimeoutMs);
      if (replyTo === undefined || replyTo === '') {
        await this.#resultQueues.store(connection, taskId, record, ttlMs);
        return;
      }
      const routed = await this.#publisher.publishMandatory(connection, '', replyTo, record, {
        correlationId: options.correlationId ?? taskId,
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        // Celery's result_persistent defaults to False: results are transient.
        deliveryMode: 1,
      });
      // No reply queue (its client is disconnected, so the auto-delete queue is gone): RabbitMQ
      // would drop the reply. Keep it in the task's result queue instead, which the client
      // reads (fetch, and watch's poll) once it is back.
      if (routed === 'returned') await this.#resultQueues.store(connection, taskId, record, ttlMs);
    } catch (error) {
      throw toTqError(error, this.#session.endpoint, `store the result of task ${taskId}`, { backend: true });
    }
  }

  async fetch(taskId: string): Promise<Uint8Array | null> {
    if (this.#session.closed) throw new ClosedError('rpc result backend');
    const local = this.#local(taskId);
    if (local) return local;
    try {
      const connection = await this.#session.whenOpen(this.#options.connectTimeoutMs);
      return await this.#resultQueues.fetch(connection, taskId);
    } catch (error) {
      throw toTqError(error, this.#session.endpoint, `fetch the result of task ${taskId}`, { backend: true });
    }
  }

  /** Replies are pushed as they arrive; the shared result queue is polled (200 ms → 5 s backoff). */
  watch(taskId: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    if (this.#session.closed) throw new ClosedError('rpc result backend');
    const watchers = this.#watchers.get(taskId) ?? new Set<Watcher>();
    this.#watchers.set(taskId, watchers);
    const watcher: Watcher = {
      last: undefined,
      buffer: new DeliveryBuffer<Uint8Array>({
        signal,
        onClose: () => {
          watchers.delete(watcher);
          if (watchers.size === 0 && this.#watchers.get(taskId) === watchers) this.#watchers.delete(taskId);
        },
      }),
    };
    watchers.add(watcher);
    const current = this.#local(taskId);
    if (current) this.#offer(watcher, current);
    void this.#pollResultQueue(taskId, watcher);
    return watcher.buffer;
  }

  async #pollResultQueue(taskId: string, watcher: Watcher): Promise<void> {
    let delay = watchPollMs;
    while (!watcher.buffer.ended && !this.#session.closed) {
      const connection = this.#session.connection;
      const shared = connection ? await this.#resultQueues.fetch(connection, taskId).catch(() => null) : null;
      if (shared && !watcher.buffer.ended) this.#offer(watcher, shared);
      delay = shared ? watchPollMs : Math.min(watchPollMaxMs, delay * 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  async forget(taskId: string): Promise<void> {
    this.#records.delete(taskId);
    try {
      const connection = await this.#session.whenOpen(this.#options.connectTimeoutMs);
      await this.#resultQueues.forget(connection, taskId);
    } catch (error) {
      throw toTqError(error, this.#session.endpoint, `forget the result of task ${taskId}`, { backend: true });
    }
  }

  async close(): Promise<void> {
    for (const watchers of this.#watchers.values()) for (const watcher of watchers) watcher.buffer.end();
    this.#watchers.clear();
    // Not auto-deleted (see #attachReplyConsumer): remove it now rather than at its expiry.
    const channel = this.#replyChannel;
    this.#replyChannel = undefined;
    if (channel) await withDeadline(channel.deleteQueue(this.#replyQueue).then(() => undefined), this.#options.confirmTimeoutMs, () => undefined).catch(() => undefined);
    await this.#session.close();
  }
}
